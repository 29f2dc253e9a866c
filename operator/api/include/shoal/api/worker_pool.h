// The WorkerPool custom resource (shoal.dev/v1alpha1): the scaled group of
// workers for one Pipeline. Field names match crds/ exactly; defaults here are
// the same as the CRD's, so objects from YAML files (local mode) and from the
// API server read the same.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

#include "shoal/api/meta.h"
#include "shoal/api/pipeline.h"

namespace shoal::api {

inline constexpr const char* kWorkerPoolKind = "WorkerPool";
inline constexpr const char* kWorkerPoolPlural = "workerpools";
inline constexpr const char* kDefaultWorkerImage = "ghcr.io/shoal-dev/shoal-worker:0.1.0";
/// The image a WorkerPool without spec.image runs: $SHOAL_WORKER_IMAGE (the
/// chart sets it to the worker image matching the operator), else
/// kDefaultWorkerImage.
std::string defaultWorkerImage();

/// spec.scaling, typed. A tuning field that is not set (or not a number) is
/// nullopt and means the policy's default: the one defaults table is
/// policy::ScalingParameters (the CRD's defaults are tested against it), and
/// controllers::scalingSpecOf maps these fields onto it.
struct ScalingSpecFields {
  std::string policy = "drainTime";  // drainTime | targetBacklogPerReplica
  double pollIntervalSeconds = 2.0;
  bool paused = false;
  std::optional<int32_t> fallbackReplicas;
  std::optional<double> drainSeconds;
  std::optional<int64_t> targetBacklogPerReplica;
  std::optional<double> perReplicaThroughput;
  std::optional<double> headroom;
  std::optional<double> podStartupSeconds;
  std::optional<int64_t> activationBacklog;
  std::optional<double> idleSeconds;
  std::optional<double> deadBand;
  std::optional<int64_t> failuresBeforeFallback;
  struct ScaleUp {
    std::optional<double> stabilizationSeconds;
  } scaleUp;
  struct ScaleDown {
    std::optional<double> stabilizationSeconds;
    std::optional<int64_t> maxPodsPerStep;
    std::optional<int64_t> percent;
    std::optional<double> periodSeconds;
    /// As written: "immediate" | "damped"; a value that is not a string is
    /// kept as its JSON text so that validation can name it.
    std::optional<std::string> whenIdle;
  } scaleDown;
};

/// Pod template overrides, each passed through to the pod spec when set.
struct PodOverrides {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  nlohmann::json resources;         // core/v1 ResourceRequirements
  nlohmann::json env;               // array of core/v1 EnvVar
  nlohmann::json nodeSelector;      // map
  nlohmann::json tolerations;       // array
  nlohmann::json affinity;          // object
  nlohmann::json imagePullSecrets;  // array
  std::string serviceAccountName;
  std::string priorityClassName;
};

struct WorkerPoolSpec {
  std::string pipelineRef;  // spec.pipelineRef.name
  std::string image = kDefaultWorkerImage;
  std::string imagePullPolicy = "IfNotPresent";
  std::optional<int32_t> replicas;  // owned by the user only while scaling is paused
  int32_t minReplicas = 1;
  int32_t maxReplicas = 10;
  ScalingSpecFields scaling;
  PodOverrides template_;
  int64_t terminationGracePeriodSeconds = 30;
  nlohmann::json raw = nlohmann::json::object();  // the spec as written
};

/// status.scaler: what the scaler must not forget when another operator
/// process takes the pool over (leader failover, restart). Times are RFC 3339
/// with milliseconds; each is unset when the policy has no such time.
struct ScalerMemory {
  /// One run of equal recommendations within the longest stabilization
  /// window: the count and when the run began (it lasted until the next run
  /// began, the last one until now).
  struct Recommendation {
    std::string since;
    int32_t replicas = 0;
  };
  std::optional<std::string> backlogSince;  ///< when the backlog being drained formed
  std::optional<std::string> idleSince;     ///< since when backlog and arrivals are zero
  std::optional<std::string> lastScaleUpTime;
  std::optional<std::string> lastScaleDownTime;
  std::optional<double> learnedThroughput;  ///< entries/s per ready replica, once measured
  std::vector<Recommendation> recommendations;
  bool empty() const {
    return !backlogSince && !idleSince && !lastScaleUpTime && !lastScaleDownTime &&
           !learnedThroughput && recommendations.empty();
  }
};

struct WorkerPoolStatus {
  int64_t observedGeneration = 0;
  int32_t replicas = 0;
  int32_t readyReplicas = 0;
  int32_t desiredReplicas = 0;
  BacklogStatus backlog;
  std::optional<double> arrivalRate;
  std::optional<double> consumptionRate;
  std::optional<double> estimatedDrainSeconds;
  std::optional<std::string> lastScaleTime;
  std::string selector;
  std::vector<Condition> conditions;
  ScalerMemory scaler;
};

struct WorkerPool {
  ObjectMeta metadata;
  WorkerPoolSpec spec;
  WorkerPoolStatus status;
};

Result<WorkerPool> workerPoolFromJson(const nlohmann::json& j);
nlohmann::json toJson(const WorkerPoolStatus& s);
ScalerMemory scalerMemoryFromJson(const nlohmann::json& j);
nlohmann::json toJson(const ScalerMemory& m);
nlohmann::json toJson(const WorkerPool& p);

}  // namespace shoal::api
