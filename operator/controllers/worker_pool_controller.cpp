// WorkerPool reconciler: probe, decide, converge, report.
#include "shoal/controllers/worker_pool_controller.h"

#include <cmath>

#include "shoal/common/log.h"
#include "shoal/controllers/backlog_status.h"
#include "shoal/controllers/conditions.h"
#include "shoal/controllers/render.h"
#include "shoal/controllers/scaler_memory.h"

namespace shoal::controllers {

using nlohmann::json;

namespace {

std::optional<double> roundRate(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return std::round(*v * 10.0) / 10.0;
}

// "spec.a must be ...; spec.b must be ..." for the condition and the Event.
std::string specProblemsText(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "spec." : "; spec.") + p;
  return out;
}

std::string countText(int32_t n) {
  return std::to_string(n) + (n == 1 ? " worker" : " workers");
}

}  // namespace

policy::ScalingSpec scalingSpecOf(const api::WorkerPool& pool) {
  policy::ScalingSpec s;
  s.minReplicas = pool.spec.minReplicas;
  s.maxReplicas = pool.spec.maxReplicas;
  const api::ScalingSpecFields& f = pool.spec.scaling;
  policy::ScalingParameters& p = s.scaling;  // its defaults stand where a field is unset
  auto set = [](auto& target, const auto& field) {
    if (field) target = static_cast<std::remove_reference_t<decltype(target)>>(*field);
  };
  if (auto k = policy::parsePolicyKind(f.policy)) p.policy = *k;
  set(p.drainSeconds, f.drainSeconds);
  set(p.targetBacklogPerReplica, f.targetBacklogPerReplica);
  set(p.perReplicaThroughput, f.perReplicaThroughput);
  set(p.headroom, f.headroom);
  set(p.podStartupSeconds, f.podStartupSeconds);
  p.pollIntervalSeconds = f.pollIntervalSeconds;
  set(p.activationBacklog, f.activationBacklog);
  set(p.idleSeconds, f.idleSeconds);
  set(p.scaleUp.stabilizationSeconds, f.scaleUp.stabilizationSeconds);
  set(p.scaleDown.stabilizationSeconds, f.scaleDown.stabilizationSeconds);
  set(p.scaleDown.maxPodsPerStep, f.scaleDown.maxPodsPerStep);
  set(p.scaleDown.percent, f.scaleDown.percent);
  set(p.scaleDown.periodSeconds, f.scaleDown.periodSeconds);
  if (f.scaleDown.whenIdle) {
    if (auto m = policy::parseIdleScaleDown(*f.scaleDown.whenIdle)) p.scaleDown.whenIdle = *m;
  }
  set(p.deadBand, f.deadBand);
  p.fallbackReplicas = f.fallbackReplicas;
  set(p.failuresBeforeFallback, f.failuresBeforeFallback);
  p.paused = f.paused;
  return s;
}

std::vector<std::string> scalingSpecProblems(const api::WorkerPool& pool) {
  std::vector<std::string> out = policy::validateScalingSpec(scalingSpecOf(pool));
  if (!policy::parsePolicyKind(pool.spec.scaling.policy)) {
    out.push_back("scaling.policy must be drainTime or targetBacklogPerReplica (using drainTime)");
  }
  if (const auto& w = pool.spec.scaling.scaleDown.whenIdle; w && !policy::parseIdleScaleDown(*w)) {
    out.push_back("scaling.scaleDown.whenIdle must be immediate or damped (using immediate)");
  }
  return out;
}

Result<probe::RedisTarget> redisTargetOf(const api::Pipeline& pipeline, ResourceStore& store) {
  return redisTargetOf(pipeline.spec.redis, pipeline.metadata.namespace_,
                       [&](const std::string& ns, const api::SecretKeyRef& ref) {
                         return store.getSecretValue(ns, ref);
                       });
}

