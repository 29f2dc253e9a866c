// The operator's Prometheus metrics. See operator_metrics.h.
#include "operator_metrics.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace shoal::operator_app {

namespace {

prometheus::Family<prometheus::Gauge>& gaugeFamily(prometheus::Registry& reg, const char* name,
                                                   const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(reg);
}

}  // namespace

OperatorMetrics::OperatorMetrics(prometheus::Registry& reg)
    : reconciles_(prometheus::BuildCounter()
                      .Name("shoal_operator_reconciles_total")
                      .Help("Reconciles by controller and result")
                      .Register(reg)),
      durations_(prometheus::BuildHistogram()
                     .Name("shoal_operator_reconcile_duration_seconds")
                     .Help("Reconcile duration by controller")
                     .Register(reg)),
      backlog_(gaugeFamily(
          reg, "shoal_workerpool_backlog",
          "Backlog (lag + pending) of the pool's consumer group; absent when unknown")),
      lag_(gaugeFamily(
          reg, "shoal_workerpool_lag",
          "Lag of the pool's consumer group (entries not yet delivered); absent when unknown")),
      pending_(gaugeFamily(reg, "shoal_workerpool_pending",
                           "Pending (delivered, unacknowledged) entries of the pool's consumer "
                           "group; absent when unknown")),
      arrival_(gaugeFamily(reg, "shoal_workerpool_arrival_rate",
                           "Entries added to the stream per second, as the scaler measured it; "
                           "absent until measured")),
      consumption_(gaugeFamily(reg, "shoal_workerpool_consumption_rate",
                               "Entries the pool's consumer group read per second, as the scaler "
                               "measured it; absent until measured")),
      drainEstimate_(gaugeFamily(reg, "shoal_workerpool_estimated_drain_seconds",
                                 "Seconds to clear the backlog at the desired replicas; absent "
                                 "when it would never drain or is unknown")),
      drainTarget_(gaugeFamily(reg, "shoal_workerpool_drain_target_seconds",
                               "spec.scaling.drainSeconds of drainTime pools (absent for "
                               "targetBacklogPerReplica)")),
      backlogSince_(gaugeFamily(reg, "shoal_workerpool_backlog_since_timestamp_seconds",
                                "When the backlog the drainTime scaler is clearing formed (Unix "
                                "time); absent while there is none")),
      hottestShard_(gaugeFamily(reg, "shoal_workerpool_hottest_shard_backlog",
                                "Backlog (lag + pending) of the pool's busiest shard stream "
                                "(status.backlog.hottestShard names it); absent unless sharded")),
      shards_(gaugeFamily(reg, "shoal_workerpool_shards",
                          "Shard streams summed into the pool's backlog; absent unless sharded")),
      desired_(gaugeFamily(reg, "shoal_workerpool_desired_replicas", "Replicas the scaler wants")),
      replicas_(gaugeFamily(reg, "shoal_workerpool_replicas", "Worker replicas running")),
      ready_(gaugeFamily(reg, "shoal_workerpool_ready_replicas", "Worker replicas ready")),
      minReplicas_(
          gaugeFamily(reg, "shoal_workerpool_min_replicas", "spec.minReplicas of the pool")),
      maxReplicas_(
          gaugeFamily(reg, "shoal_workerpool_max_replicas", "spec.maxReplicas of the pool")),
      conditions_(gaugeFamily(
          reg, "shoal_workerpool_condition",
          "1 for each status condition of the pool, with its status and reason")),
      scaled_(prometheus::BuildCounter()
                  .Name("shoal_workerpool_scaled_total")
                  .Help("Times the scaler changed the pool's replicas, by direction and the "
                        "decision's reason")
                  .Register(reg)),
      probeErrors_(prometheus::BuildCounter()
                       .Name("shoal_operator_backlog_probe_errors_total")
                       .Help("Backlog reads (Redis round trips) that failed, by the reason the "
                             "conditions give")
                       .Register(reg)),
      retentionTrimmed_(prometheus::BuildCounter()
                            .Name("shoal_retention_trimmed_total")
                            .Help("Stream entries the Pipeline's retention trimmed after every consumer group "
                                  "had read and acknowledged them")
                            .Register(reg)),
      retentionDropped_(prometheus::BuildCounter()
                            .Name("shoal_retention_dropped_unconsumed_total")
                            .Help("Stream entries dropped over the Pipeline's retention.maxLength before some "
                                  "consumer group had acknowledged them (onFull: dropOldest)")
                            .Register(reg)),
      leader_(prometheus::BuildGauge()
                  .Name("shoal_operator_leader")
                  .Help("1 while this process is the leader and runs the controllers (always "
                        "without --leader-elect), 0 while it is a standby")
                  .Register(reg)
                  .Add({})) {
  // Every reason exists from the start at 0, so rate() and alerts see the
  // first failure as an increase rather than as a new series.
  for (auto f : {probe::ReadFailure::kUnreachable, probe::ReadFailure::kStreamNotFound,
                 probe::ReadFailure::kGroupNotFound, probe::ReadFailure::kAuth,
                 probe::ReadFailure::kProtocol}) {
    probeErrors_.Add({{"reason", probe::failureReason(f)}});
  }
  // Likewise each controller's results, so an error ratio is defined from the
  // first reconcile on and the first error is counted by rate().
  for (const char* controller : {"workerpool", "pipeline"}) {
    for (const char* result : {"success", "error"}) {
      reconciles_.Add({{"controller", controller}, {"result", result}});
    }
  }
}

