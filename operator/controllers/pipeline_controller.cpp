// Pipeline reconciler: source readiness, pool aggregation, opt-in finalizer.
#include "shoal/controllers/pipeline_controller.h"

#include <algorithm>
#include <cmath>

#include "shoal/controllers/backlog_status.h"
#include "shoal/controllers/conditions.h"
#include "shoal/controllers/worker_pool_controller.h"

namespace shoal::controllers {

using nlohmann::json;

namespace {

// " (its 8 shards)" for a sharded source, "" otherwise.
std::string streamsNote(const api::RedisSource& r) {
  return r.shards > 1 ? " (its " + std::to_string(r.shards) + " shards)" : "";
}
std::optional<double> roundRate(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return std::round(*v * 10.0) / 10.0;
}
bool hasFinalizer(const api::Pipeline& p, const std::string& f) {
  return std::find(p.metadata.finalizers.begin(), p.metadata.finalizers.end(), f) !=
         p.metadata.finalizers.end();
}
}  // namespace

api::PipelineStatus computePipelineStatus(const PipelineStatusInputs& in) {
  const api::Pipeline& p = *in.pipeline;
  const int64_t gen = p.metadata.generation;
  api::PipelineStatus st = p.status;
  st.observedGeneration = gen;
  st.sink = p.spec.sink.kind;
  st.backlog = {};
  st.arrivalRate.reset();
  st.consumptionRate.reset();
  st.pools.clear();
  for (const auto& pool : in.pools) {
    const api::Condition* r = findCondition(pool.status.conditions, kConditionReady);
    st.pools.push_back(api::PoolSummary{pool.metadata.name, pool.status.replicas,
                                        pool.status.readyReplicas,
                                        r != nullptr && r->status == api::kTrue});
  }
  std::sort(st.pools.begin(), st.pools.end(),
            [](const api::PoolSummary& a, const api::PoolSummary& b) { return a.name < b.name; });

  auto& c = st.conditions;
  ensureConditions(c, {kConditionSourceReady, kConditionReady}, "Reconciling", gen, in.now);

  bool sourceReady = false;
  if (!in.sourceProblem.empty()) {
    setCondition(c, kConditionSourceReady, api::kFalse, in.sourceProblemReason, in.sourceProblem,
                 gen, in.now);
  } else if (in.reading && !in.reading->ok) {
    setCondition(c, kConditionSourceReady, api::kFalse, probe::failureReason(in.reading->failure),
                 in.reading->error, gen, in.now);
  } else if (in.reading) {
    sourceReady = true;
    st.backlog = backlogStatusOf(*in.reading);
    st.arrivalRate = roundRate(in.reading->arrivalRate);
    st.consumptionRate = roundRate(in.reading->consumptionRate);
    setCondition(c, kConditionSourceReady, api::kTrue, "SourceAvailable",
                 "Redis is reachable; stream " + p.spec.redis.stream + " and consumer group " +
                     p.spec.redis.consumerGroup + " exist.",
                 gen, in.now);
  }

  if (!p.spec.retention) {
    st.retention.reset();
    std::erase_if(c, [](const api::Condition& x) { return x.type == kConditionRetentionLimited; });
  } else {
    if (!st.retention) st.retention = api::RetentionStatus{};
    if (in.retention) {
      *st.retention = retentionStatusAfter(*st.retention, *in.retention, in.now);
      const RetentionCondition rc = retentionCondition(*p.spec.retention, *in.retention);
      setCondition(c, kConditionRetentionLimited, rc.status, rc.reason, rc.message, gen, in.now);
    } else {
      ensureConditions(c, {kConditionRetentionLimited}, "Reconciling", gen, in.now);
    }
  }

  std::vector<std::string> notReady;
  for (const auto& pool : in.pools) {
    const api::Condition* r = findCondition(pool.status.conditions, kConditionReady);
    if (r == nullptr || r->status != api::kTrue) notReady.push_back(pool.metadata.name);
  }
  if (!sourceReady) {
    const api::Condition* s = findCondition(c, kConditionSourceReady);
    setCondition(c, kConditionReady, api::kFalse, "SourceNotReady",
                 "The source is not ready: " + (s ? s->message : std::string("unknown")), gen,
                 in.now);
  } else if (in.pools.empty()) {
    setCondition(c, kConditionReady, api::kFalse, "NoWorkerPools",
                 "No WorkerPool references this Pipeline.", gen, in.now);
  } else if (!notReady.empty()) {
    std::string names;
    for (const auto& n : notReady) names += (names.empty() ? "" : ", ") + n;
    setCondition(c, kConditionReady, api::kFalse, "WorkerPoolsNotReady",
                 "WorkerPools not ready: " + names + ".", gen, in.now);
  } else {
    setCondition(c, kConditionReady, api::kTrue, "WorkerPoolsReady",
                 "The source is ready and all " + std::to_string(in.pools.size()) +
                     " WorkerPools are ready.",
                 gen, in.now);
  }
  return st;
}

PipelineReconciler::PipelineReconciler(ResourceStore& store, EventSink& events,
                                       probe::BacklogProbe& probe, Clock& clock,
                                       Duration pollInterval, RetentionMetrics* metrics)
    : store_(store), events_(events), probe_(probe), clock_(clock), poll_(pollInterval), metrics_(metrics) {}

bool PipelineReconciler::takeRetentionRound(const api::Pipeline& p, Duration* wait) {
  const Duration interval = std::chrono::seconds(p.spec.retention->intervalSeconds);
  const MonoTime now = clock_.now();
  std::lock_guard lock(mu_);
  LastRound& last = lastRetention_[p.metadata.namespace_ + "/" + p.metadata.name];
  if (last.uid == p.metadata.uid && last.at != MonoTime{} && now - last.at < interval) {
    *wait = interval - (now - last.at);
    return false;
  }
  last = {p.metadata.uid, now};
  *wait = interval;
  return true;
}

ReconcileResult PipelineReconciler::reconcile(const std::string& ns, const std::string& name) {
  auto got = store_.getPipeline(ns, name);
  if (!got.ok()) return got.error();
  if (!got.value()) {
    {
      std::lock_guard lock(mu_);
      lastRetention_.erase(ns + "/" + name);
    }
    if (metrics_ != nullptr) metrics_->forgetPipeline(ns, name);
    return Action::await();
  }
  const api::Pipeline p = std::move(*got.value());
  const EventTarget target{api::kPipelineKind, ns, name, p.metadata.uid};
  const bool wantsFinalizer = p.spec.consumerGroupDeletionPolicy == api::kDeleteConsumerGroup;
  auto redisTarget = redisTargetOf(p, store_);

  if (p.metadata.deletionTimestamp) {
    if (!hasFinalizer(p, api::kConsumerGroupFinalizer)) return Action::await();
    if (wantsFinalizer) {
      if (!redisTarget.ok()) return redisTarget.error();
      for (const std::string& stream : p.spec.redis.streams()) {
        auto d = probe_.destroyGroup(redisTarget.value(), stream, p.spec.redis.consumerGroup);
        if (!d.ok()) {
          events_.record(target, "Warning", "ConsumerGroupDeletionFailed", d.error().message);
          return d.error();
        }
      }
      events_.record(target, "Normal", "ConsumerGroupDeleted",
                     "Deleted consumer group " + p.spec.redis.consumerGroup + " of stream " +
                         p.spec.redis.stream + streamsNote(p.spec.redis) + ".");
    }
    auto r = store_.setPipelineFinalizer(p, api::kConsumerGroupFinalizer, false);
    if (!r.ok()) return r.error();
    return Action::await();
  }
  if (wantsFinalizer != hasFinalizer(p, api::kConsumerGroupFinalizer)) {
    auto r = store_.setPipelineFinalizer(p, api::kConsumerGroupFinalizer, wantsFinalizer);
    if (!r.ok()) return r.error();
  }

  PipelineStatusInputs in;
  in.pipeline = &p;
  in.now = clock_.wallNow();
  if (!redisTarget.ok()) {
    in.sourceProblemReason = "SecretNotFound";
    in.sourceProblem = redisTarget.error().message;
  } else {
    in.reading = probe_.read(redisTarget.value(), p.spec.redis.streams(), p.spec.redis.consumerGroup,
                             std::chrono::seconds(1));
    if (!in.reading->ok && (in.reading->failure == probe::ReadFailure::kGroupNotFound ||
                            in.reading->failure == probe::ReadFailure::kStreamNotFound)) {
      // The group is created where the workers would create it, so the
      // backlog is measurable before the first worker starts.
      Result<void> created;
      for (const std::string& stream : p.spec.redis.streams()) {
        created = probe_.ensureGroup(redisTarget.value(), stream, p.spec.redis.consumerGroup,
                                                 p.spec.redis.startId);
        if (!created.ok()) break;
      }
      if (created.ok()) {
        events_.record(target, "Normal", "ConsumerGroupCreated",
                       "Created consumer group " + p.spec.redis.consumerGroup + " on stream " +
                           p.spec.redis.stream + streamsNote(p.spec.redis) + " at " + p.spec.redis.startId + ".");
        in.reading = probe_.read(redisTarget.value(), p.spec.redis.streams(), p.spec.redis.consumerGroup,
                                 Duration::zero());
      }
    }
  }
  // Retention trims only while the Pipeline's own group exists on every
  // shard (the reading is ok, and the trim step checks it again atomically):
  // a group not yet created has read nothing, and the other groups alone
  // must not decide what it will never see.
  Duration requeue = poll_;
  if (p.spec.retention) {
    Duration wait{};
    if (in.reading && in.reading->ok && takeRetentionRound(p, &wait)) {
      const auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(in.now.time_since_epoch()).count();
      const auto streams = p.spec.redis.streams();
      const auto rule = retentionRuleOf(*p.spec.retention, p.spec.redis.consumerGroup);
      in.retention = summarizeRetention(streams, probe_.trim(redisTarget.value(), streams, rule, nowMs));
      for (const RetentionEvent& e : retentionEvents(*p.spec.retention, *in.retention))
        events_.record(target, e.type, e.reason, e.message);
      if (metrics_ != nullptr)
        metrics_->retentionTrimmed(ns, name, in.retention->trimmed, in.retention->droppedUnconsumed);
    }
    if (wait > Duration::zero()) requeue = std::min(requeue, wait);
  }
  auto pools = store_.listWorkerPools(ns);
  if (!pools.ok()) return pools.error();
  for (auto& pool : pools.value()) {
    if (pool.spec.pipelineRef == name && !pool.metadata.deletionTimestamp) {
      in.pools.push_back(std::move(pool));
    }
  }
  auto st = computePipelineStatus(in);
  json next = api::toJson(st);
  if (next != api::toJson(p.status)) {
    auto w = store_.writePipelineStatus(p, next);
    if (!w.ok()) return w.error();
  }
  return Action::requeue(requeue);
}

}  // namespace shoal::controllers
