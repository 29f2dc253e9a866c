// Client: reconnection with jittered backoff, and the stream commands with
// their replies decoded into typed results.
#include "shoal/redis/client.h"

#include <charconv>
#include <unordered_map>

namespace shoal::redis {
namespace {

Error protocolError(const std::string& what) { return makeError(Errc::kProtocol, "redis reply: " + what); }

Error serverError(const Reply& r) {
  if (r.str.find("no such key") != std::string::npos || r.str.starts_with("NOGROUP"))
    return makeError(Errc::kNotFound, "redis: " + r.str);
  return makeError(Errc::kServer, "redis: " + r.str);
}

std::optional<int64_t> asInt(const Reply& r) { return r.asInt(); }

// Strings out of a reply: copied from a const reply, moved out of one we own.
std::string takeString(const std::string& s) { return s; }
std::string takeString(std::string& s) { return std::move(s); }

// Decodes [id, [f, v, ...]] into an entry; nil fields (deleted) -> no fields.
// R is `const Reply` (copies) or `Reply` (the caller owns it: moves).
template <typename R>
Result<StreamEntry> decodeEntry(R& r) {
  if (!r.isArray() || r.elements.size() != 2 || !r.elements[0].isString())
    return protocolError("stream entry is not [id, fields]");
  StreamEntry e;
  e.id = takeString(r.elements[0].str);
  R& f = r.elements[1];
  if (f.isNil()) return e;
  if (!f.isArray() || f.elements.size() % 2 != 0) return protocolError("stream entry fields");
  e.fields.reserve(f.elements.size() / 2);
  for (size_t i = 0; i + 1 < f.elements.size(); i += 2) {
    if (!f.elements[i].isString() || !f.elements[i + 1].isString())
      return protocolError("stream entry field is not a string");
    e.fields.emplace_back(takeString(f.elements[i].str), takeString(f.elements[i + 1].str));
  }
  return e;
}

template <typename R>
Result<std::vector<StreamEntry>> decodeEntriesImpl(R& r) {
  std::vector<StreamEntry> out;
  if (r.isNil()) return out;
  if (!r.isArray()) return protocolError("entries is not an array");
  out.reserve(r.elements.size());
  for (R& e : r.elements) {
    if (e.isNil()) continue;
    auto d = decodeEntry(e);
    if (!d) return d.error();
    out.push_back(std::move(*d));
  }
  return out;
}

template <typename R>
Result<std::vector<StreamEntry>> decodeReadGroupImpl(R& r) {
  if (r.isError()) return serverError(r);
  if (r.isNil()) return std::vector<StreamEntry>{};
  if (!r.isArray()) return protocolError("XREADGROUP reply is not an array");
  std::vector<StreamEntry> out;
  for (R& s : r.elements) {
    if (!s.isArray() || s.elements.size() != 2) return protocolError("XREADGROUP stream element");
    auto d = decodeEntriesImpl(s.elements[1]);
    if (!d) return d.error();
    if (out.empty())
      out = std::move(*d);
    else
      for (auto& e : *d) out.push_back(std::move(e));
  }
  return out;
}

// A flat [k1, v1, k2, v2, ...] array as a lookup.
std::unordered_map<std::string, const Reply*> asMap(const Reply& r) {
  std::unordered_map<std::string, const Reply*> m;
  if (!r.isArray()) return m;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2)
    if (r.elements[i].isString()) m[r.elements[i].str] = &r.elements[i + 1];
  return m;
}

}  // namespace

std::optional<int64_t> Reply::asInt() const {
  if (kind == Kind::kInteger) return integer;
  if (isString()) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(str.data(), str.data() + str.size(), v);
    if (ec == std::errc() && p == str.data() + str.size()) return v;
  }
  return std::nullopt;
}

Result<Reply> Reply::orServerError(Reply r) {
  if (r.isError()) return serverError(r);
  return r;
}

Result<std::vector<StreamEntry>> decodeEntries(const Reply& r) { return decodeEntriesImpl(r); }
Result<std::vector<StreamEntry>> decodeEntries(Reply&& r) { return decodeEntriesImpl(r); }
Result<std::vector<StreamEntry>> decodeReadGroup(const Reply& r) { return decodeReadGroupImpl(r); }
Result<std::vector<StreamEntry>> decodeReadGroup(Reply&& r) { return decodeReadGroupImpl(r); }

Result<AutoClaimResult> decodeAutoClaim(const Reply& r) {
  if (r.isError()) return serverError(r);
  if (!r.isArray() || r.elements.size() < 2 || !r.elements[0].isString())
    return protocolError("XAUTOCLAIM reply is not [cursor, entries, deleted]");
  AutoClaimResult out;
  out.nextCursor = r.elements[0].str;
  auto e = decodeEntries(r.elements[1]);
  if (!e) return e.error();
  out.entries = std::move(*e);
  if (r.elements.size() >= 3 && r.elements[2].isArray())
    for (const auto& d : r.elements[2].elements)
      if (d.isString()) out.deletedIds.push_back(d.str);
  return out;
}

