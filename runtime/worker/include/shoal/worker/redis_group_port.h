// RedisGroupPort: ConsumerGroupPort over one stream of one Redis server,
// through Shoal's reconnecting redis::Client (one connection per port).
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

/// \brief The consumer `consumerName` of `c.consumerGroup` on `c.stream`.
/// Not thread-safe (one connection).
class RedisGroupPort final : public ConsumerGroupPort {
 public:
  RedisGroupPort(const RedisSourceConfig& c, std::string consumerName, Clock& clock);

  Result<bool> createGroup() override;
  Result<std::vector<StreamEntry>> readPending(const std::string& afterId, int64_t count) override;
  Result<std::vector<StreamEntry>> readNew(int64_t count, int64_t blockMs) override;
  Result<std::vector<PendingDeliveries>> pendingDeliveries(const std::string& firstId,
                                                           const std::string& lastId,
                                                           int64_t count) override;
  Result<ClaimPage> claimIdle(int64_t minIdleMs, const std::string& cursor, int64_t count) override;
  Result<bool> touch(const std::vector<std::string>& ids) override;
  Result<AckReceipt> deadLetterAndAck(const std::vector<DeadLetter>& deadLetters,
                                      const std::vector<std::string>& ackIds) override;
  Result<std::optional<GroupGauges>> gauges() override;
  Duration retryDelay() const override { return client_.retryDelay(); }

 private:
  std::string stream_, group_, startId_, deadLetterStream_, consumer_;
  redis::Client client_;
};

}  // namespace shoal
