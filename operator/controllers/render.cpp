// Rendering of the worker config, ConfigMap and Deployment for a WorkerPool.
#include "shoal/controllers/render.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>

namespace shoal::controllers {

using nlohmann::json;

namespace {

void emit(YAML::Emitter& out, const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = j.begin(); it != j.end(); ++it) {  // nlohmann keeps keys sorted
        out << YAML::Key << it.key() << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& e : j) emit(out, e);
      out << YAML::EndSeq;
      break;
    case json::value_t::string:
      out << YAML::DoubleQuoted << j.get<std::string>();
      break;
    case json::value_t::boolean:
      out << (j.get<bool>() ? "true" : "false");
      break;
    case json::value_t::number_integer:
      out << j.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << j.dump();
      break;
    default:
      out << YAML::Null;
  }
}

bool isOurEnv(const std::string& name, const std::vector<SecretEnv>& secrets,
              const std::vector<SecretFile>& files) {
  if (name == "SHOAL_CONSUMER_NAME") return true;
  for (const auto& s : secrets) {
    if (s.name == name) return true;
  }
  for (const auto& f : files) {
    if (f.envName == name) return true;
  }
  return false;
}

}  // namespace

json envFromSecret(const SecretEnv& e) {
  return json{{"name", e.name},
              {"valueFrom", {{"secretKeyRef", {{"name", e.ref.name}, {"key", e.ref.key}}}}}};
}

std::string renderConfigDocument(const std::string& kind, const api::ObjectMeta& meta, const json& spec) {
  json doc = json::object();
  doc["apiVersion"] = api::kApiVersion;
  doc["kind"] = kind;
  doc["metadata"] = json{{"name", meta.name}, {"namespace", meta.namespace_}};
  doc["spec"] = spec;
  YAML::Emitter out;
  out << YAML::Comment("Rendered by shoal-operator from " + kind + " " + meta.namespace_ + "/" + meta.name +
                       "; secrets come from the environment.");
  emit(out, doc);
  return std::string(out.c_str()) + "\n";
}

std::string renderWorkerConfig(const api::Pipeline& pipeline) {
  json spec = pipeline.spec.raw;
  // Retention is the operator's business: the workers neither read it nor
  // need restarting when it changes (the config hash leaves it out).
  if (spec.is_object()) spec.erase("retention");
  return renderConfigDocument(api::kPipelineKind, pipeline.metadata, spec);
}

std::string configHash(const std::string& renderedConfig) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(api::stableHash(renderedConfig)));
  return buf;
}

std::string SecretFile::path() const {
  return std::string(kSecretFilesMountRoot) + "/" + volumeName + "/" + fileName;
}

std::vector<SecretFile> redisSecretFiles(const api::RedisSource& r) {
  std::vector<SecretFile> out;
  if (!r.tlsCaSecretRef.empty()) {
    out.push_back({"SHOAL_REDIS_TLS_CA_FILE", "redis-tls-ca", r.tlsCaSecretRef, "ca.crt"});
  }
  if (!r.tlsClientCertSecretName.empty()) {
    out.push_back({"SHOAL_REDIS_TLS_CERT_FILE", "redis-tls-client",
                   {r.tlsClientCertSecretName, "tls.crt"}, "tls.crt"});
    out.push_back({"SHOAL_REDIS_TLS_KEY_FILE", "redis-tls-client",
                   {r.tlsClientCertSecretName, "tls.key"}, "tls.key"});
  }
  return out;
}

std::vector<SecretFile> workerSecretFiles(const api::Pipeline& p) {
  std::vector<SecretFile> out = redisSecretFiles(p.spec.redis);
  if (!p.spec.sink.tlsCaSecretRef.empty()) {
    out.push_back({"SHOAL_SINK_CA_FILE", "sink-tls-ca", p.spec.sink.tlsCaSecretRef, "ca.crt"});
  }
  return out;
}

std::vector<SecretEnv> redisSecretEnv(const api::RedisSource& r) {
  std::vector<SecretEnv> out;
  if (!r.usernameSecretRef.empty()) out.push_back({"SHOAL_REDIS_USERNAME", r.usernameSecretRef});
  if (!r.passwordSecretRef.empty()) out.push_back({"SHOAL_REDIS_PASSWORD", r.passwordSecretRef});
  return out;
}

std::vector<SecretEnv> workerSecretEnv(const api::Pipeline& p) {
  std::vector<SecretEnv> out = redisSecretEnv(p.spec.redis);
  if (!p.spec.sink.usernameSecretRef.empty()) {
    out.push_back({"SHOAL_SINK_USERNAME", p.spec.sink.usernameSecretRef});
  }
  if (!p.spec.sink.passwordSecretRef.empty()) {
    out.push_back({"SHOAL_SINK_PASSWORD", p.spec.sink.passwordSecretRef});
  }
  if (!p.spec.sink.apiKeySecretRef.empty()) {
    out.push_back({"SHOAL_SINK_API_KEY", p.spec.sink.apiKeySecretRef});
  }
  if (!p.spec.sink.bearerTokenSecretRef.empty()) {
    out.push_back({"SHOAL_SINK_BEARER_TOKEN", p.spec.sink.bearerTokenSecretRef});
  }
  return out;
}