Result<probe::RedisTarget> redisTargetOf(const api::RedisSource& r, const std::string& ns,
                                         const SecretLookup& secrets) {
  probe::RedisTarget t;
  t.url = r.url;
  t.address = r.address;
  t.db = r.db;
  t.tls = r.tls;
  t.tlsInsecureSkipVerify = r.tlsInsecureSkipVerify;
  t.cluster = r.cluster;
  t.tlsServerName = r.tlsServerName;
  auto secret = [&](const api::SecretKeyRef& ref, std::string* out) -> Result<void> {
    if (ref.empty()) return {};
    auto v = secrets(ns, ref);
    if (!v.ok()) return v.error();
    if (!v.value()) {
      return makeError(Errc::kNotFound,
                       "Secret " + ref.name + " has no key " + ref.key + " (or does not exist)");
    }
    *out = *v.value();
    return {};
  };
  if (auto e = secret(r.usernameSecretRef, &t.username); !e.ok()) return e.error();
  if (auto e = secret(r.passwordSecretRef, &t.password); !e.ok()) return e.error();
  if (auto e = secret(r.tlsCaSecretRef, &t.tlsCaPem); !e.ok()) return e.error();
  if (!r.tlsClientCertSecretName.empty()) {
    if (auto e = secret({r.tlsClientCertSecretName, "tls.crt"}, &t.tlsCertPem); !e.ok())
      return e.error();
    if (auto e = secret({r.tlsClientCertSecretName, "tls.key"}, &t.tlsKeyPem); !e.ok())
      return e.error();
  }
  return t;
}