Result<PendingSummary> decodePendingSummary(const Reply& r) {
  if (r.isError()) return serverError(r);
  if (!r.isArray() || r.elements.size() != 4) return protocolError("XPENDING summary");
  PendingSummary s;
  auto c = asInt(r.elements[0]);
  if (!c) return protocolError("XPENDING count");
  s.count = *c;
  if (r.elements[1].isString()) s.smallestId = r.elements[1].str;
  if (r.elements[2].isString()) s.largestId = r.elements[2].str;
  if (r.elements[3].isArray()) {
    for (const auto& row : r.elements[3].elements) {
      if (!row.isArray() || row.elements.size() != 2 || !row.elements[0].isString())
        return protocolError("XPENDING consumer row");
      auto n = asInt(row.elements[1]);
      if (!n) return protocolError("XPENDING consumer count");
      s.consumers.emplace_back(row.elements[0].str, *n);
    }
  }
  return s;
}

Result<std::vector<PendingEntry>> decodePendingRange(const Reply& r) {
  if (r.isError()) return serverError(r);
  if (!r.isArray()) return protocolError("XPENDING range is not an array");
  std::vector<PendingEntry> out;
  out.reserve(r.elements.size());
  for (const auto& row : r.elements) {
    if (!row.isArray() || row.elements.size() != 4 || !row.elements[0].isString() ||
        !row.elements[1].isString())
      return protocolError("XPENDING row");
    auto idle = asInt(row.elements[2]);
    auto count = asInt(row.elements[3]);
    if (!idle || !count) return protocolError("XPENDING row numbers");
    out.push_back(PendingEntry{row.elements[0].str, row.elements[1].str, *idle, *count});
  }
  return out;
}

Result<std::vector<GroupInfo>> decodeGroups(const Reply& r) {
  if (r.isError()) return serverError(r);
  if (!r.isArray()) return protocolError("XINFO GROUPS is not an array");
  std::vector<GroupInfo> out;
  for (const auto& g : r.elements) {
    auto m = asMap(g);
    GroupInfo info;
    auto name = m.find("name");
    if (name == m.end() || !name->second->isString()) return protocolError("XINFO GROUPS name");
    info.name = name->second->str;
    if (auto it = m.find("consumers"); it != m.end()) info.consumers = asInt(*it->second).value_or(0);
    if (auto it = m.find("pending"); it != m.end()) info.pending = asInt(*it->second).value_or(0);
    if (auto it = m.find("last-delivered-id"); it != m.end() && it->second->isString())
      info.lastDeliveredId = it->second->str;
    if (auto it = m.find("entries-read"); it != m.end()) info.entriesRead = asInt(*it->second);
    if (auto it = m.find("lag"); it != m.end()) info.lag = asInt(*it->second);
    out.push_back(std::move(info));
  }
  return out;
}

Result<StreamInfo> decodeStreamInfo(const Reply& r) {
  if (r.isError()) return serverError(r);
  if (!r.isArray()) return protocolError("XINFO STREAM is not an array");
  auto m = asMap(r);
  StreamInfo s;
  auto len = m.find("length");
  if (len == m.end() || !asInt(*len->second)) return protocolError("XINFO STREAM length");
  s.length = *asInt(*len->second);
  if (auto it = m.find("entries-added"); it != m.end()) s.entriesAdded = asInt(*it->second);
  if (auto it = m.find("last-generated-id"); it != m.end() && it->second->isString())
    s.lastGeneratedId = it->second->str;
  if (auto it = m.find("groups"); it != m.end()) s.groups = asInt(*it->second).value_or(0);
  return s;
}

// ------------------------------------------------------------------ Client

Client::Client(ConnectionOptions opts, Clock& clock)
    : opts_(std::move(opts)), clock_(clock), backoff_(opts_.reconnectInitial, opts_.reconnectMax) {}

Client::~Client() = default;

Duration Client::retryDelay() const {
  if (conn_) return Duration::zero();
  auto now = clock_.now();
  return nextAttempt_ > now ? nextAttempt_ - now : Duration::zero();
}

Result<void> Client::connect() {
  if (conn_ && !conn_->broken()) return {};
  conn_.reset();
  if (clock_.now() < nextAttempt_)
    return makeError(Errc::kIo, "redis " + opts_.describe() + ": waiting to reconnect");
  auto c = Connection::open(opts_);
  if (!c) {
    nextAttempt_ = clock_.now() + backoff_.next();
    return c.error();
  }
  backoff_.reset();
  nextAttempt_ = {};
  conn_ = std::move(*c);
  return {};
}

Result<Reply> Client::command(const Command& args, Duration extraTimeout) {
  if (auto c = connect(); !c) return c.error();
  auto r = conn_->command(args, extraTimeout);
  if (!r) conn_.reset();
  return r;
}

Result<std::vector<Reply>> Client::pipeline(const std::vector<Command>& cmds, Duration extraTimeout) {
  if (cmds.empty()) return std::vector<Reply>{};
  if (auto c = connect(); !c) return c.error();
  auto r = conn_->pipeline(cmds, extraTimeout);
  if (!r) conn_.reset();
  return r;
}

Result<void> Client::ping() {
  auto r = command({"PING"});
  if (!r) return r.error();
  if (r->isError()) return serverError(*r);
  return {};
}

