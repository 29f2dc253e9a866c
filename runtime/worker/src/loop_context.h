// What the parts of the consumer loop share: the config and the clock, the
// shutdown flags, the batches held (read ahead, in flight, claimed but not
// yet batched) and the counters, plus the Redis-health bookkeeping every part
// reports failures through. Private to the worker module (consumer_loop.h
// describes the loop as a whole).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "shoal/common/backoff.h"
#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/stream/pipeline_config.h"
#include "shoal/stream/stream_entry.h"
#include "shoal/worker/consumer_group_port.h"
#include "shoal/worker/loop_stats.h"

namespace shoal::worker_detail {

/// The loop's Prometheus series (labels: stream, group).
struct LoopMetrics {
  prometheus::Counter* read;
  prometheus::Counter* delivered;
  /// shoal_worker_entries_dead_lettered_total by reason kind (kDeadLetterKinds).
  std::map<std::string_view, prometheus::Counter*> deadLettered;
  prometheus::Counter* retried;
  prometheus::Counter* claimed;
  prometheus::Counter* redisErrors;
  prometheus::Histogram* batchSeconds;
  prometheus::Gauge* pending;
  prometheus::Gauge* lag;
  /// Delivery pipelines (consumer loops) of this process on the stream: the
  /// series above are their sum (delivery.parallelism shares them).
  prometheus::Gauge* pipelines;

  LoopMetrics(prometheus::Registry& reg, const PipelineConfig& c);
};

using Batch = std::shared_ptr<const std::vector<StreamEntry>>;

/// \brief Shared state of one ConsumerLoop. The atomics are thread-safe; the
/// rest is guarded by `mu` as marked.
struct LoopContext {
  LoopContext(const PipelineConfig& c, Clock& clk, prometheus::Registry& registry);
  ~LoopContext();
  LoopContext(const LoopContext&) = delete;
  LoopContext& operator=(const LoopContext&) = delete;

  /// A failed call: counted, logged (warn once per outage, then debug for
  /// I/O errors), and the source marked unreachable.
  void onRedisError(const Error& e, const char* what);
  /// A call succeeded: reachable again (logged after an outage).
  void markReachable();
  /// Waits before retrying a failed call on `port`: the longer of its
  /// reconnect delay and the backoff's next step, on the clock, in slices so
  /// that cancel() is seen promptly.
  void waitBeforeRetry(const ConsumerGroupPort& port, Backoff& backoff);
  /// Counts `n` entries read (stats and metric).
  void countRead(int64_t n);

  const PipelineConfig& config;
  Clock& clock;
  LoopMetrics metrics;
  CancelToken cancel;
  std::atomic<bool> stop{false};
  std::atomic<bool> reachable{false};
  std::atomic<bool> warnedDown{false};  // the current outage was logged at warn
  std::atomic<bool> groupReady{false};
  std::atomic<bool> ownPendingDone{false};

  mutable std::mutex mu;  // guards claimed, inFlight, inFlightSince, ready, readySince, stats
  std::deque<StreamEntry> claimed;  // claimed by the sweep, not yet batched
  Batch inFlight;                   // the batch in handle()
  MonoTime inFlightSince{};
  Batch ready;  // read ahead, not yet handled
  MonoTime readySince{};
  std::condition_variable readyCv;  // ready filled or emptied, or stop
  LoopStats stats;
};

}  // namespace shoal::worker_detail
