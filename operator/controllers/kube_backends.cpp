// ResourceStore, WorkloadBackend and EventSink on the Kubernetes API.
#include "shoal/controllers/kube_backends.h"
#include "shoal/common/base64.h"

#include <algorithm>

#include "shoal/common/log.h"
#include "shoal/controllers/render.h"

namespace shoal::controllers {

using nlohmann::json;

kube::Resource pipelinesResource() {
  return {api::kGroup, api::kVersion, api::kPipelinePlural, true, api::kPipelineKind};
}
kube::Resource workerPoolsResource() {
  return {api::kGroup, api::kVersion, api::kWorkerPoolPlural, true, api::kWorkerPoolKind};
}

namespace {
Error toError(const kube::ApiError& e) { return e.toError(); }
}  // namespace

// ---------------------------------------------------------------- store

KubeResourceStore::KubeResourceStore(kube::Client& client, Clock& clock, kube::Informer* pools,
                                     kube::Informer* pipelines, Duration secretTtl)
    : client_(client), clock_(clock), pools_(pools), pipelines_(pipelines), secretTtl_(secretTtl) {}

Result<std::optional<json>> KubeResourceStore::read(const kube::Resource& r, kube::Informer* inf,
                                                    const std::string& ns,
                                                    const std::string& name) {
  if (inf != nullptr) {
    auto obj = inf->get(ns, name);
    if (!obj) return std::optional<json>();
    return std::optional<json>(*obj);
  }
  auto got = client_.get(r, ns, name);
  if (!got.ok()) {
    if (got.error().isNotFound()) return std::optional<json>();
    return toError(got.error());
  }
  return std::optional<json>(std::move(got.value()));
}

Result<std::optional<api::WorkerPool>> KubeResourceStore::getWorkerPool(const std::string& ns,
                                                                        const std::string& name) {
  auto j = read(workerPoolsResource(), pools_, ns, name);
  if (!j.ok()) return j.error();
  if (!j.value()) return std::optional<api::WorkerPool>();
  auto p = api::workerPoolFromJson(*j.value());
  if (!p.ok()) return p.error();
  return std::optional<api::WorkerPool>(std::move(p.value()));
}

Result<std::optional<api::Pipeline>> KubeResourceStore::getPipeline(const std::string& ns,
                                                                    const std::string& name) {
  auto j = read(pipelinesResource(), pipelines_, ns, name);
  if (!j.ok()) return j.error();
  if (!j.value()) return std::optional<api::Pipeline>();
  auto p = api::pipelineFromJson(*j.value());
  if (!p.ok()) return p.error();
  return std::optional<api::Pipeline>(std::move(p.value()));
}

Result<std::vector<api::WorkerPool>> KubeResourceStore::listWorkerPools(const std::string& ns) {
  std::vector<json> items;
  if (pools_ != nullptr) {
    for (const auto& o : pools_->listNamespace(ns)) items.push_back(*o);
  } else {
    auto l = client_.listAll(workerPoolsResource(), ns);
    if (!l.ok()) return toError(l.error());
    items = std::move(l.value().items);
  }
  std::vector<api::WorkerPool> out;
  for (const auto& j : items) {
    auto p = api::workerPoolFromJson(j);
    if (p.ok()) out.push_back(std::move(p.value()));
  }
  return out;
}

Result<std::optional<std::string>> KubeResourceStore::getSecretValue(
    const std::string& ns, const api::SecretKeyRef& ref) {
  const std::string key = ns + "/" + ref.name;
  std::optional<json> data;
  bool cached = false;
  {
    std::lock_guard lock(mu_);
    auto it = secrets_.find(key);
    if (it != secrets_.end() && clock_.now() - it->second.at < secretTtl_) {
      data = it->second.data;
      cached = true;
    }
  }
  if (!cached) {
    auto got = client_.get(kube::Resource::secrets(), ns, ref.name);
    if (!got.ok() && !got.error().isNotFound()) return toError(got.error());
    if (got.ok()) data = got.value().value("data", json::object());
    std::lock_guard lock(mu_);
    secrets_[key] = CachedSecret{clock_.now(), data};
  }
  if (!data || !data->is_object() || !data->contains(ref.key) || !(*data)[ref.key].is_string()) {
    return std::optional<std::string>();
  }
  auto decoded = shoal::base64Decode((*data)[ref.key].get<std::string>());
  if (!decoded) {
    return makeError(Errc::kInvalidInput,
                     "Secret " + ref.name + " key " + ref.key + " is not valid base64");
  }
  return std::optional<std::string>(*decoded);
}

Result<void> KubeResourceStore::writeWorkerPoolStatus(const api::WorkerPool& pool,
                                                      const json& status) {
  // A merge patch keeps every member it does not mention: what this status
  // no longer has (a backlog that could not be measured) must be nulled, or
  // the last measured value would stay on display.
  auto r = client_.mergePatch(
      workerPoolsResource(), pool.metadata.namespace_, pool.metadata.name,
      json{{"status", api::mergePatchBetween(api::toJson(pool.status), status)}}, "status");
  if (!r.ok()) return toError(r.error());
  return {};
}

Result<void> KubeResourceStore::writePipelineStatus(const api::Pipeline& p, const json& status) {
  auto r = client_.mergePatch(
      pipelinesResource(), p.metadata.namespace_, p.metadata.name,
      json{{"status", api::mergePatchBetween(api::toJson(p.status), status)}}, "status");
  if (!r.ok()) return toError(r.error());
  return {};
}

Result<void> KubeResourceStore::setPipelineFinalizer(const api::Pipeline& p,
                                                     const std::string& finalizer, bool present) {
  std::vector<std::string> fs;
  for (const auto& f : p.metadata.finalizers) {
    if (f != finalizer) fs.push_back(f);
  }
  if (present) fs.push_back(finalizer);
  // resourceVersion makes the patch optimistic: a concurrent change gives 409
  // and the reconcile runs again on fresh data.
  json patch = {{"metadata", {{"finalizers", fs}, {"resourceVersion", p.metadata.resourceVersion}}}};
  auto r = client_.mergePatch(pipelinesResource(), p.metadata.namespace_, p.metadata.name, patch);
  if (!r.ok()) {
    if (r.error().isNotFound()) return {};
    return toError(r.error());
  }
  return {};
}

// ---------------------------------------------------------------- workloads

DeploymentBackend::DeploymentBackend(kube::Client& client, kube::Informer* deployments,
                                     kube::Informer* configMaps)
    : client_(client), deployments_(deployments), configMaps_(configMaps) {}

WorkloadObservation DeploymentBackend::observationOf(const json& d) {
  WorkloadObservation o;
  if (!d.is_object()) return o;
  o.exists = true;
  const json& spec = api::objectAt(d, "spec");
  const json& st = api::objectAt(d, "status");
  o.specReplicas = static_cast<int32_t>(api::intAt(spec, "replicas", 1));
  o.replicas = static_cast<int32_t>(api::intAt(st, "replicas", 0));
  o.readyReplicas = static_cast<int32_t>(api::intAt(st, "readyReplicas", 0));
  o.updatedReplicas = static_cast<int32_t>(api::intAt(st, "updatedReplicas", 0));
  int64_t gen = api::intAt(api::objectAt(d, "metadata"), "generation", 0);
  int64_t observedGen = api::intAt(st, "observedGeneration", 0);
  o.rolloutComplete = observedGen >= gen && o.updatedReplicas >= o.specReplicas &&
                      o.replicas <= o.specReplicas;
  const json& tmplMeta = api::objectAt(api::objectAt(spec, "template"), "metadata");
  o.configHash = api::stringAt(api::objectAt(tmplMeta, "annotations"), kConfigHashAnnotation);
  return o;
}

Result<std::optional<json>> DeploymentBackend::live(const kube::Resource& r, kube::Informer* inf,
                                                    const std::string& ns,
                                                    const std::string& name) {
  if (inf != nullptr) {
    auto obj = inf->get(ns, name);
    if (obj) return std::optional<json>(*obj);
    // Not in the cache: maybe not there yet; ask the server to be sure.
  }
  auto got = client_.get(r, ns, name);
  if (!got.ok()) {
    if (got.error().isNotFound()) return std::optional<json>();
    return toError(got.error());
  }
  return std::optional<json>(std::move(got.value()));
}

Result<WorkloadObservation> DeploymentBackend::observe(const api::WorkerPool& pool) {
  auto d = live(kube::Resource::deployments(), deployments_, pool.metadata.namespace_,
                deploymentName(pool));
  if (!d.ok()) return d.error();
  if (!d.value()) return WorkloadObservation{};
  return observationOf(*d.value());
}

namespace {
bool ownedByOther(const json& obj, const std::string& uid) {
  auto owner = kube::controllerOwnerOf(obj);
  return owner && owner->value("uid", "") != uid;
}
}  // namespace

Result<WorkloadObservation> DeploymentBackend::ensure(const WorkloadIntent& intent,
                                                      bool* changed) {
  const api::WorkerPool& pool = *intent.pool;
  const std::string& ns = pool.metadata.namespace_;
  *changed = false;

  json cm = renderConfigMap(*intent.pipeline, pool, intent.config);
  auto liveCm = live(kube::Resource::configMaps(), configMaps_, ns, configMapName(pool));
  if (!liveCm.ok()) return liveCm.error();
  if (liveCm.value() && ownedByOther(*liveCm.value(), pool.metadata.uid)) {
    return makeError(Errc::kConflict, "ConfigMap " + configMapName(pool) +
                                          " exists and is not controlled by this WorkerPool");
  }
  if (!liveCm.value() || !containsIntent(*liveCm.value(), cm)) {
    auto r = client_.apply(kube::Resource::configMaps(), ns, configMapName(pool), cm,
                           kFieldManager, true);
    if (!r.ok()) return toError(r.error());
    *changed = true;
  }

  json dep = renderDeployment(*intent.pipeline, pool, intent.configHash, intent.replicas);
  auto liveDep = live(kube::Resource::deployments(), deployments_, ns, deploymentName(pool));
  if (!liveDep.ok()) return liveDep.error();
  if (liveDep.value() && ownedByOther(*liveDep.value(), pool.metadata.uid)) {
    return makeError(Errc::kConflict, "Deployment " + deploymentName(pool) +
                                          " exists and is not controlled by this WorkerPool");
  }
  if (liveDep.value() && containsIntent(*liveDep.value(), dep)) {
    return observationOf(*liveDep.value());
  }
  auto r = client_.apply(kube::Resource::deployments(), ns, deploymentName(pool), dep,
                         kFieldManager, true);
  if (!r.ok()) return toError(r.error());
  *changed = true;
  return observationOf(r.value());
}

// ---------------------------------------------------------------- events

void KubeEventSink::record(const EventTarget& t, const std::string& type,
                           const std::string& reason, const std::string& message) {
  json obj = {{"apiVersion", t.apiVersion},
              {"kind", t.kind},
              {"metadata", {{"name", t.name}, {"namespace", t.ns}, {"uid", t.uid}}}};
  auto r = recorder_.record(obj,
                            type == "Warning" ? kube::EventRecorder::Type::kWarning
                                              : kube::EventRecorder::Type::kNormal,
                            reason, message);
  if (!r.ok()) {
    log::warn("event not recorded", {{"object", t.ns + "/" + t.name},
                                     {"reason", reason},
                                     {"error", r.error().describe()}});
  }
}

}  // namespace shoal::controllers
