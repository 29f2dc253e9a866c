// Whether Redis answers at a RedisTarget: one connection, AUTH and SELECT as
// the target says, one PING. The Receiver reconciler's RedisReachable
// condition asks this with the receiver's own connection settings.
#pragma once

#include <memory>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::probe {

/// \brief Pings Redis. Implementations are thread-safe.
class RedisPinger {
 public:
  virtual ~RedisPinger() = default;
  /// Ok when PING was answered; the error says why not (refused, timeout,
  /// authentication, TLS).
  virtual Result<void> ping(const RedisTarget& target) = 0;
};

/// The real one: a fresh connection per call (connect timeout 1 s, read
/// timeout 2 s), closed afterwards.
std::unique_ptr<RedisPinger> makeRedisPinger(Clock& clock);

}  // namespace shoal::probe
