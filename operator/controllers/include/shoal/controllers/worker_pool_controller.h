// The WorkerPool reconciler: renders and converges the pool's workers (through
// a WorkloadBackend), sizes them with the scaling policy on the BacklogProbe's
// reading, and reports status, conditions and events.
//
// Design note
// - Level-based: reconcile(ns, name) reads everything it needs and is
//   idempotent; it is not told why it runs. The work queue guarantees one
//   reconcile of a key at a time.
// - The policy's ScalingState lives in memory per pool (reset when the pool's
//   uid changes) and is mirrored into status.scaler every poll. A process
//   that meets a pool for the first time (new leader, restart) restores it
//   from there and scales nothing down before it has watched a full
//   stabilization window (scaler_memory.h).
// - Paused: spec.replicas (kubectl scale through /scale) is what the workers
//   get; otherwise the policy owns the count and spec.replicas is ignored.
// - Status is written only when it changed (conditions keep their
//   lastTransitionTime unless the status flips).
// Thread-safe: reconciles of different pools may run concurrently.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/controllers/interfaces.h"
#include "shoal/controllers/reconcile.h"
#include "shoal/controllers/scaler_memory.h"
#include "shoal/policy/scaling_policy.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::controllers {

inline constexpr const char* kConditionReady = "Ready";
inline constexpr const char* kConditionScalingActive = "ScalingActive";
inline constexpr const char* kConditionScalingLimited = "ScalingLimited";
inline constexpr const char* kConditionFallback = "Fallback";
inline constexpr const char* kConditionSourceReady = "SourceReady";

/// The policy's view of a pool's spec (CRD fields to policy::ScalingSpec).
policy::ScalingSpec scalingSpecOf(const api::WorkerPool& pool);

/// What is wrong with a pool's spec.scaling, one problem per field (empty
/// when valid), e.g. "scaling.headroom must be >= 1". The policy runs on the
/// nearest valid values; the reconciler reports these as a Warning Event and
/// in the ScalingActive condition (reason InvalidScalingSpec).
std::vector<std::string> scalingSpecProblems(const api::WorkerPool& pool);

/// Where the probe reads a Pipeline's stream, with credentials from Secrets.
/// Fails (kNotFound) with a message naming the Secret when one is missing.
Result<probe::RedisTarget> redisTargetOf(const api::Pipeline& pipeline, ResourceStore& store);
/// The value of a Secret key in a namespace (nullopt: missing), as
/// ResourceStore::getSecretValue answers.
using SecretLookup =
    std::function<Result<std::optional<std::string>>(const std::string& ns, const api::SecretKeyRef& ref)>;
/// The same for any Redis connection section (a Receiver's spec.redis).
Result<probe::RedisTarget> redisTargetOf(const api::RedisSource& redis, const std::string& ns,
                                         const SecretLookup& secrets);

/// Inputs of the pure status computation for a pool.
struct PoolStatusInputs {
  const api::WorkerPool* pool = nullptr;
  bool pipelineFound = true;
  std::string pipelineProblem;        // why the pool cannot run (empty if it can)
  std::string pipelineProblemReason;  // CamelCase
  std::optional<probe::BacklogReading> reading;
  std::optional<policy::Decision> decision;
  std::optional<WorkloadObservation> workload;
  std::string workloadError;  // backend failed
  std::vector<std::string> specProblems;  // scalingSpecProblems(pool)
  int32_t desiredReplicas = 0;
  bool paused = false;
  std::optional<std::string> lastScaleTime;
  WallTime now{};
};

/// Computes the full status (conditions included) from the previous status
/// and what this reconcile saw. Pure.
api::WorkerPoolStatus computeWorkerPoolStatus(const PoolStatusInputs& in);

/// \brief Metrics hooks (prometheus in the operator, nothing in tests).
class PoolMetrics {
 public:
  virtual ~PoolMetrics() = default;
  virtual void observePool(const api::WorkerPool& pool, const api::WorkerPoolStatus& status) = 0;
  virtual void forgetPool(const std::string& ns, const std::string& name) = 0;
  /// The reconciler changed the worker Deployment's replicas from `from` to
  /// `to`; `reason` is the decision's (policy::reasonName), or ScalingPaused
  /// when spec.replicas was followed.
  virtual void scaled(const api::WorkerPool& pool, int32_t from, int32_t to,
                      std::string_view reason) {}
};

class WorkerPoolReconciler {
 public:
  WorkerPoolReconciler(ResourceStore& store, WorkloadBackend& backend, EventSink& events,
                       probe::BacklogProbe& probe, Clock& clock, PoolMetrics* metrics = nullptr);

  ReconcileResult reconcile(const std::string& ns, const std::string& name);

 private:
  struct PoolState {
    std::string uid;
    policy::ScalingState scaling;
    ClockPairing clocks;  ///< fixed per state, so remembered times are stable
    std::optional<int32_t> lastApplied;
    std::optional<std::string> lastScaleTime;
  };

  ResourceStore& store_;
  WorkloadBackend& backend_;
  EventSink& events_;
  probe::BacklogProbe& probe_;
  Clock& clock_;
  PoolMetrics* metrics_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PoolState>> states_;
};

}  // namespace shoal::controllers
