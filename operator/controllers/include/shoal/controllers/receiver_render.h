// What a Receiver becomes on Kubernetes, as pure functions: the receiver's
// config file (the resource itself, spec.replicas left out so that scaling
// never rolls the pods), the ConfigMap that carries it, the Deployment of
// shoal-receiver pods and the Service with one port per listener. Secrets
// reach the pods as env vars and files (docs/receiver.md); the local process
// backend uses the same config and env.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "shoal/api/receiver.h"
#include "shoal/controllers/render.h"

namespace shoal::controllers {

inline constexpr const char* kReceiverLabel = "shoal.dev/receiver";
inline constexpr const char* kReceiverConfigFileName = "receiver.yaml";

/// The receiver config YAML: the Receiver (apiVersion, kind, name, namespace,
/// spec without replicas), deterministic, without secret values.
std::string renderReceiverConfig(const api::Receiver& receiver);

/// The secret-backed env vars of the receiver pods: the Redis credentials
/// (SHOAL_REDIS_USERNAME, _PASSWORD) and the HTTP credentials
/// (SHOAL_RECEIVER_BEARER_TOKEN, or SHOAL_RECEIVER_USERNAME and _PASSWORD).
std::vector<SecretEnv> receiverSecretEnv(const api::Receiver& receiver);
/// The secret-backed files: Redis TLS material (SHOAL_REDIS_TLS_*_FILE) and
/// the server certificate (SHOAL_RECEIVER_TLS_CERT_FILE, _KEY_FILE) from the
/// kubernetes.io/tls Secret.
std::vector<SecretFile> receiverSecretFiles(const api::Receiver& receiver);

/// "<name>-receiver" fitted to 63 characters (api::fitName): the Deployment's
/// and Service's name and the instance label; a WorkerPool of the same name
/// in the namespace cannot collide with it.
std::string receiverInstance(const api::Receiver& receiver);
/// "<instance>-config".
std::string receiverConfigMapName(const api::Receiver& receiver);

/// app.kubernetes.io/name=shoal-receiver and instance: the pods' selector.
std::map<std::string, std::string> receiverSelectorLabels(const api::Receiver& receiver);
std::string receiverSelectorString(const api::Receiver& receiver);
/// Selector + component, part-of, managed-by and shoal.dev/receiver.
std::map<std::string, std::string> receiverObjectLabels(const api::Receiver& receiver);
/// The owner reference to the Receiver (controller, blockOwnerDeletion).
nlohmann::json receiverOwnerReference(const api::Receiver& receiver);

nlohmann::json renderReceiverConfigMap(const api::Receiver& receiver, const std::string& renderedConfig);
/// The Deployment with spec.replicas and the config hash in the pod template.
nlohmann::json renderReceiverDeployment(const api::Receiver& receiver, const std::string& hash);
/// A ClusterIP Service with one port per listener (api::ReceiverSpec::ports()),
/// each targeting the container port of the same name.
nlohmann::json renderReceiverService(const api::Receiver& receiver);

}  // namespace shoal::controllers
