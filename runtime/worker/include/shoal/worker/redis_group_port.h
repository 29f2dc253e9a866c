// The Redis ConsumerGroupPort: one stream of one Redis server through Shoal's
// reconnecting redis::Client (one connection per port), or of a Redis Cluster
// through redis::ClusterClient.
// The commands: XGROUP CREATE ... MKSTREAM, XREADGROUP (own pending with an
// id, new with ">"), XPENDING (range, this consumer), XAUTOCLAIM, XCLAIM ...
// JUSTID, one pipeline of dead-letter XADDs and XACK, XINFO GROUPS.
#pragma once

#include <memory>
#include <string>

#include "shoal/common/clock.h"
#include "shoal/redis/client.h"
#include "shoal/stream/pipeline_config.h"
#include "shoal/worker/consumer_group_port.h"

namespace shoal {

/// Redis connection options from the worker config.
redis::ConnectionOptions redisOptions(const RedisSourceConfig& c);

/// The consumer `consumerName` of `c.consumerGroup` on `c.stream`: on one
/// Redis server, or with `c.cluster` on a Redis Cluster whose seed node is
/// c.host:c.port (every command then goes to the primary serving its key's
/// slot, following MOVED and ASK, runtime/redis_cluster; dead-letter copies
/// and the XACK are sent one after the other, since the dead-letter stream may
/// live on another node; the default "<stream>:dead" of a shard "<s>:{i}"
/// shares the shard's slot). On one server the dead-letter copies and the
/// XACK go in one pipeline. Not thread-safe (one connection per node).
std::unique_ptr<ConsumerGroupPort> openRedisGroupPort(const RedisSourceConfig& c, std::string consumerName,
                                                      Clock& clock);

}  // namespace shoal
