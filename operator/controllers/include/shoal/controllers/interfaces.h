// The seams of the controllers: where resources are read and status written
// (ResourceStore), where workers are run (WorkloadBackend) and where events go
// (EventSink). Kubernetes implements them with the API server (kube_backends.h);
// local mode implements them with YAML files and processes; unit
// tests with in-memory fakes. The reconcilers hold all of the logic.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "shoal/api/pipeline.h"
#include "shoal/api/worker_pool.h"
#include "shoal/common/result.h"

namespace shoal::controllers {

/// \brief Reads Pipelines, WorkerPools and Secret values; writes status and
/// the Pipeline finalizer. Implementations must be thread-safe.
class ResourceStore {
 public:
  virtual ~ResourceStore() = default;
  /// nullopt when it does not exist.
  virtual Result<std::optional<api::WorkerPool>> getWorkerPool(const std::string& ns,
                                                               const std::string& name) = 0;
  virtual Result<std::optional<api::Pipeline>> getPipeline(const std::string& ns,
                                                           const std::string& name) = 0;
  /// Every WorkerPool of the namespace (for a Pipeline's pool list).
  virtual Result<std::vector<api::WorkerPool>> listWorkerPools(const std::string& ns) = 0;
  /// The value of one Secret key; nullopt when the Secret or key is missing.
  virtual Result<std::optional<std::string>> getSecretValue(const std::string& ns,
                                                            const api::SecretKeyRef& ref) = 0;
  /// Replaces the status (JSON as api::toJson renders it).
  virtual Result<void> writeWorkerPoolStatus(const api::WorkerPool& pool,
                                             const nlohmann::json& status) = 0;
  virtual Result<void> writePipelineStatus(const api::Pipeline& pipeline,
                                           const nlohmann::json& status) = 0;
  /// Adds or removes `finalizer` on the Pipeline.
  virtual Result<void> setPipelineFinalizer(const api::Pipeline& pipeline,
                                            const std::string& finalizer, bool present) = 0;
};

/// What the backend saw of a pool's workers.
struct WorkloadObservation {
  bool exists = false;
  int32_t specReplicas = 0;   // what was last asked for
  int32_t replicas = 0;       // running (status.replicas)
  int32_t readyReplicas = 0;
  int32_t updatedReplicas = 0;
  bool rolloutComplete = true;  // observedGeneration current and all updated
  std::string configHash;       // of the running template ("" if unknown)
  /// The most replicas this backend can run, when that is fewer than some
  /// specs ask for (local mode's receivers: one process, the ports bind
  /// once); 0: no limit. `replicaLimitReason` says why, in words.
  int32_t replicaLimit = 0;
  std::string replicaLimitReason;
};

/// Everything a backend needs to run a pool's workers.
struct WorkloadIntent {
  const api::Pipeline* pipeline = nullptr;
  const api::WorkerPool* pool = nullptr;
  std::string config;      // rendered worker config (renderWorkerConfig)
  std::string configHash;  // configHash(config)
  int32_t replicas = 0;
};

/// \brief Runs a pool's workers. Thread-safe across different pools.
class WorkloadBackend {
 public:
  virtual ~WorkloadBackend() = default;
  /// The current state without changing anything.
  virtual Result<WorkloadObservation> observe(const api::WorkerPool& pool) = 0;
  /// Converges the workers to the intent (idempotent; corrects drift) and
  /// returns what it sees afterwards. `changed` says whether it wrote.
  virtual Result<WorkloadObservation> ensure(const WorkloadIntent& intent, bool* changed) = 0;
};

/// A reference to the object an event is about.
struct EventTarget {
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;
  std::string apiVersion = "shoal.dev/v1alpha1";
};

/// \brief Records events (deduplicated by the implementation). Thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  /// type: "Normal" or "Warning"; reason CamelCase.
  virtual void record(const EventTarget& target, const std::string& type,
                      const std::string& reason, const std::string& message) = 0;
};

}  // namespace shoal::controllers
