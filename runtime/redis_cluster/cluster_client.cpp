// Redis Cluster routing, discovery and redirection. See cluster_client.h.
#include "shoal/redis_cluster/cluster_client.h"

#include <charconv>

#include "shoal/common/log.h"

namespace shoal::redis {
namespace {

uint16_t crc16Xmodem(std::string_view s) {
  uint16_t crc = 0;
  for (unsigned char b : s) {
    crc ^= static_cast<uint16_t>(b << 8);
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : crc << 1;
  }
  return crc;
}

std::optional<int64_t> intOf(const Reply& r) { return r.asInt(); }

Error badReply(const std::string& what) { return makeError(Errc::kProtocol, "redis cluster reply: " + what); }

// A RESP2 map (flat [k, v, k, v, ...]) as a lookup.
const Reply* field(const Reply& map, std::string_view key) {
  if (!map.isArray()) return nullptr;
  for (size_t i = 0; i + 1 < map.elements.size(); i += 2)
    if (map.elements[i].isString() && map.elements[i].str == key) return &map.elements[i + 1];
  return nullptr;
}

std::string stringField(const Reply& map, std::string_view key) {
  const Reply* v = field(map, key);
  return v && v->isString() ? v->str : std::string();
}

}  // namespace

uint16_t keySlot(std::string_view key) {
  if (auto open = key.find('{'); open != std::string_view::npos) {
    if (auto close = key.find('}', open + 1); close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return crc16Xmodem(key) % kClusterSlots;
}

std::string NodeAddress::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<NodeAddress> parseNodeAddress(std::string_view s) {
  if (auto at = s.find('@'); at != std::string_view::npos) s = s.substr(0, at);  // host:port@cport
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= s.size()) return std::nullopt;
  NodeAddress a;
  a.host = std::string(s.substr(0, colon));
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  auto portText = s.substr(colon + 1);
  auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), a.port);
  if (ec != std::errc() || p != portText.data() + portText.size() || a.port < 1 || a.port > 65535)
    return std::nullopt;
  return a;
}

Result<std::vector<SlotRange>> decodeClusterShards(const Reply& r) {
  if (r.isError()) return makeError(Errc::kServer, "redis: " + r.str);
  if (!r.isArray()) return badReply("CLUSTER SHARDS is not an array");
  std::vector<SlotRange> out;
  for (const Reply& shard : r.elements) {
    const Reply* slots = field(shard, "slots");
    const Reply* nodes = field(shard, "nodes");
    if (!slots || !nodes || !slots->isArray() || !nodes->isArray() || slots->elements.size() % 2 != 0)
      return badReply("CLUSTER SHARDS shard without slots and nodes");
    std::optional<NodeAddress> primary;
    std::vector<NodeAddress> replicas;
    for (const Reply& n : nodes->elements) {
      NodeAddress a;
      a.host = stringField(n, "endpoint");
      if (a.host.empty() || a.host == "?") a.host = stringField(n, "ip");
      const Reply* port = field(n, "port");
      if (!port) port = field(n, "tls-port");
      auto pv = port ? intOf(*port) : std::nullopt;
      if (a.host.empty() || !pv) continue;
      a.port = static_cast<int>(*pv);
      const std::string role = stringField(n, "role");
      const std::string health = stringField(n, "health");
      if (role == "master") {
        if (health == "online") primary = a;
      } else {
        replicas.push_back(a);
      }
    }
    if (!primary) continue;  // a shard whose primary failed: its slots are unserved until a failover
    for (size_t i = 0; i + 1 < slots->elements.size(); i += 2) {
      auto first = intOf(slots->elements[i]), last = intOf(slots->elements[i + 1]);
      if (!first || !last || *first < 0 || *last >= kClusterSlots || *first > *last)
        return badReply("CLUSTER SHARDS slot range");
      out.push_back({static_cast<int>(*first), static_cast<int>(*last), *primary, replicas});
    }
  }
  return out;
}