// A pool name may be a 253-character DNS subdomain, but the Deployment's
// name prefixes its ReplicaSets' (plus "-" and a hash of up to 10) and its
// pods' names and host names (DNS labels), and the same value is a label:
// everything derived from the pool name fits 63 characters. Names that fit
// already are used as they are, so upgrading never renames live objects.
std::string poolInstance(const api::WorkerPool& pool) {
  return api::fitName(pool.metadata.name, api::kMaxDnsLabelLength);
}
std::string configMapName(const api::WorkerPool& pool) {
  return poolInstance(pool) + "-config";
}
std::string deploymentName(const api::WorkerPool& pool) {
  return poolInstance(pool);
}

std::map<std::string, std::string> selectorLabels(const api::WorkerPool& pool) {
  return {{"app.kubernetes.io/name", "shoal-worker"},
          {"app.kubernetes.io/instance", poolInstance(pool)}};
}

std::string labelSelectorString(const std::map<std::string, std::string>& labels) {
  std::string s;
  for (const auto& [k, v] : labels) {
    if (!s.empty()) s += ",";
    s += k + "=" + v;
  }
  return s;
}

std::string selectorString(const api::WorkerPool& pool) { return labelSelectorString(selectorLabels(pool)); }

std::map<std::string, std::string> objectLabels(const api::WorkerPool& pool) {
  auto l = selectorLabels(pool);
  l["app.kubernetes.io/component"] = "worker";
  l["app.kubernetes.io/part-of"] = "shoal";
  l["app.kubernetes.io/managed-by"] = "shoal-operator";
  l[kPipelineLabel] = api::fitName(pool.spec.pipelineRef, api::kMaxLabelValueLength);
  l[kWorkerPoolLabel] = poolInstance(pool);
  return l;
}

json ownerReference(const api::WorkerPool& pool) {
  return json{{"apiVersion", api::kApiVersion}, {"kind", api::kWorkerPoolKind},
              {"name", pool.metadata.name},     {"uid", pool.metadata.uid},
              {"controller", true},             {"blockOwnerDeletion", true}};
}

std::pair<json, json> secretFileVolumes(const std::vector<SecretFile>& files) {
  // One read-only Secret volume per directory, with only the keys we need;
  // mode 0440 with fsGroup so the non-root user can read them.
  json secretVolumes = json::array();
  json secretMounts = json::array();
  for (const auto& f : files) {
    json* vol = nullptr;
    for (auto& v : secretVolumes) {
      if (v["name"] == f.volumeName) vol = &v;
    }
    if (!vol) {
      secretVolumes.push_back({{"name", f.volumeName},
                               {"secret",
                                {{"secretName", f.ref.name},
                                 {"defaultMode", 0440},
                                 {"items", json::array()}}}});
      secretMounts.push_back({{"name", f.volumeName},
                              {"mountPath", std::string(kSecretFilesMountRoot) + "/" + f.volumeName},
                              {"readOnly", true}});
      vol = &secretVolumes.back();
    }
    (*vol)["secret"]["items"].push_back({{"key", f.ref.key}, {"path", f.fileName}});
  }
  return {secretVolumes, secretMounts};
}

json hardenedPodSpec(json container, const std::string& configMapName, int64_t terminationGracePeriodSeconds,
                     const std::vector<SecretFile>& files) {
  auto [secretVolumes, secretMounts] = secretFileVolumes(files);
  container["securityContext"] = {{"allowPrivilegeEscalation", false},
                                  {"readOnlyRootFilesystem", true},
                                  {"runAsNonRoot", true},
                                  {"capabilities", {{"drop", {"ALL"}}}}};
  container["volumeMounts"] = {{{"name", "config"}, {"mountPath", kConfigMountPath}, {"readOnly", true}},
                               {{"name", "tmp"}, {"mountPath", "/tmp"}}};
  for (const auto& m : secretMounts) container["volumeMounts"].push_back(m);
  json podSpec = {
      {"terminationGracePeriodSeconds", terminationGracePeriodSeconds},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"runAsGroup", 65532},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"containers", {container}},
      {"volumes",
       {{{"name", "config"}, {"configMap", {{"name", configMapName}}}},
        {{"name", "tmp"}, {"emptyDir", json::object()}}}},
  };
  for (const auto& v : secretVolumes) podSpec["volumes"].push_back(v);
  if (!secretVolumes.empty()) podSpec["securityContext"]["fsGroup"] = 65532;
  return podSpec;
}

