// KeyedClient: "send this about key K" over one Redis server or a Redis
// Cluster, chosen once from configuration, so that callers (the worker's
// consumer-group port, the operator's backlog probe) write each command once.
// On one server every key reaches the same redis::Client; on a cluster the
// ClusterClient routes by slot and follows redirects (cluster_client.h).
// Not thread-safe, like both clients.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "shoal/redis/client.h"
#include "shoal/redis/source_config.h"
#include "shoal/redis_cluster/cluster_client.h"

namespace shoal::redis {

class KeyedClient {
 public:
  /// One server.
  KeyedClient(ConnectionOptions opts, Clock& clock) : node_(std::make_unique<Client>(std::move(opts), clock)) {}
  /// A cluster, reached through its seed nodes.
  KeyedClient(ClusterOptions opts, Clock& clock)
      : cluster_(std::make_unique<ClusterClient>(std::move(opts), clock)) {}

  /// Whether every key lives on one connection (so that commands about
  /// different keys may share a pipeline).
  bool oneNode() const { return node_ != nullptr; }

  /// fn(the client serving key); on a cluster, redirects are followed.
  template <typename F>
  auto on(const std::string& key, F&& fn) {
    return node_ ? fn(*node_) : cluster_->withKey(key, std::forward<F>(fn));
  }

  /// Commands all about `key` in one round trip (on a cluster: to the node
  /// serving it, redirected replies re-sent alone; ClusterClient::pipeline).
  Result<std::vector<Reply>> pipeline(const std::string& key, const std::vector<Command>& cmds) {
    return node_ ? node_->pipeline(cmds) : cluster_->pipeline(key, cmds);
  }

  /// How long until the single-server client may reconnect; zero on a
  /// cluster, whose node clients back off on their own.
  Duration retryDelay() const { return node_ ? node_->retryDelay() : Duration::zero(); }

 private:
  std::unique_ptr<Client> node_;
  std::unique_ptr<ClusterClient> cluster_;
};

/// The KeyedClient a `redis` section asks for: a cluster reached through
/// its host:port as the seed when `cluster` is set, else that one server.
inline std::unique_ptr<KeyedClient> keyedClientFor(const RedisSourceConfig& c, Clock& clock) {
  if (c.cluster) {
    ClusterOptions o;
    o.node = connectionOptions(c);
    o.seeds.push_back({c.host, c.port});
    return std::make_unique<KeyedClient>(std::move(o), clock);
  }
  return std::make_unique<KeyedClient>(connectionOptions(c), clock);
}

}  // namespace shoal::redis
