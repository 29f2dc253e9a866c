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

// "logs:app (backlog 1500 > maxBacklog 1000)".
std::string overText(const std::string& stream, const StreamLoad& l, const ThrottleLimits& lim) {
  if (lim.maxBacklog > 0 && l.backlog > lim.maxBacklog)
    return stream + " (backlog " + std::to_string(l.backlog) + " > maxBacklog " + std::to_string(lim.maxBacklog) + ")";
  return stream + " (length " + std::to_string(l.length) + " >= maxLength " + std::to_string(lim.maxLength) + ")";
}

constexpr size_t kStreamsNamed = 5;  // the most streams one message lists

}  // namespace

ThrottlingJudgement judgeThrottling(const api::ReceiverSpec& spec, const ReceiverStatusInputs& in) {
  const std::vector<std::string> streams = spec.targetStreams();
  if (!in.loads || in.loads->size() != streams.size()) {
    if (in.loadsError.empty())
      return {api::kUnknown, "NotObserved", "The operator does not measure the target streams' backlog.", false};
    return {api::kUnknown, "BacklogNotMeasured", "The target streams' backlog could not be read: " + in.loadsError,
            true};
  }
  const ThrottleLimits lim{spec.maxBacklog, spec.maxLength};
  if (lim.maxBacklog == 0 && lim.maxLength == 0)
    return {api::kFalse, "NoLimit", "spec.backpressure sets neither maxBacklog nor maxLength: the receivers never throttle.",
            false};
  std::vector<std::string> over;
  bool backlogOver = false, near = false;
  size_t worst = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    const StreamLoad& l = (*in.loads)[i];
    if (overLimit(l, lim)) {
      over.push_back(overText(streams[i], l, lim));
      backlogOver |= lim.maxBacklog > 0 && l.backlog > lim.maxBacklog;
    }
    near |= (lim.maxBacklog > 0 && l.backlog * 2 > lim.maxBacklog) || (lim.maxLength > 0 && l.length * 2 >= lim.maxLength);
    if (l.backlog > (*in.loads)[worst].backlog) worst = i;
  }
  if (!over.empty()) {
    std::string list;
    for (size_t i = 0; i < over.size() && i < kStreamsNamed; ++i) list += (i ? ", " : "") + over[i];
    if (over.size() > kStreamsNamed) list += " and " + std::to_string(over.size() - kStreamsNamed) + " more";
    return {api::kTrue, backlogOver ? "BacklogOverLimit" : "LengthAtCap",
            "The receivers refuse writes to " + list +
                ": HTTP answers 429, TCP syslog is not read, UDP syslog is dropped (counted).",
            true};
  }
  std::string message = "No target stream is over its limit";
  if (!streams.empty())
    message += "; the largest backlog is " + streams[worst] + " at " + std::to_string((*in.loads)[worst].backlog) +
               (lim.maxBacklog > 0 ? " of maxBacklog " + std::to_string(lim.maxBacklog) : std::string());
  return {api::kFalse, "BacklogUnderLimit", message + ".", near};
}

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
  const ThrottlingJudgement t = judgeThrottling(r.spec, in);
  setCondition(c, kConditionThrottling, t.status, t.reason, t.message, gen, in.now);
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
  setCondition(c, kConditionThrottling, api::kUnknown, "InvalidSpec", "Not measured: the spec is invalid.", gen, now);
  return st;
}

ReceiverReconciler::ReceiverReconciler(ReceiverStore& store, ReceiverBackend& backend, EventSink& events,
                                       probe::RedisPinger& pinger, Clock& clock, probe::BacklogProbe* probe)
    : store_(store), backend_(backend), events_(events), pinger_(pinger), clock_(clock), probe_(probe) {}

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
  } else if (probe_ != nullptr) {
    auto loads = probe_->loads(redisTarget.value(), receiver.spec.targetStreams());
    if (loads.ok()) {
      in.loads = std::move(loads.value());
    } else {
      in.loadsError = loads.error().message;
    }
  }
  if (probe_ != nullptr && in.redisError) in.loadsError = "Redis is not reachable: " + in.redisError->message;

  api::ReceiverStatus st = computeReceiverStatus(in);
  const api::Condition* was = findCondition(receiver.status.conditions, kConditionThrottling);
  const api::Condition* is = findCondition(st.conditions, kConditionThrottling);
  if (is != nullptr && is->status == api::kTrue && (was == nullptr || was->status != api::kTrue))
    events_.record(target, "Warning", is->reason, is->message);
  json next = api::toJson(st);
  if (next != api::toJson(receiver.status)) {
    if (auto w = store_.writeReceiverStatus(receiver, next); !w.ok()) return w.error();
  }
  if (!ensured.ok()) return ensured.error();
  if (in.redisError) return Action::requeue(kRedisRetry);
  return Action::requeue(judgeThrottling(receiver.spec, in).near ? kThrottleRecheck : kRedisRecheck);
}

}  // namespace shoal::controllers