Result<int64_t> Client::del(const std::vector<std::string>& keys) {
  if (keys.empty()) return int64_t{0};
  Command c{"DEL"};
  c.insert(c.end(), keys.begin(), keys.end());
  auto r = command(c);
  if (!r) return r.error();
  if (r->isError()) return serverError(*r);
  return r->integer;
}

Result<bool> Client::createGroup(const std::string& stream, const std::string& group,
                                 const std::string& startId, bool mkstream) {
  Command c{"XGROUP", "CREATE", stream, group, startId};
  if (mkstream) c.push_back("MKSTREAM");
  auto r = command(c);
  if (!r) return r.error();
  if (r->isError()) {
    if (r->str.starts_with("BUSYGROUP")) return false;
    return serverError(*r);
  }
  return true;
}

Result<std::vector<StreamEntry>> Client::readGroup(const std::string& stream, const std::string& group,
                                                   const std::string& consumer, const std::string& id,
                                                   int64_t count, int64_t blockMs) {
  Command c{"XREADGROUP", "GROUP", group, consumer, "COUNT", std::to_string(count)};
  if (blockMs >= 0) {
    c.push_back("BLOCK");
    c.push_back(std::to_string(blockMs));
  }
  c.push_back("STREAMS");
  c.push_back(stream);
  c.push_back(id);
  auto r = command(c, blockMs > 0 ? millis(blockMs) : Duration::zero());
  if (!r) return r.error();
  return decodeReadGroup(std::move(*r));
}

Result<int64_t> Client::ack(const std::string& stream, const std::string& group,
                            const std::vector<std::string>& ids) {
  if (ids.empty()) return int64_t{0};
  Command c;
  c.reserve(ids.size() + 3);
  c.push_back("XACK");
  c.push_back(stream);
  c.push_back(group);
  c.insert(c.end(), ids.begin(), ids.end());
  auto r = command(c);
  if (!r) return r.error();
  if (r->isError()) return serverError(*r);
  return r->integer;
}

Result<AutoClaimResult> Client::autoClaim(const std::string& stream, const std::string& group,
                                          const std::string& consumer, int64_t minIdleMs,
                                          const std::string& start, int64_t count) {
  auto r = command({"XAUTOCLAIM", stream, group, consumer, std::to_string(minIdleMs), start, "COUNT",
                    std::to_string(count)});
  if (!r) return r.error();
  auto out = decodeAutoClaim(*r);
  if (!out || out->entries.empty()) return out;
  // The claim incremented each entry's delivery count; read it back, one
  // XPENDING per id, in one round trip.
  std::vector<Command> q;
  q.reserve(out->entries.size());
  for (const auto& e : out->entries) q.push_back({"XPENDING", stream, group, e.id, e.id, "1"});
  auto replies = pipeline(q);
  if (!replies) return replies.error();
  for (size_t i = 0; i < out->entries.size(); ++i) {
    auto rows = decodePendingRange((*replies)[i]);
    if (rows && !rows->empty()) out->entries[i].deliveries = rows->front().deliveries;
  }
  return out;
}

Result<PendingSummary> Client::pendingSummary(const std::string& stream, const std::string& group) {
  auto r = command({"XPENDING", stream, group});
  if (!r) return r.error();
  return decodePendingSummary(*r);
}

Result<std::vector<PendingEntry>> Client::pendingRange(const std::string& stream, const std::string& group,
                                                       const std::string& start, const std::string& end,
                                                       int64_t count, const std::string& consumer,
                                                       int64_t minIdleMs) {
  Command c{"XPENDING", stream, group};
  if (minIdleMs >= 0) {
    c.push_back("IDLE");
    c.push_back(std::to_string(minIdleMs));
  }
  c.push_back(start);
  c.push_back(end);
  c.push_back(std::to_string(count));
  if (!consumer.empty()) c.push_back(consumer);
  auto r = command(c);
  if (!r) return r.error();
  return decodePendingRange(*r);
}

Result<std::vector<GroupInfo>> Client::groups(const std::string& stream) {
  auto r = command({"XINFO", "GROUPS", stream});
  if (!r) return r.error();
  return decodeGroups(*r);
}

Result<StreamInfo> Client::streamInfo(const std::string& stream) {
  auto r = command({"XINFO", "STREAM", stream});
  if (!r) return r.error();
  return decodeStreamInfo(*r);
}

Result<std::string> Client::add(const std::string& stream,
                                const std::vector<std::pair<std::string, std::string>>& fields,
                                int64_t approxMaxLen) {
  Command c{"XADD", stream};
  if (approxMaxLen >= 0) {
    c.push_back("MAXLEN");
    c.push_back("~");
    c.push_back(std::to_string(approxMaxLen));
  }
  c.push_back("*");
  for (const auto& [k, v] : fields) {
    c.push_back(k);
    c.push_back(v);
  }
  auto r = command(c);
  if (!r) return r.error();
  if (r->isError()) return serverError(*r);
  if (!r->isString()) return protocolError("XADD id");
  return r->str;
}

}  // namespace shoal::redis