Result<std::vector<SlotRange>> decodeClusterSlots(const Reply& r) {
  if (r.isError()) return makeError(Errc::kServer, "redis: " + r.str);
  if (!r.isArray()) return badReply("CLUSTER SLOTS is not an array");
  std::vector<SlotRange> out;
  for (const Reply& range : r.elements) {
    if (!range.isArray() || range.elements.size() < 3) return badReply("CLUSTER SLOTS range");
    auto first = intOf(range.elements[0]), last = intOf(range.elements[1]);
    if (!first || !last || *first < 0 || *last >= kClusterSlots || *first > *last)
      return badReply("CLUSTER SLOTS slot range");
    SlotRange s{static_cast<int>(*first), static_cast<int>(*last), {}, {}};
    for (size_t i = 2; i < range.elements.size(); ++i) {
      const Reply& n = range.elements[i];
      if (!n.isArray() || n.elements.size() < 2 || !n.elements[0].isString()) return badReply("CLUSTER SLOTS node");
      auto port = intOf(n.elements[1]);
      if (!port) return badReply("CLUSTER SLOTS node port");
      NodeAddress a{n.elements[0].str, static_cast<int>(*port)};
      if (i == 2) s.primary = a;
      else s.replicas.push_back(a);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<Redirect> parseRedirect(std::string_view text) {
  if (text.starts_with("redis: ")) text.remove_prefix(7);
  Redirect r;
  if (text.starts_with("MOVED ")) {
    text.remove_prefix(6);
  } else if (text.starts_with("ASK ")) {
    r.ask = true;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto slotText = text.substr(0, space);
  auto [p, ec] = std::from_chars(slotText.data(), slotText.data() + slotText.size(), r.slot);
  if (ec != std::errc() || p != slotText.data() + slotText.size() || r.slot < 0 || r.slot >= kClusterSlots)
    return std::nullopt;
  auto to = parseNodeAddress(text.substr(space + 1));
  if (!to) return std::nullopt;
  r.to = *to;
  return r;
}

std::optional<Redirect> ClusterClient::redirectOf(const Result<Reply>& r) {
  if (r.ok()) return r->isError() ? parseRedirect(r->str) : std::nullopt;
  if (r.error().code != Errc::kServer) return std::nullopt;
  return parseRedirect(r.error().message);
}

ClusterClient::ClusterClient(ClusterOptions opts, Clock& clock) : opts_(std::move(opts)), clock_(clock) {
  slotNode_.fill(-1);
  opts_.node.db = 0;  // cluster mode has one database
}

ClusterClient::~ClusterClient() = default;

Client& ClusterClient::clientFor(const NodeAddress& a) {
  auto& c = clients_[a.str()];
  if (!c) {
    ConnectionOptions o = opts_.node;
    o.host = a.host;
    o.port = a.port;
    c = std::make_unique<Client>(std::move(o), clock_);
  }
  return *c;
}

Result<void> ClusterClient::refreshTopology() {
  std::vector<NodeAddress> candidates = opts_.seeds;
  for (const auto& n : nodes_)
    if (std::find(candidates.begin(), candidates.end(), n) == candidates.end()) candidates.push_back(n);
  if (candidates.empty()) return makeError(Errc::kInvalidInput, "redis cluster: no seed nodes");
  Error last = makeError(Errc::kIo, "redis cluster: no node answered");
  lastRefresh_ = clock_.now();
  ++refreshes_;
  for (const NodeAddress& n : candidates) {
    Client& c = clientFor(n);
    auto shards = c.command({"CLUSTER", "SHARDS"});
    Result<std::vector<SlotRange>> ranges = makeError(Errc::kIo, "");
    if (!shards) {
      last = shards.error();
      continue;
    }
    if (shards->isError() && shards->str.find("unknown subcommand") != std::string::npos) {
      auto slots = c.command({"CLUSTER", "SLOTS"});  // before Redis 7.0
      if (!slots) {
        last = slots.error();
        continue;
      }
      ranges = decodeClusterSlots(*slots);
    } else {
      ranges = decodeClusterShards(*shards);
    }
    if (!ranges) {
      last = ranges.error();
      continue;
    }
    nodes_.clear();
    slotNode_.fill(-1);
    for (const SlotRange& s : *ranges) {
      auto it = std::find(nodes_.begin(), nodes_.end(), s.primary);
      if (it == nodes_.end()) it = nodes_.insert(nodes_.end(), s.primary);
      const auto idx = static_cast<int16_t>(it - nodes_.begin());
      for (int slot = s.first; slot <= s.last; ++slot) slotNode_[slot] = idx;
    }
    haveMap_ = true;
    stale_ = false;
    log::debug("redis cluster topology", {{"from", n.str()}, {"primaries", nodes_.size()}});
    return {};
  }
  return last;
}

Result<void> ClusterClient::ensureTopology() {
  if (!haveMap_) return refreshTopology();
  if (stale_ && clock_.now() - lastRefresh_ >= opts_.refreshMinInterval) {
    if (auto r = refreshTopology(); !r)
      log::warn("redis cluster topology refresh failed; using the last map", {{"error", r.error().message}});
  }
  return {};
}

std::optional<NodeAddress> ClusterClient::ownerOf(uint16_t slot) const {
  if (slot >= kClusterSlots || slotNode_[slot] < 0) return std::nullopt;
  return nodes_[static_cast<size_t>(slotNode_[slot])];
}

std::vector<NodeAddress> ClusterClient::primaries() const {
  std::vector<NodeAddress> out;
  std::vector<bool> used(nodes_.size(), false);
  for (int16_t i : slotNode_)
    if (i >= 0) used[static_cast<size_t>(i)] = true;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (used[i]) out.push_back(nodes_[i]);
  std::sort(out.begin(), out.end(), [](const NodeAddress& a, const NodeAddress& b) { return a.str() < b.str(); });
  return out;
}

Result<Reply> ClusterClient::command(std::string_view key, const Command& args, Duration extraTimeout) {
  return withKey(key, [&](Client& c) { return c.command(args, extraTimeout); });
}

Result<std::vector<Reply>> ClusterClient::pipeline(std::string_view key, const std::vector<Command>& cmds) {
  auto replies = withKey(key, [&](Client& c) { return c.pipeline(cmds); });
  if (!replies) return replies;
  for (size_t i = 0; i < replies->size(); ++i) {
    Reply& r = (*replies)[i];
    if (!r.isError() || !parseRedirect(r.str)) continue;
    stale_ = true;  // the slot moved or is moving: the map needs a refresh
    auto again = command(key, cmds[i]);
    if (again) {
      r = std::move(*again);
    } else {  // this one command's outcome is unknown; the others stand
      r = Reply{};
      r.kind = Reply::Kind::kError;
      r.str = again.error().message;
    }
  }
  return replies;
}

Result<bool> ClusterClient::createGroup(const std::string& stream, const std::string& group,
                                        const std::string& startId, bool mkstream) {
  return withKey(stream, [&](Client& c) { return c.createGroup(stream, group, startId, mkstream); });
}

Result<std::vector<StreamEntry>> ClusterClient::readGroup(const std::string& stream, const std::string& group,
                                                          const std::string& consumer, const std::string& id,
                                                          int64_t count, int64_t blockMs) {
  return withKey(stream, [&](Client& c) { return c.readGroup(stream, group, consumer, id, count, blockMs); });
}

Result<int64_t> ClusterClient::ack(const std::string& stream, const std::string& group,
                                   const std::vector<std::string>& ids) {
  return withKey(stream, [&](Client& c) { return c.ack(stream, group, ids); });
}

Result<AutoClaimResult> ClusterClient::autoClaim(const std::string& stream, const std::string& group,
                                                 const std::string& consumer, int64_t minIdleMs,
                                                 const std::string& start, int64_t count) {
  return withKey(stream, [&](Client& c) { return c.autoClaim(stream, group, consumer, minIdleMs, start, count); });
}

Result<PendingSummary> ClusterClient::pendingSummary(const std::string& stream, const std::string& group) {
  return withKey(stream, [&](Client& c) { return c.pendingSummary(stream, group); });
}

Result<std::vector<GroupInfo>> ClusterClient::groups(const std::string& stream) {
  return withKey(stream, [&](Client& c) { return c.groups(stream); });
}

Result<StreamInfo> ClusterClient::streamInfo(const std::string& stream) {
  return withKey(stream, [&](Client& c) { return c.streamInfo(stream); });
}

Result<std::string> ClusterClient::add(const std::string& stream,
                                       const std::vector<std::pair<std::string, std::string>>& fields,
                                       int64_t approxMaxLen) {
  return withKey(stream, [&](Client& c) { return c.add(stream, fields, approxMaxLen); });
}

}  // namespace shoal::redis
