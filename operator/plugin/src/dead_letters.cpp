// Dead-letter entries and their replay (see dead_letters.h for the contract).
#include "shoal/plugin/dead_letters.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "shoal/api/meta.h"
#include "shoal/stream/shards.h"

namespace shoal::plugin {

namespace {

constexpr const char* kWorkerFields[] = {"shoal.reason", "shoal.original_id", "shoal.stream",
                                         "shoal.group", "shoal.deliveries"};

// Atomic move of one entry: KEYS[1] dead-letter stream, KEYS[2] source
// stream, ARGV[1] the id. Missing id: nothing happens. The five worker
// fields are dropped; the rest keep their order.
constexpr const char* kReplayScript = R"lua(
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return {'missing'} end
local skip = {['shoal.reason']=true, ['shoal.original_id']=true, ['shoal.stream']=true,
              ['shoal.group']=true, ['shoal.deliveries']=true}
local f = e[1][2]
local args = {KEYS[2], '*'}
for i = 1, #f, 2 do
  if not skip[f[i]] then
    args[#args + 1] = f[i]
    args[#args + 1] = f[i + 1]
  end
end
if #args == 2 then return {'nofields'} end
local id = redis.call('XADD', unpack(args))
redis.call('XDEL', KEYS[1], ARGV[1])
return {'replayed', id}
)lua";

Result<std::vector<DeadLetter>> decodeAll(const redis::Reply& r) {
  auto entries = redis::decodeEntries(r);
  if (!entries.ok()) return entries.error();
  std::vector<DeadLetter> out;
  out.reserve(entries.value().size());
  for (const auto& e : entries.value()) out.push_back(deadLetterOf(e));
  return out;
}

// One command about `key`, error replies as errors.
Result<redis::Reply> call(redis::KeyedClient& c, const std::string& key, const redis::Command& cmd) {
  auto r = c.on(key, [&](redis::Client& node) { return node.command(cmd); });
  if (!r.ok()) return r.error();
  return redis::Reply::orServerError(std::move(r.value()));
}

bool belongsElsewhere(const DeadLetter& d, const DeadLetterSource& src) {
  return (!d.stream.empty() && !src.holdsStream(d.stream)) ||
         (!d.group.empty() && d.group != src.group);
}

// What entries go back to: the stream, or a shared dead-letter stream's shards.
std::string targetsText(const DeadLetterSource& src) {
  return src.streams.size() > 1 ? "the shards of " + src.stream : src.stream;
}

// The stream an item goes back to (the source's own when the plan named none).
const std::string& targetOf(const ReplayItem& it, const DeadLetterSource& src) {
  return it.target.empty() ? src.stream : it.target;
}

std::string fieldsText(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string s;
  for (const auto& [k, v] : fields) {
    if (!s.empty()) s += " ";
    s += k + "=" + v;
  }
  return s;
}

}  // namespace

bool DeadLetterSource::holdsStream(const std::string& s) const {
  if (streams.empty()) return s == stream;
  return std::find(streams.begin(), streams.end(), s) != streams.end();
}

std::vector<DeadLetterSource> deadLetterSourcesOf(const Json& spec) {
  const Json& redis = api::objectAt(api::objectAt(spec, "source"), "redis");
  const std::string stream = api::stringAt(redis, "stream");
  const std::string group = api::stringAt(redis, "consumerGroup", "shoal");
  std::string dead = api::stringAt(redis, "deadLetterStream");
  if (dead.empty()) dead = stream + ":dead";
  const Json& shardsField = redis.contains("shards") ? redis["shards"] : Json();
  const int32_t shards = shardsField.is_number_integer() ? shardsField.get<int32_t>() : 1;
  if (shards <= 1) return {DeadLetterSource{stream, group, dead}};
  const std::vector<std::string> streams = shardStreams(stream, shards);
  if (shardDeadLetterStream(stream, dead, shards, 0) == dead) {  // shared by every shard
    return {DeadLetterSource{stream, group, dead, streams}};
  }
  std::vector<DeadLetterSource> out;
  for (int32_t i = 0; i < shards; ++i) {
    const std::string& s = streams[static_cast<size_t>(i)];
    out.push_back(DeadLetterSource{s, group, shardDeadLetterStream(stream, dead, shards, i)});
  }
  return out;
}

bool isDeadLetterField(const std::string& field) {
  return std::find(std::begin(kWorkerFields), std::end(kWorkerFields), field) !=
         std::end(kWorkerFields);
}

DeadLetter deadLetterOf(const StreamEntry& e) {
  DeadLetter d;
  d.id = e.id;
  for (const auto& [k, v] : e.fields) {
    if (!isDeadLetterField(k)) {
      d.fields.emplace_back(k, v);
    } else if (k == "shoal.reason") {
      d.reason = v;
    } else if (k == "shoal.original_id") {
      d.originalId = v;
    } else if (k == "shoal.stream") {
      d.stream = v;
    } else if (k == "shoal.group") {
      d.group = v;
    } else {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && p == v.data() + v.size()) d.deliveries = n;
    }
  }
  return d;
}

std::optional<int64_t> idMillis(const std::string& id) {
  const size_t dash = id.find('-');
  const std::string ms = id.substr(0, dash);
  int64_t n = 0;
  auto [p, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), n);
  if (ms.empty() || ec != std::errc() || p != ms.data() + ms.size()) return std::nullopt;
  return n;
}

