// The Receiver reconciler's seams on the Kubernetes API: Receivers read from
// an informer cache (or GET), status through a /status merge patch, Secrets
// through the KubeResourceStore, and the pods as a server-side-applied
// ConfigMap, Deployment and Service, each owned by its Receiver.
#pragma once

#include "shoal/controllers/kube_backends.h"
#include "shoal/controllers/receiver_controller.h"

namespace shoal::controllers {

kube::Resource receiversResource();
kube::Resource servicesResource();

/// \brief ReceiverStore on the API server. Thread-safe.
class KubeReceiverStore final : public ReceiverStore {
 public:
  /// `receivers` may be null (then every read is a GET); Secrets are read
  /// (and briefly cached) by `secrets`.
  KubeReceiverStore(kube::Client& client, KubeResourceStore& secrets, kube::Informer* receivers = nullptr);
  Result<std::optional<nlohmann::json>> getReceiver(const std::string& ns, const std::string& name) override;
  Result<std::optional<std::string>> getSecretValue(const std::string& ns, const api::SecretKeyRef& ref) override;
  Result<void> writeReceiverStatus(const api::Receiver& receiver, const nlohmann::json& status) override;

 private:
  kube::Client& client_;
  KubeResourceStore& secrets_;
  kube::Informer* receivers_;
};

/// \brief ReceiverBackend of a ConfigMap, a Deployment and a Service.
/// Thread-safe. Informers may be null (GET instead). An object of the same
/// name controlled by something else is never taken over (kConflict).
class ReceiverDeploymentBackend final : public ReceiverBackend {
 public:
  ReceiverDeploymentBackend(kube::Client& client, kube::Informer* deployments = nullptr,
                            kube::Informer* configMaps = nullptr, kube::Informer* services = nullptr);
  Result<WorkloadObservation> ensure(const ReceiverIntent& intent, bool* changed) override;

 private:
  /// Applies `intent` unless the live object already holds it; returns the
  /// live object afterwards.
  Result<nlohmann::json> converge(const kube::Resource& r, kube::Informer* inf, const api::Receiver& owner,
                                  const std::string& name, const nlohmann::json& intent, bool* changed);
  kube::Client& client_;
  kube::Informer* deployments_;
  kube::Informer* configMaps_;
  kube::Informer* services_;
};

}  // namespace shoal::controllers
