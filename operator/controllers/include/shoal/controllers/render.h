// What a WorkerPool becomes on Kubernetes, as pure functions: the worker's
// config file (the Pipeline spec, the shape shoal-worker reads), its hash, the
// ConfigMap that carries it and the Deployment that runs the workers. The same
// config and environment feed the local process backend.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "shoal/api/pipeline.h"
#include "shoal/api/worker_pool.h"

namespace shoal::controllers {

inline constexpr const char* kFieldManager = "shoal-operator";
inline constexpr const char* kConfigHashAnnotation = "shoal.dev/config-hash";
inline constexpr const char* kPipelineLabel = "shoal.dev/pipeline";
inline constexpr const char* kWorkerPoolLabel = "shoal.dev/worker-pool";
inline constexpr const char* kConfigFileName = "pipeline.yaml";
inline constexpr const char* kConfigMountPath = "/etc/shoal";
inline constexpr int kWorkerPort = 9100;

/// The worker config YAML: the Pipeline spec, deterministic (sorted keys),
/// with no secret values in it (secrets reach the worker as env) and without
/// spec.retention (the operator's alone).
std::string renderWorkerConfig(const api::Pipeline& pipeline);

/// A config file as shoal's binaries read it: `kind` with apiVersion, the
/// object's name and namespace and `spec`, as deterministic YAML (sorted
/// keys) under a comment saying where it came from.
std::string renderConfigDocument(const std::string& kind, const api::ObjectMeta& meta,
                                 const nlohmann::json& spec);

/// A stable hex digest (FNV-1a 64) of the rendered config; it goes into the
/// pod template so a config change rolls the workers.
std::string configHash(const std::string& renderedConfig);

/// An env var taken from a Secret key (SHOAL_REDIS_PASSWORD, ...).
struct SecretEnv {
  std::string name;
  api::SecretKeyRef ref;
};
/// The secret-backed env vars the worker needs for this Pipeline.
std::vector<SecretEnv> workerSecretEnv(const api::Pipeline& pipeline);
/// Those of a Redis connection alone (SHOAL_REDIS_USERNAME, _PASSWORD).
std::vector<SecretEnv> redisSecretEnv(const api::RedisSource& redis);
/// The container env var of `e` (valueFrom.secretKeyRef).
nlohmann::json envFromSecret(const SecretEnv& e);

/// A file the worker reads from a Secret key (TLS CA bundles, client
/// certificate and key): mounted from a Secret volume on Kubernetes, written
/// by the process backend in local mode. `envName` is the worker's variable
/// naming the file (SHOAL_REDIS_TLS_CA_FILE, ...).
struct SecretFile {
  std::string envName;
  std::string volumeName;  // also the directory under kSecretFilesMountRoot
  api::SecretKeyRef ref;
  std::string fileName;    // the file's name inside that directory
  std::string path() const;  // where the worker finds it on Kubernetes
};
inline constexpr const char* kSecretFilesMountRoot = "/etc/shoal/secrets";
/// The secret-backed files the worker needs for this Pipeline.
std::vector<SecretFile> workerSecretFiles(const api::Pipeline& pipeline);
/// Those of a Redis connection alone (TLS CA, client certificate and key).
std::vector<SecretFile> redisSecretFiles(const api::RedisSource& redis);
/// The pod volumes (one Secret volume per directory, only the keys needed,
/// mode 0440: the pod needs fsGroup) and the container's mounts for `files`.
std::pair<nlohmann::json, nlohmann::json> secretFileVolumes(const std::vector<SecretFile>& files);

/// The pool's name as the Deployment's name and the instance label: the
/// name itself when it has at most 63 characters, else
/// api::fitName(name, 63) (a prefix, "-", 8 hex digits of its hash).
std::string poolInstance(const api::WorkerPool& pool);
/// The ConfigMap's ("<instance>-config") and Deployment's ("<instance>")
/// names for a pool.
std::string configMapName(const api::WorkerPool& pool);
std::string deploymentName(const api::WorkerPool& pool);

/// Selector labels (name + instance only, stable for the Deployment's life).
std::map<std::string, std::string> selectorLabels(const api::WorkerPool& pool);
/// "k1=v1,k2=v2" in key order: a label selector as status.selector holds it.
std::string labelSelectorString(const std::map<std::string, std::string>& labels);
/// "app.kubernetes.io/instance=<instance>,app.kubernetes.io/name=shoal-worker"
std::string selectorString(const api::WorkerPool& pool);
/// All labels of rendered objects: selector + app.kubernetes.io/* +
/// shoal.dev/worker-pool (the instance) + shoal.dev/pipeline (the Pipeline's
/// name, fitted to 63 characters the same way).
std::map<std::string, std::string> objectLabels(const api::WorkerPool& pool);

/// The owner reference to the pool (controller: true, blockOwnerDeletion).
nlohmann::json ownerReference(const api::WorkerPool& pool);

/// The hardened pod spec workers and receivers run: user and group 65532,
/// non-root, RuntimeDefault seccomp; `container` gets the restricted
/// securityContext (no privilege escalation, read-only root, no
/// capabilities) and mounts of the config ConfigMap at kConfigMountPath, an
/// emptyDir at /tmp and the Secret files (fsGroup set when there are any).
nlohmann::json hardenedPodSpec(nlohmann::json container, const std::string& configMapName,
                               int64_t terminationGracePeriodSeconds, const std::vector<SecretFile>& files);

/// The ConfigMap intent (apiVersion, kind, metadata, data).
nlohmann::json renderConfigMap(const api::Pipeline& pipeline, const api::WorkerPool& pool,
                               const std::string& renderedConfig);

/// The Deployment intent with `replicas` and the config hash in the pod
/// template's annotations.
nlohmann::json renderDeployment(const api::Pipeline& pipeline, const api::WorkerPool& pool,
                                const std::string& hash, int32_t replicas);

/// Whether every field of `intent` is present with an equal value in `live`
/// (objects compared key by key, recursively; arrays element by element with
/// equal length). Server-added fields in `live` do not count as drift.
bool containsIntent(const nlohmann::json& live, const nlohmann::json& intent);

}  // namespace shoal::controllers