api::WorkerPoolStatus computeWorkerPoolStatus(const PoolStatusInputs& in) {
  const api::WorkerPool& pool = *in.pool;
  const int64_t gen = pool.metadata.generation;
  api::WorkerPoolStatus st = pool.status;
  st.observedGeneration = gen;
  st.selector = selectorString(pool);
  st.desiredReplicas = in.desiredReplicas;
  if (in.workload) {
    st.replicas = in.workload->exists ? in.workload->replicas : 0;
    st.readyReplicas = in.workload->exists ? in.workload->readyReplicas : 0;
  }
  if (in.lastScaleTime) st.lastScaleTime = in.lastScaleTime;

  st.backlog = {};
  st.arrivalRate.reset();
  st.consumptionRate.reset();
  st.estimatedDrainSeconds.reset();
  if (in.reading && in.reading->ok) {
    st.backlog = backlogStatusOf(*in.reading);
    st.arrivalRate = roundRate(in.reading->arrivalRate);
    st.consumptionRate = roundRate(in.reading->consumptionRate);
  }
  // Only what this poll measured: after a failed read the rates and the drain
  // estimate are cleared with the backlog, not left at their last values.
  if (in.decision && in.reading && in.reading->ok) {
    if (in.decision->arrivalRate) st.arrivalRate = roundRate(in.decision->arrivalRate);
    if (in.decision->consumptionRate) st.consumptionRate = roundRate(in.decision->consumptionRate);
    st.estimatedDrainSeconds = roundRate(in.decision->estimatedDrainSeconds);
  }

  auto& c = st.conditions;
  ensureConditions(
      c, {kConditionReady, kConditionScalingActive, kConditionScalingLimited, kConditionFallback},
      "Reconciling", gen, in.now);

  if (!in.pipelineProblem.empty()) {
    setCondition(c, kConditionReady, api::kFalse, in.pipelineProblemReason, in.pipelineProblem, gen,
                 in.now);
    setCondition(c, kConditionScalingActive, api::kFalse, in.pipelineProblemReason,
                 in.pipelineProblem, gen, in.now);
    setCondition(c, kConditionScalingLimited, api::kFalse, "NotScaling",
                 "The pool is not being scaled.", gen, in.now);
    return st;
  }

  // Ready: the workers asked for are running and ready on the current template.
  if (!in.workloadError.empty()) {
    setCondition(c, kConditionReady, api::kFalse, "WorkloadApplyFailed", in.workloadError, gen,
                 in.now);
  } else if (in.workload) {
    const WorkloadObservation& w = *in.workload;
    if (in.desiredReplicas == 0 && w.readyReplicas == 0) {
      setCondition(c, kConditionReady, api::kTrue, "ScaledToZero",
                   "No workers are needed: the backlog is empty.", gen, in.now);
    } else if (!w.rolloutComplete) {
      setCondition(c, kConditionReady, api::kFalse, "RolloutInProgress",
                   "Rolling out a new worker template: " + std::to_string(w.updatedReplicas) +
                       " of " + countText(in.desiredReplicas) + " updated.",
                   gen, in.now);
    } else if (w.readyReplicas >= in.desiredReplicas) {
      setCondition(
          c, kConditionReady, api::kTrue, "WorkersReady",
          std::to_string(w.readyReplicas) + " of " + countText(in.desiredReplicas) + " ready.", gen,
          in.now);
    } else {
      setCondition(
          c, kConditionReady, api::kFalse, "WaitingForWorkers",
          std::to_string(w.readyReplicas) + " of " + countText(in.desiredReplicas) + " ready.", gen,
          in.now);
    }
  }

  // ScalingActive: the scaler measured the backlog and decided on it.
  if (in.paused) {
    setCondition(c, kConditionScalingActive, api::kFalse, "ScalingPaused",
                 "spec.scaling.paused is true: replicas follow spec.replicas (" +
                     countText(in.desiredReplicas) + ").",
                 gen, in.now);
  } else if (in.reading && !in.reading->ok) {
    setCondition(c, kConditionScalingActive, api::kFalse, probe::failureReason(in.reading->failure),
                 "Cannot read the backlog: " + in.reading->error +
                     ". Holding replicas; never scaling down on an unknown backlog.",
                 gen, in.now);
  } else if (in.reading && !in.reading->backlog()) {
    setCondition(c, kConditionScalingActive, api::kFalse, "BacklogUnknown",
                 "Redis reports no lag for the consumer group (entries deleted or trimmed, or "
                 "the group was set to an arbitrary id). Holding replicas; never scaling down "
                 "on an unknown backlog.",
                 gen, in.now);
  } else if (in.decision && !in.workloadError.empty() &&
             in.desiredReplicas !=
                 (in.workload && in.workload->exists ? in.workload->specReplicas : 0)) {
    // The decision was not applied: say so rather than claim the scale.
    setCondition(c, kConditionScalingActive, api::kFalse, "ScaleNotApplied",
                 "Wanted " + countText(in.desiredReplicas) + " (" +
                     std::string(policy::reasonName(in.decision->reason)) +
                     ") but the worker Deployment could not be applied: " + in.workloadError,
                 gen, in.now);
  } else if (in.decision && !in.specProblems.empty()) {
    // The policy ran on a clamped copy of the spec: say so, with what it did.
    setCondition(c, kConditionScalingActive, statusOf(in.decision->scalingActive),
                 "InvalidScalingSpec",
                 specProblemsText(in.specProblems) + ". Scaling with the nearest valid values: " +
                     std::string(policy::reasonName(in.decision->reason)) + ": " +
                     in.decision->message,
                 gen, in.now);
  } else if (in.decision) {
    setCondition(c, kConditionScalingActive, statusOf(in.decision->scalingActive),
                 std::string(policy::reasonName(in.decision->reason)), in.decision->message, gen,
                 in.now);
  }

  if (in.decision && !in.paused) {
    if (in.decision->scalingLimited) {
      const bool atMax = in.desiredReplicas >= pool.spec.maxReplicas;
      setCondition(c, kConditionScalingLimited, api::kTrue,
                   atMax ? "LimitedByMaxReplicas" : "LimitedByMinReplicas",
                   (atMax ? "Held at maxReplicas (" : "Held at minReplicas (") +
                       std::to_string(in.desiredReplicas) + "); the policy wanted " +
                       std::to_string(in.decision->recommendedReplicas).substr(0, 6) + ". " +
                       in.decision->message,
                   gen, in.now);
    } else {
      setCondition(c, kConditionScalingLimited, api::kFalse, "WithinLimits",
                   "The desired count is within minReplicas and maxReplicas.", gen, in.now);
    }
    if (in.decision->fallback) {
      setCondition(c, kConditionFallback, api::kTrue,
                   std::string(policy::reasonName(in.decision->reason)), in.decision->message, gen,
                   in.now);
    } else {
      setCondition(c, kConditionFallback, api::kFalse, "BacklogMeasured",
                   "The backlog is measured; no fallback in use.", gen, in.now);
    }
  } else if (in.paused) {
    setCondition(c, kConditionScalingLimited, api::kFalse, "ScalingPaused", "Scaling is paused.",
                 gen, in.now);
    setCondition(c, kConditionFallback, api::kFalse, "ScalingPaused", "Scaling is paused.", gen,
                 in.now);
  }
  return st;
}