void OperatorMetrics::reconciled(const std::string& controller, bool ok, double seconds) {
  reconciles_.Add({{"controller", controller}, {"result", ok ? "success" : "error"}}).Increment();
  durations_
      .Add({{"controller", controller}},
           prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25, 0.5, 1, 2.5, 5})
      .Observe(seconds);
}

void OperatorMetrics::setLeader(bool leading) {
  leader_.Set(leading ? 1 : 0);
}

namespace {

/// Removes the series with labels l if it exists.
template <typename M>
void removeIfPresent(prometheus::Family<M>& fam, const prometheus::Labels& l) {
  if (fam.Has(l)) fam.Remove(&fam.Add(l));
}

/// Removes every series remembered for `key` in `known`, and forgets them.
template <typename M>
void forgetTracked(prometheus::Family<M>& fam, std::map<std::string, std::vector<prometheus::Labels>>& known,
                   const std::string& key) {
  if (auto it = known.find(key); it != known.end()) {
    for (const auto& l : it->second) removeIfPresent(fam, l);
    known.erase(it);
  }
}

/// Sets the pool's series to v, or removes it when v is unknown (absent, never 0).
template <typename T>
void setOrRemove(prometheus::Family<prometheus::Gauge>& fam, const prometheus::Labels& l,
                 const std::optional<T>& v) {
  if (v) {
    fam.Add(l).Set(static_cast<double>(*v));
  } else {
    removeIfPresent(fam, l);
  }
}

std::string poolKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

}  // namespace

