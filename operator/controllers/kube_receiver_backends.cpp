// ReceiverStore and ReceiverBackend on the Kubernetes API.
#include "shoal/controllers/kube_receiver_backends.h"

#include "shoal/controllers/receiver_render.h"

namespace shoal::controllers {

using nlohmann::json;

kube::Resource receiversResource() {
  return {api::kGroup, api::kVersion, api::kReceiverPlural, true, api::kReceiverKind};
}
kube::Resource servicesResource() { return {"", "v1", "services", true, "Service"}; }

namespace {

/// The object from the informer's cache, else from the server (a cache
/// miss may be an object not seen yet); nullopt when it does not exist.
Result<std::optional<json>> readObject(kube::Client& client, const kube::Resource& r, kube::Informer* inf,
                                       const std::string& ns, const std::string& name, bool trustCache) {
  if (inf != nullptr) {
    auto obj = inf->get(ns, name);
    if (obj) return std::optional<json>(*obj);
    if (trustCache) return std::optional<json>();
  }
  auto got = client.get(r, ns, name);
  if (!got.ok()) {
    if (got.error().isNotFound()) return std::optional<json>();
    return got.error().toError();
  }
  return std::optional<json>(std::move(got.value()));
}

}  // namespace

// ---------------------------------------------------------------- store

KubeReceiverStore::KubeReceiverStore(kube::Client& client, KubeResourceStore& secrets, kube::Informer* receivers)
    : client_(client), secrets_(secrets), receivers_(receivers) {}

Result<std::optional<json>> KubeReceiverStore::getReceiver(const std::string& ns, const std::string& name) {
  return readObject(client_, receiversResource(), receivers_, ns, name, true);
}

Result<std::optional<std::string>> KubeReceiverStore::getSecretValue(const std::string& ns,
                                                                     const api::SecretKeyRef& ref) {
  return secrets_.getSecretValue(ns, ref);
}

Result<void> KubeReceiverStore::writeReceiverStatus(const api::Receiver& r, const json& status) {
  // Members the new status lacks are nulled, or their old values would stay.
  auto w = client_.mergePatch(receiversResource(), r.metadata.namespace_, r.metadata.name,
                              json{{"status", api::mergePatchBetween(api::toJson(r.status), status)}}, "status");
  if (!w.ok()) {
    if (w.error().isNotFound()) return {};  // deleted meanwhile
    return w.error().toError();
  }
  return {};
}

// ---------------------------------------------------------------- backend

ReceiverDeploymentBackend::ReceiverDeploymentBackend(kube::Client& client, kube::Informer* deployments,
                                                     kube::Informer* configMaps, kube::Informer* services)
    : client_(client), deployments_(deployments), configMaps_(configMaps), services_(services) {}

Result<json> ReceiverDeploymentBackend::converge(const kube::Resource& r, kube::Informer* inf,
                                                 const api::Receiver& owner, const std::string& name,
                                                 const json& intent, bool* changed) {
  const std::string& ns = owner.metadata.namespace_;
  auto live = readObject(client_, r, inf, ns, name, false);
  if (!live.ok()) return live.error();
  if (live.value()) {
    auto controller = kube::controllerOwnerOf(*live.value());
    if (controller && controller->value("uid", "") != owner.metadata.uid)
      return makeError(Errc::kConflict,
                       r.kind + " " + name + " exists and is not controlled by this Receiver");
    if (containsIntent(*live.value(), intent)) return std::move(*live.value());
  }
  auto applied = client_.apply(r, ns, name, intent, kFieldManager, true);
  if (!applied.ok()) return applied.error().toError();
  *changed = true;
  return std::move(applied.value());
}

Result<WorkloadObservation> ReceiverDeploymentBackend::ensure(const ReceiverIntent& intent, bool* changed) {
  const api::Receiver& r = *intent.receiver;
  *changed = false;
  auto cm = converge(kube::Resource::configMaps(), configMaps_, r, receiverConfigMapName(r),
                     renderReceiverConfigMap(r, intent.config), changed);
  if (!cm.ok()) return cm.error();
  auto dep = converge(kube::Resource::deployments(), deployments_, r, receiverInstance(r),
                      renderReceiverDeployment(r, intent.configHash), changed);
  if (!dep.ok()) return dep.error();
  auto svc = converge(servicesResource(), services_, r, receiverInstance(r), renderReceiverService(r), changed);
  if (!svc.ok()) return svc.error();
  return DeploymentBackend::observationOf(dep.value());
}

}  // namespace shoal::controllers