WorkerPoolReconciler::WorkerPoolReconciler(ResourceStore& store, WorkloadBackend& backend,
                                           EventSink& events, probe::BacklogProbe& probe,
                                           Clock& clock, PoolMetrics* metrics)
    : store_(store),
      backend_(backend),
      events_(events),
      probe_(probe),
      clock_(clock),
      metrics_(metrics) {}

ReconcileResult WorkerPoolReconciler::reconcile(const std::string& ns, const std::string& name) {
  const std::string key = ns + "/" + name;
  auto got = store_.getWorkerPool(ns, name);
  if (!got.ok()) return got.error();
  if (!got.value()) {
    std::lock_guard lock(mu_);
    states_.erase(key);
    if (metrics_) metrics_->forgetPool(ns, name);
    return Action::await();  // the Deployment goes with its owner (garbage collection)
  }
  const api::WorkerPool pool = std::move(*got.value());
  if (pool.metadata.deletionTimestamp) return Action::await();

  std::shared_ptr<PoolState> state;
  {
    std::lock_guard lock(mu_);
    auto& s = states_[key];
    if (!s || s->uid != pool.metadata.uid) {
      // New to this process (first sight, new leader, restart): take over
      // what the previous scaler left in status, and hold scale-down until
      // this process has watched a full stabilization window itself.
      s = std::make_shared<PoolState>();
      s->uid = pool.metadata.uid;
      s->clocks = ClockPairing::of(clock_);
      s->scaling = restoreScaling(pool.status, scalingSpecOf(pool), clock_.now(), s->clocks);
      if (!pool.status.scaler.empty()) {
        log::info("took over the scaler's state from status",
                  {{"pool", key},
                   {"recommendations", pool.status.scaler.recommendations.size()},
                   {"backlogSince", pool.status.scaler.backlogSince.value_or("")}});
      }
    }
    state = s;
  }
  const Duration poll = seconds(pool.spec.scaling.pollIntervalSeconds);
  const EventTarget target{api::kWorkerPoolKind, ns, name, pool.metadata.uid};

  PoolStatusInputs in;
  in.pool = &pool;
  in.now = clock_.wallNow();
  in.paused = pool.spec.scaling.paused;
  in.lastScaleTime = pool.status.lastScaleTime;
  in.desiredReplicas = pool.status.desiredReplicas;

  auto writeStatus = [&](const api::WorkerPoolStatus& st) -> Result<void> {
    json next = api::toJson(st);
    if (next == api::toJson(pool.status)) return {};
    return store_.writeWorkerPoolStatus(pool, next);
  };

  auto pipelineGot = store_.getPipeline(ns, pool.spec.pipelineRef);
  if (!pipelineGot.ok()) return pipelineGot.error();
  auto observed = backend_.observe(pool);
  if (!observed.ok()) return observed.error();
  in.workload = observed.value();

  if (!pipelineGot.value()) {
    in.pipelineFound = false;
    in.pipelineProblemReason = "PipelineNotFound";
    in.pipelineProblem =
        "Pipeline " + pool.spec.pipelineRef + " does not exist in namespace " + ns + ".";
    events_.record(target, "Warning", "PipelineNotFound", in.pipelineProblem);
    auto st = computeWorkerPoolStatus(in);
    if (auto w = writeStatus(st); !w.ok()) return w.error();
    if (metrics_) metrics_->observePool(pool, st);
    return Action::requeue(std::max<Duration>(poll, std::chrono::seconds(5)));
  }
  const api::Pipeline& pipeline = *pipelineGot.value();

  // Measure.
  auto redisTarget = redisTargetOf(pipeline, store_);
  policy::Observation obs;
  if (redisTarget.ok()) {
    in.reading = probe_.read(redisTarget.value(), pipeline.spec.redis.streams(),
                             pipeline.spec.redis.consumerGroup, poll / 2);
    const probe::BacklogReading& r = *in.reading;
    obs.readOk = r.ok;
    obs.lag = r.snapshot.lag;
    obs.pending = r.snapshot.pending;
    if (r.snapshot.entriesAdded && *r.snapshot.entriesAdded >= 0) {
      obs.entriesAdded = static_cast<uint64_t>(*r.snapshot.entriesAdded);
    }
    if (r.snapshot.entriesRead && *r.snapshot.entriesRead >= 0) {
      obs.entriesRead = static_cast<uint64_t>(*r.snapshot.entriesRead);
    }
    obs.error = r.error;
  } else {
    obs.readOk = false;
    obs.error = redisTarget.error().message;
    in.reading = probe::BacklogReading{};
    in.reading->ok = false;
    in.reading->failure = probe::ReadFailure::kAuth;
    in.reading->error = redisTarget.error().message;
    events_.record(target, "Warning", "SecretNotFound", redisTarget.error().message);
  }

  // Decide.
  const WorkloadObservation& before = observed.value();
  const int32_t current = before.exists ? before.specReplicas : 0;
  obs.currentReplicas = current;
  obs.readyReplicas = before.readyReplicas;
  const auto spec = scalingSpecOf(pool);
  // The API server enforces the CRD's ranges; local mode's files and older
  // CRDs do not, and the policy clamps rather than fails: report it.
  in.specProblems = scalingSpecProblems(pool);
  if (!in.specProblems.empty()) {
    events_.record(target, "Warning", "InvalidScalingSpec",
                   specProblemsText(in.specProblems) + "; scaling with the nearest valid values.");
  }
  in.decision = policy::decide(spec, state->scaling, obs, clock_.now());
  int32_t desired = in.decision->desiredReplicas;
  if (in.paused) desired = pool.spec.replicas.value_or(current);
  in.desiredReplicas = desired;

  // Converge.
  WorkloadIntent intent;
  intent.pipeline = &pipeline;
  intent.pool = &pool;
  intent.config = renderWorkerConfig(pipeline);
  intent.configHash = configHash(intent.config);
  intent.replicas = desired;
  bool changed = false;
  auto ensured = backend_.ensure(intent, &changed);
  if (!ensured.ok()) {
    in.workloadError = ensured.error().message;
    events_.record(target, "Warning", "WorkloadApplyFailed", ensured.error().message);
  } else {
    in.workload = ensured.value();
    if (!before.exists) {
      events_.record(target, "Normal", "WorkersCreated",
                     "Created the worker Deployment with " + countText(desired) + ".");
    } else if (desired != current) {
      std::string why = in.paused ? std::string("spec.replicas (scaling paused)")
                                  : std::string(policy::reasonName(in.decision->reason)) + ": " +
                                        in.decision->message;
      events_.record(target, "Normal", desired > current ? "ScaledUp" : "ScaledDown",
                     "Scaled from " + std::to_string(current) + " to " + countText(desired) + " (" +
                         why + ").");
    }
    if (before.exists && desired != current) {
      in.lastScaleTime = api::formatTime(in.now);
      if (metrics_) {
        metrics_->scaled(pool, current, desired,
                         in.paused ? std::string_view("ScalingPaused")
                                   : policy::reasonName(in.decision->reason));
      }
      log::info("scaled worker pool", {{"pool", key},
                                       {"from", current},
                                       {"to", desired},
                                       {"reason", policy::reasonName(in.decision->reason)}});
    }
  }

  auto st = computeWorkerPoolStatus(in);
  st.scaler = rememberScaling(state->scaling, state->clocks);
  if (metrics_) metrics_->observePool(pool, st);
  if (auto w = writeStatus(st); !w.ok()) return w.error();
  if (!ensured.ok()) return ensured.error();
  return Action::requeue(poll);
}

}  // namespace shoal::controllers
