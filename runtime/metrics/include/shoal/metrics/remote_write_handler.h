// The Prometheus remote write 1.0 sink of the metrics pipeline.
//
// Per batch:
//  1. entries -> events (invalid ones dead-lettered) -> samples, grouped by
//     series (sorted label set incl. __name__); each series' samples sorted by
//     timestamp (stable). Two samples of one series with the same timestamp
//     in one batch: the later entry's value is sent, both entries count as
//     delivered (Prometheus keeps one value per timestamp and would reject
//     the whole request for the other).
//  2. series -> shard by a stable label hash (like Prometheus' own queue
//     manager), so one series is only ever sent by one shard; shards send in
//     parallel, each its requests strictly in order, at most
//     maxSamplesPerRequest samples per request. handle() calls are
//     sequential, so a series' samples also stay ordered across requests and
//     batches.
//  3. Response classes:
//     - 2xx: delivered.
//     - no answer, 429, 5xx: the same request again after jittered backoff
//       (retryInitial..retryMax), for as long as it takes; only a cancelled
//       token ends that, and then the entries concerned come back kRetry.
//     - 400: Prometheus rejects a whole request for one bad sample (out of
//       order, duplicate, out of bounds, ...). The request is bisected (first
//       half before second half, so per-series order holds) until the
//       rejected samples are isolated; everything else gets delivered.
//       A lone rejected sample whose entry was delivered before (deliveries >
//       1) and whose rejection says "out of order" or "duplicate sample" is
//       taken as already ingested (a redelivery after a crash before XACK):
//       the entry counts as delivered. Otherwise the entry is dead-lettered
//       with Prometheus' message.
//     - other 4xx (401, 403, 404, 413, ...): every entry of that request is
//       dead-lettered with the status and body (no bisect: it is not about
//       one sample).
//  An entry whose samples partly failed is dead-lettered (some of its series
//  may already be stored; Prometheus has no way to take them back).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/http/transport.h"
#include "shoal/metrics/metrics_config.h"
#include "shoal/metrics/metrics_transform.h"
#include "shoal/stream/batch_handler.h"

namespace shoal::metrics {

/// \brief BatchHandler for spec.sink.prometheusRemoteWrite. handle() is
/// called from one thread at a time; it uses `shards` threads internally.
class RemoteWriteHandler final : public BatchHandler {
 public:
  /// `transports` makes one http::Transport per shard (to the URL's base).
  RemoteWriteHandler(RemoteWriteConfig cfg, TransformConfig transform, Clock& clock,
                     http::TransportFactory transports, prometheus::Registry* registry);
  ~RemoteWriteHandler() override;

  std::vector<EntryResult> handle(std::span<const StreamEntry> entries, const CancelToken& cancel) override;
  bool sinkReady() override;
  std::string sinkName() const override { return "prometheusRemoteWrite"; }

  /// Requests sent so far (all shards), for tests.
  uint64_t requestsSent() const;

 private:
  struct Shard;
  RemoteWriteConfig cfg_;
  std::string path_;
  Clock& clock_;
  MetricsTransform transform_;
  std::vector<std::unique_ptr<Shard>> shards_;
  prometheus::Counter* samplesSent_ = nullptr;
  prometheus::Counter* samplesRejected_ = nullptr;
  prometheus::Counter* retries_ = nullptr;
  prometheus::Counter* invalidEvents_ = nullptr;
};

}  // namespace shoal::metrics