std::string formatDeadLetters(const std::vector<DeadLetter>& entries, WallTime now) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "AGE", "ORIGINAL ID", "DELIVERIES", "REASON", "FIELDS"}};
  const auto nowMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  for (const auto& d : entries) {
    auto ms = idMillis(d.id);
    std::string reason = d.reason.empty() ? "-" : d.reason;
    rows.push_back({d.id, ms ? humanDuration((nowMs - *ms) / 1000.0) : "-",
                    d.originalId.empty() ? "-" : d.originalId,
                    d.deliveries ? std::to_string(*d.deliveries) : "-", truncated(reason, 80),
                    truncated(fieldsText(d.fields), 60)});
  }
  return formatTable(rows);
}

Json deadLettersDocument(const DeadLetterSource& src, int64_t length,
                         const std::vector<DeadLetter>& entries) {
  Json items = Json::array();
  for (const auto& d : entries) {
    Json fields = Json::array();
    for (const auto& [k, v] : d.fields) fields.push_back({{"name", k}, {"value", v}});
    items.push_back({{"id", d.id},
                     {"reason", d.reason},
                     {"originalId", d.originalId},
                     {"stream", d.stream},
                     {"group", d.group},
                     {"deliveries", d.deliveries ? Json(*d.deliveries) : Json()},
                     {"fields", fields}});
  }
  return {{"stream", src.stream},
          {"consumerGroup", src.group},
          {"deadLetterStream", src.deadLetterStream},
          {"length", length},
          {"entries", items}};
}

const char* outcomeName(ReplayItem::Outcome o) {
  switch (o) {
    case ReplayItem::Outcome::kReplay:
      return "WouldReplay";
    case ReplayItem::Outcome::kReplayed:
      return "Replayed";
    case ReplayItem::Outcome::kMissing:
      return "NotInDeadLetterStream";
    case ReplayItem::Outcome::kOtherPipeline:
      return "OtherPipeline";
    case ReplayItem::Outcome::kNoFields:
      return "NoFields";
    case ReplayItem::Outcome::kFailed:
      return "Failed";
  }
  return "Failed";
}

std::vector<ReplayItem> planReplay(const std::vector<DeadLetter>& present,
                                   const std::vector<std::string>& ids, bool all,
                                   const DeadLetterSource& src) {
  std::vector<ReplayItem> out;
  auto judge = [&](const DeadLetter& d) {
    ReplayItem it;
    it.id = d.id;
    it.target = d.stream.empty() ? src.stream : d.stream;
    if (belongsElsewhere(d, src)) {
      it.outcome = ReplayItem::Outcome::kOtherPipeline;
      it.note = "dead-lettered from stream " + d.stream + " by group " + d.group;
    } else if (d.fields.empty()) {
      it.outcome = ReplayItem::Outcome::kNoFields;
      it.note = "the entry has no fields of its own to replay";
    }
    return it;
  };
  if (all) {
    for (const auto& d : present) out.push_back(judge(d));
    return out;
  }
  std::set<std::string> done;
  for (const auto& id : ids) {
    if (!done.insert(id).second) continue;
    auto it = std::find_if(present.begin(), present.end(),
                           [&](const DeadLetter& d) { return d.id == id; });
    if (it == present.end()) {
      ReplayItem m;
      m.id = id;
      m.outcome = ReplayItem::Outcome::kMissing;
      m.note = "not in " + src.deadLetterStream + " (already replayed, or never there)";
      out.push_back(std::move(m));
    } else {
      out.push_back(judge(*it));
    }
  }
  return out;
}

std::string formatReplay(const std::vector<ReplayItem>& items, const DeadLetterSource& src,
                         bool dryRun) {
  if (items.empty()) {
    return "nothing to replay: " + src.deadLetterStream + " holds no entries of this Pipeline\n";
  }
  std::string out;
  size_t moved = 0, planned = 0, left = 0, failed = 0;
  for (const auto& it : items) {
    switch (it.outcome) {
      case ReplayItem::Outcome::kReplay:
        ++planned;
        out += (dryRun ? "would replay " : "not replayed ") + it.id + " -> " + targetOf(it, src) + "\n";
        break;
      case ReplayItem::Outcome::kReplayed:
        ++moved;
        out += "replayed " + it.id + " -> " + targetOf(it, src) + " " + it.newId + "\n";
        break;
      case ReplayItem::Outcome::kFailed:
        ++failed;
        out += "failed " + it.id + ": " + it.note + "\n";
        break;
      default:
        ++left;
        out += "skipped " + it.id + ": " + it.note + "\n";
        break;
    }
  }
  if (dryRun) {
    out += "dry run: " + std::to_string(planned) + " of " + std::to_string(items.size()) +
           " entries would move from " + src.deadLetterStream + " to " + targetsText(src) +
           "; nothing changed\n";
  } else {
    out += std::to_string(moved) + " replayed from " + src.deadLetterStream + " to " + targetsText(src) +
           ", " + std::to_string(left) + " skipped" +
           (failed ? ", " + std::to_string(failed) + " failed" : std::string()) + "\n";
  }
  return out;
}

