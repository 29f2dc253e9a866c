// The consumer loop's shared state: metrics, Redis-health bookkeeping and the
// retry wait. See loop_context.h.
#include "loop_context.h"

#include <algorithm>
#include <limits>
#include <string>

#include "shoal/common/log.h"
#include "shoal/stream/dead_letter.h"

namespace shoal::worker_detail {

LoopMetrics::LoopMetrics(prometheus::Registry& reg, const PipelineConfig& c) {
  const prometheus::Labels l{{"stream", c.redis.stream}, {"group", c.redis.consumerGroup}};
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(reg).Add(l);
  };
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(reg).Add(l);
  };
  read = counter("shoal_worker_entries_read_total",
                 "Stream entries read (new, own pending and claimed).");
  delivered = counter("shoal_worker_entries_delivered_total",
                      "Entries the sink confirmed and that were acknowledged.");
  auto& dead = prometheus::BuildCounter()
                   .Name("shoal_worker_entries_dead_lettered_total")
                   .Help("Entries moved to the dead-letter stream, by reason kind (parse, invalid, oversize, "
                         "max_deliveries, sink_rejected, other).")
                   .Register(reg);
  for (std::string_view kind : kDeadLetterKinds) {
    prometheus::Labels withReason = l;
    withReason["reason"] = std::string(kind);
    deadLettered[kind] = &dead.Add(withReason);
  }
  retried = counter("shoal_worker_entries_retried_total", "Entries left pending for redelivery.");
  claimed = counter("shoal_worker_entries_claimed_total",
                    "Entries reclaimed from idle consumers with XAUTOCLAIM.");
  redisErrors = counter("shoal_worker_redis_errors_total",
                        "Failed Redis calls (I/O, protocol, server errors).");
  batchSeconds = &prometheus::BuildHistogram()
                      .Name("shoal_worker_batch_duration_seconds")
                      .Help("Time to handle and acknowledge one batch.")
                      .Register(reg)
                      .Add(l, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005,
                                                                      0.01, 0.025, 0.05, 0.1, 0.25,
                                                                      0.5, 1, 2.5, 5, 10});
  pending = gauge("shoal_worker_group_pending",
                  "Pending (delivered, unacknowledged) entries of the group.");
  lag = gauge("shoal_worker_group_lag",
              "Lag of the group (entries not yet delivered); NaN when Redis reports nil.");
  lag->Set(std::numeric_limits<double>::quiet_NaN());
  pipelines = gauge("shoal_worker_delivery_pipelines",
                    "Delivery pipelines (consumers in the group) this process runs on the stream.");
}

LoopContext::LoopContext(const PipelineConfig& c, Clock& clk, prometheus::Registry& registry)
    : config(c), clock(clk), metrics(registry, c) {
  metrics.pipelines->Increment();
}

LoopContext::~LoopContext() { metrics.pipelines->Decrement(); }

void LoopContext::onRedisError(const Error& e, const char* what) {
  metrics.redisErrors->Increment();
  reachable.store(false);
  const bool firstFailure = !warnedDown.exchange(true);
  nlohmann::json f{{"op", what},
                   {"error", e.message},
                   {"redis", config.redis.host + ":" + std::to_string(config.redis.port)}};
  if (firstFailure || e.code != Errc::kIo)
    log::warn("redis call failed", f);
  else
    log::debug("redis call failed", f);
}

void LoopContext::markReachable() {
  if (!reachable.exchange(true) && warnedDown.exchange(false)) log::info("redis reachable again");
}

void LoopContext::waitBeforeRetry(const ConsumerGroupPort& port, Backoff& backoff) {
  Duration d = std::max(port.retryDelay(), backoff.next());
  // Sleep in slices so that a cancel is seen promptly.
  const Duration slice = std::chrono::milliseconds(50);
  while (d > Duration::zero() && !cancel.cancelled()) {
    Duration s = std::min(d, slice);
    clock.sleepFor(s);
    d -= s;
  }
}

void LoopContext::countRead(int64_t n) {
  {
    std::lock_guard lk(mu);
    stats.read += n;
  }
  metrics.read->Increment(static_cast<double>(n));
}

}  // namespace shoal::worker_detail
