// The Receiver reconciler (see receiver_controller.h).
#include "shoal/controllers/receiver_controller.h"

#include "shoal/common/log.h"
#include "shoal/controllers/conditions.h"
#include "shoal/controllers/receiver_render.h"
#include "shoal/controllers/worker_pool_controller.h"

namespace shoal::controllers {

using nlohmann::json;

namespace {

std::string podsText(int32_t n) { return std::to_string(n) + (n == 1 ? " receiver pod" : " receiver pods"); }

const std::vector<std::string>& ownedConditions() {
  static const std::vector<std::string> types = {kConditionReady, kConditionRedisReachable, kConditionThrottling};
  return types;
}

void setThrottlingNotObserved(std::vector<api::Condition>& c, int64_t gen, WallTime now) {
  setCondition(c, kConditionThrottling, api::kUnknown, "NotObserved",
               "The receivers decide on back-pressure themselves (shoal_receiver_entries_throttled_total); "
               "the operator does not observe it.",
               gen, now);
}

}  // namespace

api::ReceiverStatus computeReceiverStatus(const ReceiverStatusInputs& in) {
  const api::Receiver& r = *in.receiver;
  const int64_t gen = r.metadata.generation;
  api::ReceiverStatus st = r.status;
  st.observedGeneration = gen;
  st.selector = receiverSelectorString(r);
  auto& c = st.conditions;
  ensureConditions(c, ownedConditions(), "Reconciling", gen, in.now);
  if (in.workload) {
    st.replicas = in.workload->replicas;
    st.readyReplicas = in.workload->readyReplicas;
  }

  // What can run: spec.replicas, unless the backend runs fewer (local mode),
  // which Ready then says instead of waiting for pods that never come.
  int32_t want = r.spec.replicas;
  std::string limited;
  if (in.workload && in.workload->replicaLimit > 0 && want > in.workload->replicaLimit) {
    want = in.workload->replicaLimit;
    limited = " (spec.replicas is " + std::to_string(r.spec.replicas) + "; " + in.workload->replicaLimitReason + ")";
  }
  if (!in.workloadError.empty()) {
    setCondition(c, kConditionReady, api::kFalse, "WorkloadApplyFailed", in.workloadError, gen, in.now);
  } else if (in.workload) {
    const WorkloadObservation& w = *in.workload;
    if (want == 0 && w.readyReplicas == 0) {
      setCondition(c, kConditionReady, api::kTrue, "ScaledToZero", "spec.replicas is 0.", gen, in.now);
    } else if (!w.rolloutComplete) {
      setCondition(c, kConditionReady, api::kFalse, "RolloutInProgress",
                   "Rolling out: " + std::to_string(w.updatedReplicas) + " of " + podsText(want) + " updated.",
                   gen, in.now);
    } else if (w.readyReplicas >= want) {
      setCondition(c, kConditionReady, api::kTrue, "ReceiversReady",
                   std::to_string(w.readyReplicas) + " of " + podsText(want) + " ready" + limited + ".", gen,
                   in.now);
    } else {
      setCondition(c, kConditionReady, api::kFalse, "WaitingForReceivers",
                   std::to_string(w.readyReplicas) + " of " + podsText(want) + " ready" + limited + ".", gen,
                   in.now);
    }
  }

  if (in.redisError) {
    setCondition(c, kConditionRedisReachable, api::kFalse,
                 in.redisProblemReason.empty() ? "Unreachable" : in.redisProblemReason,
                 in.redisError->message, gen, in.now);
  } else {
    setCondition(c, kConditionRedisReachable, api::kTrue, "Pong", "Redis answered PING.", gen, in.now);
  }
  setThrottlingNotObserved(c, gen, in.now);
  return st;
}

api::ReceiverStatus invalidReceiverStatus(const api::ObjectMeta& meta, const api::ReceiverStatus& previous,
                                          const std::string& problem, WallTime now) {
  api::ReceiverStatus st = previous;
  const int64_t gen = meta.generation;
  st.observedGeneration = gen;
  auto& c = st.conditions;
  ensureConditions(c, ownedConditions(), "InvalidSpec", gen, now);
  setCondition(c, kConditionReady, api::kFalse, "InvalidSpec", problem, gen, now);
  setCondition(c, kConditionRedisReachable, api::kUnknown, "InvalidSpec", "Not checked: the spec is invalid.",
               gen, now);
  setThrottlingNotObserved(c, gen, now);
  return st;
}

ReceiverReconciler::ReceiverReconciler(ReceiverStore& store, ReceiverBackend& backend, EventSink& events,
                                       probe::RedisPinger& pinger, Clock& clock)
    : store_(store), backend_(backend), events_(events), pinger_(pinger), clock_(clock) {}

ReconcileResult ReceiverReconciler::reconcile(const std::string& ns, const std::string& name) {
  auto got = store_.getReceiver(ns, name);
  if (!got.ok()) return got.error();
  // Gone: its ConfigMap, Deployment and Service go with it (owner references).
  if (!got.value()) return Action::await();
  const json& obj = *got.value();
  const WallTime now = clock_.wallNow();

  auto parsed = api::receiverFromJson(obj);
  if (!parsed.ok()) {
    api::Receiver stub;
    stub.metadata = api::metaFromJson(obj);
    stub.status = api::receiverStatusFromJson(api::objectAt(obj, "status"));
    const std::string problem = parsed.error().message;
    events_.record(EventTarget{api::kReceiverKind, ns, name, stub.metadata.uid}, "Warning", "InvalidSpec", problem);
    json next = api::toJson(invalidReceiverStatus(stub.metadata, stub.status, problem, now));
    if (next != api::toJson(stub.status)) {
      if (auto w = store_.writeReceiverStatus(stub, next); !w.ok()) return w.error();
    }
    return Action::await();  // a spec change reconciles again
  }
  const api::Receiver& receiver = parsed.value();
  if (receiver.metadata.deletionTimestamp) return Action::await();
  const EventTarget target{api::kReceiverKind, ns, name, receiver.metadata.uid};

  ReceiverStatusInputs in;
  in.receiver = &receiver;
  in.now = now;

  ReceiverIntent intent;
  intent.receiver = &receiver;
  intent.config = renderReceiverConfig(receiver);
  intent.configHash = configHash(intent.config);
  bool changed = false;
  auto ensured = backend_.ensure(intent, &changed);
  if (ensured.ok()) {
    in.workload = ensured.value();
  } else {
    in.workloadError = ensured.error().message;
    events_.record(target, "Warning", "WorkloadApplyFailed", in.workloadError);
  }

  auto redisTarget = redisTargetOf(receiver.spec.redis, ns, [&](const std::string& n, const api::SecretKeyRef& ref) {
    return store_.getSecretValue(n, ref);
  });
  if (!redisTarget.ok()) {
    in.redisError = redisTarget.error();
    in.redisProblemReason = redisTarget.error().code == Errc::kNotFound ? "SecretNotFound" : "InvalidRedisTarget";
    events_.record(target, "Warning", in.redisProblemReason, redisTarget.error().message);
  } else if (auto pong = pinger_.ping(redisTarget.value()); !pong.ok()) {
    in.redisError = pong.error();
    in.redisProblemReason = "Unreachable";
  }

  api::ReceiverStatus st = computeReceiverStatus(in);
  json next = api::toJson(st);
  if (next != api::toJson(receiver.status)) {
    if (auto w = store_.writeReceiverStatus(receiver, next); !w.ok()) return w.error();
  }
  if (!ensured.ok()) return ensured.error();
  return Action::requeue(in.redisError ? kRedisRetry : kRedisRecheck);
}

}  // namespace shoal::controllers
