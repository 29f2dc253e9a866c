// Rendering of a Receiver's config, ConfigMap, Deployment and Service.
#include "shoal/controllers/receiver_render.h"

namespace shoal::controllers {

using nlohmann::json;

std::string renderReceiverConfig(const api::Receiver& r) {
  json spec = r.spec.raw;
  if (spec.is_object()) spec.erase("replicas");  // /scale changes it; the pods need not restart
  return renderConfigDocument(api::kReceiverKind, r.metadata, spec);
}

std::vector<SecretEnv> receiverSecretEnv(const api::Receiver& r) {
  std::vector<SecretEnv> out = redisSecretEnv(r.spec.redis);
  if (!r.spec.bearerTokenSecretRef.empty())
    out.push_back({"SHOAL_RECEIVER_BEARER_TOKEN", r.spec.bearerTokenSecretRef});
  if (!r.spec.basicUsernameSecretRef.empty())
    out.push_back({"SHOAL_RECEIVER_USERNAME", r.spec.basicUsernameSecretRef});
  if (!r.spec.basicPasswordSecretRef.empty())
    out.push_back({"SHOAL_RECEIVER_PASSWORD", r.spec.basicPasswordSecretRef});
  return out;
}

std::vector<SecretFile> receiverSecretFiles(const api::Receiver& r) {
  std::vector<SecretFile> out = redisSecretFiles(r.spec.redis);
  if (!r.spec.tlsSecretName.empty()) {
    out.push_back({"SHOAL_RECEIVER_TLS_CERT_FILE", "receiver-tls", {r.spec.tlsSecretName, "tls.crt"}, "tls.crt"});
    out.push_back({"SHOAL_RECEIVER_TLS_KEY_FILE", "receiver-tls", {r.spec.tlsSecretName, "tls.key"}, "tls.key"});
  }
  return out;
}

std::string receiverInstance(const api::Receiver& r) {
  return api::fitName(r.metadata.name + "-receiver", api::kMaxDnsLabelLength);
}
std::string receiverConfigMapName(const api::Receiver& r) { return receiverInstance(r) + "-config"; }

std::map<std::string, std::string> receiverSelectorLabels(const api::Receiver& r) {
  return {{"app.kubernetes.io/name", "shoal-receiver"}, {"app.kubernetes.io/instance", receiverInstance(r)}};
}

std::string receiverSelectorString(const api::Receiver& r) { return labelSelectorString(receiverSelectorLabels(r)); }

std::map<std::string, std::string> receiverObjectLabels(const api::Receiver& r) {
  auto l = receiverSelectorLabels(r);
  l["app.kubernetes.io/component"] = "receiver";
  l["app.kubernetes.io/part-of"] = "shoal";
  l["app.kubernetes.io/managed-by"] = "shoal-operator";
  l[kReceiverLabel] = api::fitName(r.metadata.name, api::kMaxLabelValueLength);
  return l;
}

json receiverOwnerReference(const api::Receiver& r) {
  return json{{"apiVersion", api::kApiVersion}, {"kind", api::kReceiverKind}, {"name", r.metadata.name},
              {"uid", r.metadata.uid},          {"controller", true},         {"blockOwnerDeletion", true}};
}

namespace {
json objectMeta(const api::Receiver& r, const std::string& name) {
  return json{{"name", name},
              {"namespace", r.metadata.namespace_},
              {"labels", receiverObjectLabels(r)},
              {"ownerReferences", json::array({receiverOwnerReference(r)})}};
}
}  // namespace

json renderReceiverConfigMap(const api::Receiver& r, const std::string& renderedConfig) {
  return json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", objectMeta(r, receiverConfigMapName(r))},
              {"data", {{kReceiverConfigFileName, renderedConfig}}}};
}

json renderReceiverDeployment(const api::Receiver& r, const std::string& hash) {
  auto files = receiverSecretFiles(r);
  json env = json::array();
  for (const auto& s : receiverSecretEnv(r)) env.push_back(envFromSecret(s));
  for (const auto& f : files) env.push_back({{"name", f.envName}, {"value", f.path()}});

  json ports = json::array();
  for (const auto& p : r.spec.ports())
    ports.push_back({{"name", p.name}, {"containerPort", p.port}, {"protocol", p.protocol}});

  json container = {
      {"name", "receiver"},
      {"image", r.spec.image},
      {"imagePullPolicy", "IfNotPresent"},
      {"command", {"shoal-receiver"}},
      {"args", {"--config", std::string(kConfigMountPath) + "/" + kReceiverConfigFileName}},
      {"ports", ports},
      {"env", env},
  };
  // Without a metrics port the receiver serves no /healthz or /readyz.
  if (r.spec.metricsPort != 0) {
    container["livenessProbe"] = {{"httpGet", {{"path", "/healthz"}, {"port", "metrics"}}},
                                  {"periodSeconds", 10},
                                  {"failureThreshold", 3}};
    container["readinessProbe"] = {{"httpGet", {{"path", "/readyz"}, {"port", "metrics"}}},
                                   {"periodSeconds", 5},
                                   {"failureThreshold", 2}};
  }
  json podSpec = hardenedPodSpec(std::move(container), receiverConfigMapName(r), 30, files);

  auto podLabels = receiverObjectLabels(r);
  return json{{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", objectMeta(r, receiverInstance(r))},
              {"spec",
               {{"replicas", r.spec.replicas},
                {"selector", {{"matchLabels", receiverSelectorLabels(r)}}},
                {"strategy",
                 {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", 0}}}}},
                {"template",
                 {{"metadata", {{"labels", podLabels}, {"annotations", {{kConfigHashAnnotation, hash}}}}},
                  {"spec", podSpec}}}}}};
}

json renderReceiverService(const api::Receiver& r) {
  json ports = json::array();
  for (const auto& p : r.spec.ports())
    ports.push_back({{"name", p.name}, {"port", p.port}, {"targetPort", p.name}, {"protocol", p.protocol}});
  return json{{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", objectMeta(r, receiverInstance(r))},
              {"spec", {{"type", "ClusterIP"}, {"selector", receiverSelectorLabels(r)}, {"ports", ports}}}};
}

}  // namespace shoal::controllers