void OperatorMetrics::observePool(const api::WorkerPool& pool, const api::WorkerPoolStatus& st) {
  prometheus::Labels l{{"namespace", pool.metadata.namespace_}, {"pool", pool.metadata.name}};
  const auto scaling = controllers::scalingSpecOf(pool);
  std::optional<double> drainTarget;
  if (scaling.scaling.policy == policy::ScalingPolicyKind::kDrainTime) {
    drainTarget = scaling.scaling.drainSeconds;
  }
  std::optional<double> backlogSince;
  if (st.scaler.backlogSince) {
    if (auto t = api::parseTime(*st.scaler.backlogSince)) {
      backlogSince = std::chrono::duration<double>(t->time_since_epoch()).count();
    }
  }
  std::lock_guard lock(mu_);
  setOrRemove(backlog_, l, st.backlog.total);
  setOrRemove(lag_, l, st.backlog.lag);
  setOrRemove(pending_, l, st.backlog.pending);
  setOrRemove(arrival_, l, st.arrivalRate);
  setOrRemove(consumption_, l, st.consumptionRate);
  setOrRemove(drainEstimate_, l, st.estimatedDrainSeconds);
  setOrRemove(drainTarget_, l, drainTarget);
  setOrRemove(backlogSince_, l, backlogSince);
  setOrRemove(hottestShard_, l, st.backlog.hottestShardTotal);
  setOrRemove(shards_, l, st.backlog.shards);
  desired_.Add(l).Set(st.desiredReplicas);
  replicas_.Add(l).Set(st.replicas);
  ready_.Add(l).Set(st.readyReplicas);
  minReplicas_.Add(l).Set(scaling.minReplicas);
  maxReplicas_.Add(l).Set(scaling.maxReplicas);

  auto& previous = conditionLabels_[poolKey(pool.metadata.namespace_, pool.metadata.name)];
  std::vector<prometheus::Labels> now;
  for (const auto& c : st.conditions) {
    prometheus::Labels cl = l;
    cl.emplace("condition", c.type);
    cl.emplace("status", c.status);
    cl.emplace("reason", c.reason);
    conditions_.Add(cl).Set(1);
    now.push_back(std::move(cl));
  }
  for (const auto& old : previous) {
    if (std::find(now.begin(), now.end(), old) == now.end()) removeIfPresent(conditions_, old);
  }
  previous = std::move(now);
}

void OperatorMetrics::forgetPool(const std::string& ns, const std::string& name) {
  prometheus::Labels l{{"namespace", ns}, {"pool", name}};
  std::lock_guard lock(mu_);
  for (auto* fam : {&backlog_, &lag_, &pending_, &arrival_, &consumption_, &drainEstimate_,
                    &drainTarget_, &backlogSince_, &hottestShard_, &shards_, &desired_, &replicas_, &ready_,
                    &minReplicas_, &maxReplicas_}) {
    removeIfPresent(*fam, l);
  }
  forgetTracked(conditions_, conditionLabels_, poolKey(ns, name));
  forgetTracked(scaled_, scaledLabels_, poolKey(ns, name));
}

void OperatorMetrics::scaled(const api::WorkerPool& pool, int32_t from, int32_t to,
                             std::string_view reason) {
  if (from == to) return;
  prometheus::Labels l{{"namespace", pool.metadata.namespace_},
                       {"pool", pool.metadata.name},
                       {"direction", to > from ? "up" : "down"},
                       {"reason", std::string(reason)}};
  std::lock_guard lock(mu_);
  auto& known = scaledLabels_[poolKey(pool.metadata.namespace_, pool.metadata.name)];
  if (std::find(known.begin(), known.end(), l) == known.end()) known.push_back(l);
  scaled_.Add(l).Increment();
}

void OperatorMetrics::readFailed(probe::ReadFailure failure) {
  probeErrors_.Add({{"reason", probe::failureReason(failure)}}).Increment();
}

void OperatorMetrics::retentionTrimmed(const std::string& ns, const std::string& pipeline, int64_t acknowledged,
                                       int64_t droppedUnconsumed) {
  const prometheus::Labels l{{"namespace", ns}, {"pipeline", pipeline}};
  std::lock_guard lock(mu_);  // forgetPipeline removes these series
  retentionTrimmed_.Add(l).Increment(static_cast<double>(std::max<int64_t>(0, acknowledged)));
  retentionDropped_.Add(l).Increment(static_cast<double>(std::max<int64_t>(0, droppedUnconsumed)));
}

void OperatorMetrics::forgetPipeline(const std::string& ns, const std::string& name) {
  const prometheus::Labels l{{"namespace", ns}, {"pipeline", name}};
  std::lock_guard lock(mu_);
  removeIfPresent(retentionTrimmed_, l);
  removeIfPresent(retentionDropped_, l);
}

}  // namespace shoal::operator_app