json renderConfigMap(const api::Pipeline& pipeline, const api::WorkerPool& pool,
                     const std::string& renderedConfig) {
  return json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata",
               {{"name", configMapName(pool)},
                {"namespace", pool.metadata.namespace_},
                {"labels", objectLabels(pool)},
                {"ownerReferences", json::array({ownerReference(pool)})}}},
              {"data", {{kConfigFileName, renderedConfig}}}};
}

json renderDeployment(const api::Pipeline& pipeline, const api::WorkerPool& pool,
                      const std::string& hash, int32_t replicas) {
  const api::PodOverrides& t = pool.spec.template_;
  auto secrets = workerSecretEnv(pipeline);
  auto files = workerSecretFiles(pipeline);

  json env = json::array();
  env.push_back({{"name", "SHOAL_CONSUMER_NAME"},
                 {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}});
  for (const auto& s : secrets) env.push_back(envFromSecret(s));
  for (const auto& f : files) env.push_back({{"name", f.envName}, {"value", f.path()}});
  if (t.env.is_array()) {
    for (const auto& e : t.env) {
      // Ours win: a user env var of the same name would fight the rendering.
      if (e.is_object() && e.contains("name") && e["name"].is_string() &&
          !isOurEnv(e["name"].get<std::string>(), secrets, files)) {
        env.push_back(e);
      }
    }
  }

  auto podLabels = t.labels;
  for (const auto& [k, v] : objectLabels(pool)) podLabels[k] = v;
  auto podAnnotations = t.annotations;
  podAnnotations[kConfigHashAnnotation] = hash;

  json container = {
      {"name", "worker"},
      {"image", pool.spec.image},
      {"imagePullPolicy", pool.spec.imagePullPolicy},
      {"command", {"shoal-worker"}},
      {"args",
       {"--config", std::string(kConfigMountPath) + "/" + kConfigFileName, "--listen",
        "0.0.0.0:" + std::to_string(kWorkerPort)}},
      {"ports", {{{"name", "http"}, {"containerPort", kWorkerPort}, {"protocol", "TCP"}}}},
      {"env", env},
      {"livenessProbe",
       {{"httpGet", {{"path", "/healthz"}, {"port", "http"}}},
        {"periodSeconds", 10},
        {"failureThreshold", 3}}},
      {"readinessProbe",
       {{"httpGet", {{"path", "/readyz"}, {"port", "http"}}},
        {"periodSeconds", 5},
        {"failureThreshold", 2}}},
  };
  if (t.resources.is_object()) container["resources"] = t.resources;

  json podSpec =
      hardenedPodSpec(std::move(container), configMapName(pool), pool.spec.terminationGracePeriodSeconds, files);
  if (!t.serviceAccountName.empty()) podSpec["serviceAccountName"] = t.serviceAccountName;
  if (!t.priorityClassName.empty()) podSpec["priorityClassName"] = t.priorityClassName;
  if (t.nodeSelector.is_object()) podSpec["nodeSelector"] = t.nodeSelector;
  if (t.tolerations.is_array()) podSpec["tolerations"] = t.tolerations;
  if (t.affinity.is_object()) podSpec["affinity"] = t.affinity;
  if (t.imagePullSecrets.is_array()) podSpec["imagePullSecrets"] = t.imagePullSecrets;

  return json{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata",
       {{"name", deploymentName(pool)},
        {"namespace", pool.metadata.namespace_},
        {"labels", objectLabels(pool)},
        {"ownerReferences", json::array({ownerReference(pool)})}}},
      {"spec",
       {{"replicas", replicas},
        {"selector", {{"matchLabels", selectorLabels(pool)}}},
        {"strategy",
         {{"type", "RollingUpdate"},
          {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", 0}}}}},
        {"template",
         {{"metadata", {{"labels", podLabels}, {"annotations", podAnnotations}}},
          {"spec", podSpec}}}}}};
}

bool containsIntent(const json& live, const json& intent) {
  if (intent.is_object()) {
    if (!live.is_object()) return false;
    for (auto it = intent.begin(); it != intent.end(); ++it) {
      auto l = live.find(it.key());
      if (l == live.end()) {
        if (it.value().is_null()) continue;
        return false;
      }
      if (!containsIntent(*l, it.value())) return false;
    }
    return true;
  }
  if (intent.is_array()) {
    if (!live.is_array() || live.size() != intent.size()) return false;
    for (size_t i = 0; i < intent.size(); ++i) {
      if (!containsIntent(live[i], intent[i])) return false;
    }
    return true;
  }
  if (intent.is_number() && live.is_number()) return intent.get<double>() == live.get<double>();
  return live == intent;
}

}  // namespace shoal::controllers
