// The Receiver reconciler: renders and converges a Receiver's ConfigMap,
// Deployment and Service (through a ReceiverBackend), asks Redis whether it
// answers with the receiver's own connection settings, and reports status,
// conditions and events.
//
// Design note
// - Level-based and idempotent, like the WorkerPool reconciler: it reads the
//   Receiver, renders everything and lets the backend converge (correcting
//   drift); it is not told why it runs.
// - spec.replicas is the user's (kubectl scale, through /scale): the
//   Deployment gets it as is. It is not in the rendered config, so scaling
//   changes no config hash and restarts no pod.
// - A backend that can run fewer than spec.replicas says so in its
//   observation (replicaLimit; local mode runs one process): Ready then
//   counts against what can run and its message names the limit, rather
//   than waiting forever for pods that never come.
// - An invalid spec renders nothing (what runs keeps running): Ready=False
//   InvalidSpec with the parser's message naming the field, and a Warning.
// - RedisReachable is one PING per reconcile; reconciles repeat every
//   kRedisRecheck (kRedisRetry while Redis does not answer) so the condition
//   follows Redis going away and coming back.
// - Throttling is the operator's own measurement, judged by the receivers'
//   rule (shoal/stream/stream_load.h): every reconcile reads the load of
//   each target stream through the BacklogProbe (the slowest group's lag +
//   pending, XLEN with no group) and compares it with spec.backpressure;
//   True (BacklogOverLimit / LengthAtCap, the message naming the streams)
//   when the receivers refuse writes to any of them. Reconciles repeat every
//   kThrottleRecheck while it is True or near, so it clears soon after.
//   Unknown when the loads cannot be read (Redis unreachable) or without a
//   probe (NotObserved).
// Thread-safe: reconciles of different Receivers may run concurrently.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "shoal/api/receiver.h"
#include "shoal/controllers/interfaces.h"
#include "shoal/controllers/reconcile.h"
#include "shoal/probe/backlog_probe.h"
#include "shoal/probe/redis_ping.h"

namespace shoal::controllers {

inline constexpr const char* kConditionRedisReachable = "RedisReachable";
inline constexpr const char* kConditionThrottling = "Throttling";
/// How often a Receiver is reconciled without a change (Redis re-pinged).
inline constexpr Duration kRedisRecheck = std::chrono::seconds(30);
/// ... and while Redis does not answer, so that RedisReachable recovers soon.
inline constexpr Duration kRedisRetry = std::chrono::seconds(5);
/// ... and while a target stream is throttled or past half its limit.
inline constexpr Duration kThrottleRecheck = std::chrono::seconds(5);

/// \brief Reads Receivers and Secret values, writes Receiver status.
/// Implementations must be thread-safe.
class ReceiverStore {
 public:
  virtual ~ReceiverStore() = default;
  /// The object as stored (nullopt when it does not exist): unparsed, so
  /// that one with an invalid spec still gets a status saying why.
  virtual Result<std::optional<nlohmann::json>> getReceiver(const std::string& ns, const std::string& name) = 0;
  virtual Result<std::optional<std::string>> getSecretValue(const std::string& ns,
                                                            const api::SecretKeyRef& ref) = 0;
  /// Replaces the status (JSON as api::toJson renders it); `receiver.status`
  /// is the status it replaces.
  virtual Result<void> writeReceiverStatus(const api::Receiver& receiver, const nlohmann::json& status) = 0;
};

/// Everything a backend needs to run a Receiver's pods.
struct ReceiverIntent {
  const api::Receiver* receiver = nullptr;
  std::string config;      // renderReceiverConfig
  std::string configHash;  // configHash(config)
};

/// \brief Runs a Receiver's pods (Deployment + Service, or processes).
/// Thread-safe across different Receivers.
class ReceiverBackend {
 public:
  virtual ~ReceiverBackend() = default;
  /// Converges to the intent (idempotent; corrects drift) and returns what
  /// it sees of the pods afterwards. `changed` says whether it wrote.
  virtual Result<WorkloadObservation> ensure(const ReceiverIntent& intent, bool* changed) = 0;
};

/// Inputs of the pure status computation.
struct ReceiverStatusInputs {
  const api::Receiver* receiver = nullptr;
  std::optional<WorkloadObservation> workload;
  std::string workloadError;  // the backend failed
  std::optional<Error> redisError;  // nullopt: PING answered
  std::string redisProblemReason;   // CamelCase, with redisError
  /// The load of each of spec.targetStreams(), in that order; nullopt: not
  /// measured (no probe, or Redis not reached), loadsError says why.
  std::optional<std::vector<StreamLoad>> loads;
  std::string loadsError;
  WallTime now{};
};

/// The Throttling condition's judgement of one reconcile's loads. Pure.
struct ThrottlingJudgement {
  std::string status;  // api::kTrue / kFalse / kUnknown
  std::string reason;
  std::string message;
  bool near = false;  // throttled, or some stream past half a limit
};
ThrottlingJudgement judgeThrottling(const api::ReceiverSpec& spec, const ReceiverStatusInputs& in);

/// The full status (conditions included) from the previous status and what
/// this reconcile saw. Pure.
api::ReceiverStatus computeReceiverStatus(const ReceiverStatusInputs& in);

/// The status of a Receiver whose spec does not parse: Ready False
/// (InvalidSpec, `problem`), the other conditions Unknown. Pure.
api::ReceiverStatus invalidReceiverStatus(const api::ObjectMeta& meta, const api::ReceiverStatus& previous,
                                          const std::string& problem, WallTime now);

class ReceiverReconciler {
 public:
  /// `probe` measures the target streams' loads (Throttling); nullptr:
  /// Throttling stays Unknown (NotObserved).
  ReceiverReconciler(ReceiverStore& store, ReceiverBackend& backend, EventSink& events,
                     probe::RedisPinger& pinger, Clock& clock, probe::BacklogProbe* probe = nullptr);

  ReconcileResult reconcile(const std::string& ns, const std::string& name);

 private:
  ReceiverStore& store_;
  ReceiverBackend& backend_;
  EventSink& events_;
  probe::RedisPinger& pinger_;
  Clock& clock_;
  probe::BacklogProbe* probe_;
};

}  // namespace shoal::controllers
