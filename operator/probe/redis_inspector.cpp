// RedisStreamInspector: StreamInspector over Shoal's Redis client. Keeps one
// reconnecting client per endpoint and credentials (a cluster client, routed
// by hash slot, for Redis Cluster targets).
#include <map>

#include "shoal/probe/backlog_probe.h"
#include "shoal/probe/redis_connection.h"
#include "shoal/redis/client.h"
#include "shoal/redis_cluster/cluster_client.h"

namespace shoal::probe {
namespace {

class RedisStreamInspector final : public StreamInspector {
 public:
  explicit RedisStreamInspector(Clock& clock) : clock_(clock) {}

  Result<StreamSnapshot> inspect(const RedisTarget& target, const std::string& stream,
                                 const std::string& group, ReadFailure* failure) override {
    if (target.cluster) {
      auto c = clusterFor(target);
      if (!c.ok()) {
        *failure = ReadFailure::kProtocol;
        return c.error();
      }
      return inspectWith(*c.value(), stream, group, failure);
    }
    auto client = clientFor(target);
    if (!client.ok()) {
      *failure = ReadFailure::kProtocol;
      return client.error();
    }
    return inspectWith(*client.value(), stream, group, failure);
  }

  Result<void> ensureGroup(const RedisTarget& target, const std::string& stream,
                           const std::string& group, const std::string& startId) override {
    const std::string start = startId.empty() ? "$" : startId;
    Result<bool> r = makeError(Errc::kIo, "");
    if (target.cluster) {
      auto c = clusterFor(target);
      if (!c.ok()) return c.error();
      r = c.value()->createGroup(stream, group, start, true);
    } else {
      auto client = clientFor(target);
      if (!client.ok()) return client.error();
      r = client.value()->createGroup(stream, group, start, true);
    }
    if (!r.ok()) return r.error();
    return {};
  }

  Result<void> destroyGroup(const RedisTarget& target, const std::string& stream,
                            const std::string& group) override {
    const redis::Command cmd{"XGROUP", "DESTROY", stream, group};
    Result<redis::Reply> r = makeError(Errc::kIo, "");
    if (target.cluster) {
      auto c = clusterFor(target);
      if (!c.ok()) return c.error();
      r = c.value()->command(stream, cmd);
    } else {
      auto client = clientFor(target);
      if (!client.ok()) return client.error();
      r = client.value()->command(cmd);
    }
    if (!r.ok()) return r.error();
    // An error reply here means the stream does not exist: nothing to destroy.
    return {};
  }

 private:
  static ReadFailure classify(const Error& e) {
    if (e.code == Errc::kNotFound) return ReadFailure::kStreamNotFound;
    if (e.code == Errc::kServer) {
      if (e.message.find("NOAUTH") != std::string::npos ||
          e.message.find("WRONGPASS") != std::string::npos ||
          e.message.find("NOPERM") != std::string::npos) {
        return ReadFailure::kAuth;
      }
      return ReadFailure::kProtocol;
    }
    if (e.code == Errc::kProtocol) return ReadFailure::kProtocol;
    return ReadFailure::kUnreachable;
  }

  Result<redis::Client*> clientFor(const RedisTarget& t) {
    const std::string key = clientKey(t);
    auto it = clients_.find(key);
    if (it != clients_.end()) return it->second.get();
    auto o = probeOptions(t);
    if (!o.ok()) return o.error();
    auto client = std::make_unique<redis::Client>(std::move(o.value()), clock_);
    redis::Client* raw = client.get();
    if (clients_.size() > 256) clients_.clear();  // credentials rotated many times: start over
    clients_.emplace(key, std::move(client));
    return raw;
  }

  // XINFO GROUPS + XINFO STREAM through a single-node or a cluster client.
  template <typename C>
  static Result<StreamSnapshot> inspectWith(C& c, const std::string& stream, const std::string& group,
                                            ReadFailure* failure) {
    auto groups = c.groups(stream);
    if (!groups.ok()) {
      *failure = classify(groups.error());
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
    auto info = c.streamInfo(stream);
    if (!info.ok()) {
      *failure = classify(info.error());
      return info.error();
    }
    s.entriesAdded = info->entriesAdded;
    s.length = info->length;
    return s;
  }

  static std::string clientKey(const RedisTarget& t) {
    return t.endpoint() + "\n" + t.username + "\n" + t.password + "\n" + (t.tlsInsecureSkipVerify ? "1" : "0") +
           t.tlsServerName + "\n" + t.tlsCaPem + "\n" + t.tlsCertPem + "\n" + t.tlsKeyPem;
  }

  static Result<redis::ConnectionOptions> probeOptions(const RedisTarget& t) {
    auto opts = connectionOptionsFor(t);
    if (!opts.ok()) return opts.error();
    redis::ConnectionOptions o = std::move(opts.value());
    o.connectTimeout = std::chrono::seconds(1);
    o.readTimeout = std::chrono::seconds(2);
    o.reconnectMax = std::chrono::seconds(2);
    return o;
  }

  Result<redis::ClusterClient*> clusterFor(const RedisTarget& t) {
    const std::string key = clientKey(t);
    auto it = clusters_.find(key);
    if (it != clusters_.end()) return it->second.get();
    auto o = probeOptions(t);
    if (!o.ok()) return o.error();
    redis::ClusterOptions co;
    co.seeds.push_back({o.value().host, o.value().port});
    co.node = std::move(o.value());
    auto client = std::make_unique<redis::ClusterClient>(std::move(co), clock_);
    redis::ClusterClient* raw = client.get();
    if (clusters_.size() > 64) clusters_.clear();
    clusters_.emplace(key, std::move(client));
    return raw;
  }

  Clock& clock_;
  std::map<std::string, std::unique_ptr<redis::Client>> clients_;
  std::map<std::string, std::unique_ptr<redis::ClusterClient>> clusters_;
};

}  // namespace

std::shared_ptr<StreamInspector> makeRedisStreamInspector(Clock& clock) {
  return std::make_shared<RedisStreamInspector>(clock);
}

}  // namespace shoal::probe
