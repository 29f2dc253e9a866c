// The controllers' seams implemented on the Kubernetes API (shoal_kube):
// Pipelines and WorkerPools read from informer caches (or GET when no
// informer is given), status through /status merge patches, Secrets read on
// demand (briefly cached), workers as a server-side-applied ConfigMap and
// Deployment, events through the deduplicating EventRecorder.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "shoal/common/clock.h"
#include "shoal/controllers/interfaces.h"
#include "shoal/kube/client.h"
#include "shoal/kube/event_recorder.h"
#include "shoal/kube/informer.h"

namespace shoal::controllers {

kube::Resource pipelinesResource();
kube::Resource workerPoolsResource();


/// \brief ResourceStore on the API server. Thread-safe.
class KubeResourceStore final : public ResourceStore {
 public:
  /// Informers may be null (then every read is a GET).
  KubeResourceStore(kube::Client& client, Clock& clock, kube::Informer* pools = nullptr,
                    kube::Informer* pipelines = nullptr,
                    Duration secretTtl = std::chrono::seconds(10));
  Result<std::optional<api::WorkerPool>> getWorkerPool(const std::string& ns,
                                                       const std::string& name) override;
  Result<std::optional<api::Pipeline>> getPipeline(const std::string& ns,
                                                   const std::string& name) override;
  Result<std::vector<api::WorkerPool>> listWorkerPools(const std::string& ns) override;
  Result<std::optional<std::string>> getSecretValue(const std::string& ns,
                                                    const api::SecretKeyRef& ref) override;
  Result<void> writeWorkerPoolStatus(const api::WorkerPool& pool,
                                     const nlohmann::json& status) override;
  Result<void> writePipelineStatus(const api::Pipeline& pipeline,
                                   const nlohmann::json& status) override;
  Result<void> setPipelineFinalizer(const api::Pipeline& pipeline, const std::string& finalizer,
                                    bool present) override;

 private:
  Result<std::optional<nlohmann::json>> read(const kube::Resource& r, kube::Informer* inf,
                                             const std::string& ns, const std::string& name);
  kube::Client& client_;
  Clock& clock_;
  kube::Informer* pools_;
  kube::Informer* pipelines_;
  Duration secretTtl_;
  std::mutex mu_;
  struct CachedSecret {
    MonoTime at;
    std::optional<nlohmann::json> data;
  };
  std::map<std::string, CachedSecret> secrets_;
};

/// \brief WorkloadBackend of Deployments + ConfigMaps. Thread-safe.
class DeploymentBackend final : public WorkloadBackend {
 public:
  /// `deployments` and `configMaps` informers may be null (GET instead).
  DeploymentBackend(kube::Client& client, kube::Informer* deployments = nullptr,
                    kube::Informer* configMaps = nullptr);
  Result<WorkloadObservation> observe(const api::WorkerPool& pool) override;
  Result<WorkloadObservation> ensure(const WorkloadIntent& intent, bool* changed) override;

  /// What a Deployment object says (pure; exposed for tests).
  static WorkloadObservation observationOf(const nlohmann::json& deployment);

 private:
  Result<std::optional<nlohmann::json>> live(const kube::Resource& r, kube::Informer* inf,
                                             const std::string& ns, const std::string& name);
  kube::Client& client_;
  kube::Informer* deployments_;
  kube::Informer* configMaps_;
};

/// \brief EventSink over kube::EventRecorder. Thread-safe.
class KubeEventSink final : public EventSink {
 public:
  explicit KubeEventSink(kube::EventRecorder& recorder) : recorder_(recorder) {}
  void record(const EventTarget& target, const std::string& type, const std::string& reason,
              const std::string& message) override;

 private:
  kube::EventRecorder& recorder_;
};

}  // namespace shoal::controllers