Json replayDocument(const std::vector<ReplayItem>& items, const DeadLetterSource& src,
                    bool dryRun) {
  Json arr = Json::array();
  for (const auto& it : items) {
    Json j = {{"id", it.id}, {"outcome", outcomeName(it.outcome)}};
    if (!it.target.empty()) j["target"] = it.target;
    if (!it.newId.empty()) j["newId"] = it.newId;
    if (!it.note.empty()) j["note"] = it.note;
    arr.push_back(std::move(j));
  }
  return {{"stream", src.stream},
          {"deadLetterStream", src.deadLetterStream},
          {"dryRun", dryRun},
          {"items", arr}};
}

Result<int64_t> deadLetterLength(redis::KeyedClient& c, const DeadLetterSource& src) {
  auto r = call(c, src.deadLetterStream, {"XLEN", src.deadLetterStream});
  if (!r.ok()) return r.error();
  if (r.value().kind != redis::Reply::Kind::kInteger) {
    return makeError(Errc::kProtocol, "XLEN: not an integer");
  }
  return r.value().integer;
}

Result<std::vector<DeadLetter>> readDeadLetters(redis::KeyedClient& c, const DeadLetterSource& src,
                                                int64_t tail) {
  if (tail >= 0) {
    if (tail == 0) return std::vector<DeadLetter>{};
    auto r = call(c, src.deadLetterStream, {"XREVRANGE", src.deadLetterStream, "+", "-", "COUNT", std::to_string(tail)});
    if (!r.ok()) return r.error();
    auto out = decodeAll(r.value());
    if (out.ok()) std::reverse(out.value().begin(), out.value().end());
    return out;
  }
  std::vector<DeadLetter> all;
  std::string start = "-";
  constexpr int64_t kPage = 500;
  while (true) {
    auto r = call(c, src.deadLetterStream, {"XRANGE", src.deadLetterStream, start, "+", "COUNT", std::to_string(kPage)});
    if (!r.ok()) return r.error();
    auto page = decodeAll(r.value());
    if (!page.ok()) return page.error();
    if (page.value().empty()) break;
    start = "(" + page.value().back().id;
    const bool last = static_cast<int64_t>(page.value().size()) < kPage;
    for (auto& d : page.value()) all.push_back(std::move(d));
    if (last) break;
  }
  return all;
}

Result<std::vector<DeadLetter>> readDeadLettersById(redis::KeyedClient& c, const DeadLetterSource& src,
                                                    const std::vector<std::string>& ids) {
  std::vector<redis::Command> cmds;
  for (const auto& id : ids) cmds.push_back({"XRANGE", src.deadLetterStream, id, id});
  std::vector<DeadLetter> out;
  if (cmds.empty()) return out;
  auto replies = c.pipeline(src.deadLetterStream, cmds);
  if (!replies.ok()) return replies.error();
  for (size_t i = 0; i < replies.value().size(); ++i) {
    const redis::Reply& r = replies.value()[i];
    if (r.isError()) {
      // An id Redis cannot parse is simply not there.
      if (r.str.find("Invalid stream ID") != std::string::npos) continue;
      return makeError(Errc::kServer, "XRANGE " + ids[i] + ": " + r.str);
    }
    auto got = decodeAll(r);
    if (!got.ok()) return got.error();
    for (auto& d : got.value()) out.push_back(std::move(d));
  }
  return out;
}

Result<void> executeReplay(redis::KeyedClient& c, const DeadLetterSource& src,
                           std::vector<ReplayItem>& items) {
  for (auto& it : items) {
    if (it.outcome != ReplayItem::Outcome::kReplay) continue;
    const std::string& target = targetOf(it, src);
    auto r = c.on(src.deadLetterStream, [&](redis::Client& node) {
      return node.command({"EVAL", kReplayScript, "2", src.deadLetterStream, target, it.id});
    });
    if (!r.ok()) return r.error();
    const redis::Reply& rep = r.value();
    if (rep.isError()) {
      it.outcome = ReplayItem::Outcome::kFailed;
      it.note = rep.str;
      continue;
    }
    const std::string what =
        rep.isArray() && !rep.elements.empty() ? rep.elements[0].str : std::string();
    if (what == "replayed" && rep.elements.size() >= 2) {
      it.outcome = ReplayItem::Outcome::kReplayed;
      it.newId = rep.elements[1].str;
    } else if (what == "missing") {
      it.outcome = ReplayItem::Outcome::kMissing;
      it.note = "no longer in " + src.deadLetterStream + " (replayed meanwhile)";
    } else if (what == "nofields") {
      it.outcome = ReplayItem::Outcome::kNoFields;
      it.note = "the entry has no fields of its own to replay";
    } else {
      it.outcome = ReplayItem::Outcome::kFailed;
      it.note = "unexpected reply from the replay script";
    }
  }
  return {};
}

}  // namespace shoal::plugin
