// The receiver's self-metrics (Prometheus, shoal_receiver_*) and readiness:
// the ReceiverStats of the request path and the Observer of the backlog
// monitor in one place. Thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>

#include "shoal/receiver/backpressure.h"
#include "shoal/receiver/receiver.h"

namespace shoal::receiver {

class ReceiverMetrics final : public ReceiverStats, public BacklogMonitor::Observer {
 public:
  explicit ReceiverMetrics(prometheus::Registry& registry);

  void request(std::string_view path, int status) override;
  void accepted(std::string_view stream, int64_t entries) override;
  void rejected(std::string_view reason, int64_t entries) override;
  void throttled(int64_t entries) override;
  void writeOutcome(bool reachedRedis) override { redisReachable_.store(reachedRedis); }

  void measured(const std::string& stream, const StreamLoad& load, bool throttled) override;
  void reachable(bool ok) override { redisReachable_.store(ok); }

  /// One XADD pipeline's round trip.
  void xaddLatency(double seconds) { xadd_.Observe(seconds); }
  /// What /readyz answers: Redis answered the last write or check.
  bool redisReachable() const { return redisReachable_.load(); }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& accepted_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Counter& throttled_;
  prometheus::Histogram& xadd_;
  prometheus::Family<prometheus::Gauge>& backlog_;
  prometheus::Family<prometheus::Gauge>& throttling_;
  std::atomic<bool> redisReachable_{false};
};

}  // namespace shoal::receiver
