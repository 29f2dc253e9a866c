// The operator's Prometheus metrics (served on /metrics): reconciles, the
// pools' backlog, rates, drain estimate, replicas, limits, conditions and
// scale changes, failed backlog reads by reason, what retention trimmed and
// dropped per Pipeline, and whether this process is the leader. Every family is named in the README's metrics reference; keep
// the two in step.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "shoal/controllers/retention.h"
#include "shoal/controllers/worker_pool_controller.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::operator_app {

/// \brief The operator's metrics in one registry. Thread-safe (prometheus-cpp
/// families are; the pool gauges' add/remove pairs take a lock).
class OperatorMetrics final : public controllers::PoolMetrics,
                              public controllers::RetentionMetrics,
                              public probe::ProbeObserver {
 public:
  explicit OperatorMetrics(prometheus::Registry& reg);

  void reconciled(const std::string& controller, bool ok, double seconds);
  /// shoal_operator_leader: 1 while this process leads (and so runs the
  /// controllers), 0 while it is a standby.
  void setLeader(bool leading);

  void observePool(const api::WorkerPool& pool, const api::WorkerPoolStatus& st) override;
  void forgetPool(const std::string& ns, const std::string& name) override;
  /// shoal_workerpool_scaled_total{direction, reason}.
  void scaled(const api::WorkerPool& pool, int32_t from, int32_t to,
              std::string_view reason) override;
  void readFailed(probe::ReadFailure failure) override;
  /// shoal_retention_trimmed_total and shoal_retention_dropped_unconsumed_total
  /// {namespace, pipeline}; both exist (at 0) from the Pipeline's first round.
  void retentionTrimmed(const std::string& ns, const std::string& pipeline, int64_t acknowledged,
                        int64_t droppedUnconsumed) override;
  void forgetPipeline(const std::string& ns, const std::string& name) override;

 private:
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Gauge>& backlog_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& pending_;
  prometheus::Family<prometheus::Gauge>& arrival_;
  prometheus::Family<prometheus::Gauge>& consumption_;
  prometheus::Family<prometheus::Gauge>& drainEstimate_;
  prometheus::Family<prometheus::Gauge>& drainTarget_;
  prometheus::Family<prometheus::Gauge>& backlogSince_;
  prometheus::Family<prometheus::Gauge>& hottestShard_;
  prometheus::Family<prometheus::Gauge>& shards_;
  prometheus::Family<prometheus::Gauge>& desired_;
  prometheus::Family<prometheus::Gauge>& replicas_;
  prometheus::Family<prometheus::Gauge>& ready_;
  prometheus::Family<prometheus::Gauge>& minReplicas_;
  prometheus::Family<prometheus::Gauge>& maxReplicas_;
  /// shoal_workerpool_condition: 1 per (condition, status, reason) a pool has
  /// now; the labels of each pool's series, so a changed reason replaces the
  /// old series instead of leaving it behind.
  prometheus::Family<prometheus::Gauge>& conditions_;
  std::map<std::string, std::vector<prometheus::Labels>> conditionLabels_;
  prometheus::Family<prometheus::Counter>& scaled_;
  /// The labels of each pool's scaled_ series, to remove with the pool.
  std::map<std::string, std::vector<prometheus::Labels>> scaledLabels_;
  prometheus::Family<prometheus::Counter>& probeErrors_;
  prometheus::Family<prometheus::Counter>& retentionTrimmed_;
  prometheus::Family<prometheus::Counter>& retentionDropped_;
  prometheus::Gauge& leader_;
  std::mutex mu_;
};

}  // namespace shoal::operator_app
