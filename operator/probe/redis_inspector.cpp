// RedisStreamInspector: StreamInspector over Shoal's Redis client. Keeps one
// reconnecting client per endpoint and credentials (a cluster client, routed
// by hash slot, for Redis Cluster targets). The retention trim is one EVAL
// naming the stream as its key, so on a cluster it runs where the stream is.
#include <algorithm>
#include <map>

#include "shoal/probe/backlog_probe.h"
#include "shoal/probe/redis_connection.h"
#include "shoal/redis/client.h"
#include "shoal/redis_cluster/keyed_client.h"
#include "shoal/redis_cluster/stream_load.h"

namespace shoal::probe {
namespace {

class RedisStreamInspector final : public StreamInspector {
 public:
  explicit RedisStreamInspector(Clock& clock) : clock_(clock) {}

  Result<StreamSnapshot> inspect(const RedisTarget& target, const std::string& stream,
                                 const std::string& group, ReadFailure* failure) override {
    auto c = clientFor(target);
    if (!c.ok()) {
      *failure = ReadFailure::kProtocol;
      return c.error();
    }
    redis::KeyedClient& k = *c.value();
    auto groups = k.on(stream, [&](redis::Client& n) { return n.groups(stream); });
    if (!groups.ok()) {
      *failure = classifyFailure(groups.error());
      return groups.error();
    }
    StreamSnapshot s;
    bool found = false;
    for (const auto& g : groups.value()) {
      if (g.name != group) continue;
      found = true;
      s.lag = g.lag;
      s.pending = g.pending;
      s.entriesRead = g.entriesRead;
      s.consumers = g.consumers;
    }
    if (!found) {
      *failure = ReadFailure::kGroupNotFound;
      return makeError(Errc::kNotFound,
                       "consumer group \"" + group + "\" not found on stream \"" + stream + "\"");
    }
    auto info = k.on(stream, [&](redis::Client& n) { return n.streamInfo(stream); });
    if (!info.ok()) {
      *failure = classifyFailure(info.error());
      return info.error();
    }
    s.entriesAdded = info->entriesAdded;
    s.length = info->length;
    return s;
  }

  Result<void> ensureGroup(const RedisTarget& target, const std::string& stream,
                           const std::string& group, const std::string& startId) override {
    auto c = clientFor(target);
    if (!c.ok()) return c.error();
    const std::string start = startId.empty() ? "$" : startId;
    auto r = c.value()->on(stream, [&](redis::Client& n) { return n.createGroup(stream, group, start, true); });
    if (!r.ok()) return r.error();
    return {};
  }

  Result<void> destroyGroup(const RedisTarget& target, const std::string& stream,
                            const std::string& group) override {
    auto c = clientFor(target);
    if (!c.ok()) return c.error();
    auto r = c.value()->on(stream, [&](redis::Client& n) { return n.command({"XGROUP", "DESTROY", stream, group}); });
    if (!r.ok()) return r.error();
    // An error reply here means the stream does not exist: nothing to destroy.
    return {};
  }

  Result<StreamLoad> load(const RedisTarget& target, const std::string& stream) override {
    auto c = clientFor(target);
    if (!c.ok()) return c.error();
    return redis::readStreamLoad(*c.value(), stream);
  }

  Result<TrimOutcome> trim(const RedisTarget& target, const std::string& stream, const RetentionRule& rule,
                           int64_t nowMs) override {
    auto c = clientFor(target);
    if (!c.ok()) return c.error();
    const auto cutoff = ageCutoff(rule, nowMs);
    const redis::Command cmd{"EVAL",
                             trimScript(),
                             "1",
                             stream,
                             std::to_string(std::max<int64_t>(0, rule.keepCount)),
                             cutoff ? cutoff->str() : "",
                             std::to_string(std::max<int64_t>(0, rule.maxLength.value_or(0))),
                             rule.dropOldest ? "1" : "0",
                             rule.requiredGroup};
    auto r = c.value()->on(stream, [&](redis::Client& n) { return n.command(cmd); });
    if (!r.ok()) return r.error();
    return decodeTrim(r.value());
  }

 private:
  // The script's reply: {exists, groups, safeId|"", minId|"", trimmed,
  // dropped, length, atCap, requiredGroupFound}.
  static Result<TrimOutcome> decodeTrim(const redis::Reply& r) {
    if (r.isError()) return makeError(Errc::kServer, "retention trim: " + r.str);
    if (!r.isArray() || r.elements.size() != 9)
      return makeError(Errc::kProtocol, "retention trim: unexpected reply");
    auto num = [&](size_t i) { return r.elements[i].asInt(); };
    auto id = [&](size_t i) -> std::optional<StreamId> {
      return r.elements[i].str.empty() ? std::nullopt : StreamId::parse(r.elements[i].str);
    };
    TrimOutcome o;
    for (size_t i : {0u, 1u, 4u, 5u, 6u, 7u, 8u}) {
      if (!num(i)) return makeError(Errc::kProtocol, "retention trim: unexpected reply");
    }
    o.streamExists = *num(0) == 1;
    o.groups = *num(1);
    o.safeId = id(2);
    o.minId = id(3);
    if (o.safeId.has_value() != !r.elements[2].str.empty() || o.minId.has_value() != !r.elements[3].str.empty())
      return makeError(Errc::kProtocol, "retention trim: unexpected reply");
    o.trimmed = *num(4);
    o.droppedUnconsumed = *num(5);
    o.length = *num(6);
    o.atCap = *num(7) == 1;
    o.requiredGroupMissing = o.streamExists && *num(8) == 0;
    return o;
  }


  // One reconnecting client per endpoint, credentials and mode (one server or
  // a cluster, seeded by the target's address).
  Result<redis::KeyedClient*> clientFor(const RedisTarget& t) {
    const std::string key = std::string(t.cluster ? "cluster\n" : "node\n") + t.endpoint() + "\n" + t.username +
                            "\n" + t.password + "\n" + (t.tlsInsecureSkipVerify ? "1" : "0") + t.tlsServerName +
                            "\n" + t.tlsCaPem + "\n" + t.tlsCertPem + "\n" + t.tlsKeyPem;
    auto it = clients_.find(key);
    if (it != clients_.end()) return it->second.get();
    auto opts = connectionOptionsFor(t);
    if (!opts.ok()) return opts.error();
    redis::ConnectionOptions o = std::move(opts.value());
    o.connectTimeout = std::chrono::seconds(1);
    o.readTimeout = std::chrono::seconds(2);
    o.reconnectMax = std::chrono::seconds(2);
    std::unique_ptr<redis::KeyedClient> client;
    if (t.cluster) {
      redis::ClusterOptions co;
      co.seeds.push_back({o.host, o.port});
      co.node = std::move(o);
      client = std::make_unique<redis::KeyedClient>(std::move(co), clock_);
    } else {
      client = std::make_unique<redis::KeyedClient>(std::move(o), clock_);
    }
    redis::KeyedClient* raw = client.get();
    if (clients_.size() > 256) clients_.clear();  // credentials rotated many times: start over
    clients_.emplace(key, std::move(client));
    return raw;
  }

  Clock& clock_;
  std::map<std::string, std::unique_ptr<redis::KeyedClient>> clients_;
};
}  // namespace

std::shared_ptr<StreamInspector> makeRedisStreamInspector(Clock& clock) {
  return std::make_shared<RedisStreamInspector>(clock);
}

}  // namespace shoal::probe
