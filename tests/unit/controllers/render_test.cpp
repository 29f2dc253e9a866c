// Rendering of the worker config, ConfigMap and Deployment, without I/O.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "fakes.h"
#include "shoal/controllers/render.h"

namespace shoal::controllers {
namespace {

using nlohmann::json;

struct Fixture {
  api::Pipeline pipeline = api::pipelineFromJson(testfakes::samplePipeline()).value();
  api::WorkerPool pool = api::workerPoolFromJson(testfakes::samplePool()).value();
};

const json* findEnv(const json& container, const std::string& name) {
  for (const auto& e : container["env"]) {
    if (e["name"] == name) return &e;
  }
  return nullptr;
}

TEST(RenderWorkerConfig, IsThePipelineSpecAsYamlWithoutSecrets) {
  Fixture f;
  std::string yaml = renderWorkerConfig(f.pipeline);
  YAML::Node doc = YAML::Load(yaml);
  EXPECT_EQ(doc["kind"].as<std::string>(), "Pipeline");
  EXPECT_EQ(doc["spec"]["type"].as<std::string>(), "logs");
  EXPECT_EQ(doc["spec"]["source"]["redis"]["stream"].as<std::string>(), "orders");
  EXPECT_EQ(doc["spec"]["source"]["redis"]["address"].as<std::string>(), "redis:6379");
  EXPECT_EQ(doc["spec"]["delivery"]["batchSize"].as<int>(), 500);
  // Only references to secrets, never values.
  EXPECT_EQ(doc["spec"]["source"]["redis"]["passwordSecretRef"]["name"].as<std::string>(),
            "redis-auth");
}

TEST(RenderWorkerConfig, IsDeterministicAndHashChangesWithSpec) {
  Fixture f;
  std::string a = renderWorkerConfig(f.pipeline);
  EXPECT_EQ(a, renderWorkerConfig(f.pipeline));
  EXPECT_EQ(configHash(a), configHash(renderWorkerConfig(f.pipeline)));
  EXPECT_EQ(configHash(a).size(), 16u);
  f.pipeline.spec.raw["delivery"]["batchSize"] = 100;
  EXPECT_NE(configHash(a), configHash(renderWorkerConfig(f.pipeline)));
}

// spec.retention is for the operator: the workers do not get it, and
// changing it does not roll them.
TEST(RenderWorkerConfig, LeavesRetentionOutSoChangingItDoesNotRollTheWorkers) {
  Fixture f;
  const std::string without = renderWorkerConfig(f.pipeline);
  f.pipeline.spec.raw["retention"] = json{{"maxLength", 1000}, {"onFull", "dropOldest"}};
  const std::string with = renderWorkerConfig(f.pipeline);
  EXPECT_EQ(configHash(with), configHash(without));
  EXPECT_FALSE(YAML::Load(with)["spec"]["retention"].IsDefined()) << with;
  EXPECT_TRUE(f.pipeline.spec.raw.contains("retention")) << "the Pipeline itself keeps it";
}

// Transform limits (the CRD defaults them) reach the worker as written.
TEST(RenderWorkerConfig, CarriesTheTransformLimits) {
  Fixture f;
  f.pipeline.spec.raw["transform"]["logs"]["maxFields"] = 5000;
  YAML::Node doc = YAML::Load(renderWorkerConfig(f.pipeline));
  EXPECT_EQ(doc["spec"]["transform"]["logs"]["maxFields"].as<int>(), 5000);
}

TEST(RenderWorkerConfig, QuotesStringsThatLookLikeNumbers) {
  Fixture f;
  f.pipeline.spec.raw["source"]["redis"]["startId"] = "0";
  YAML::Node doc = YAML::Load(renderWorkerConfig(f.pipeline));
  EXPECT_EQ(doc["spec"]["source"]["redis"]["startId"].Tag(), "!");  // quoted scalar
}

TEST(RenderConfigMap, CarriesConfigAndOwner) {
  Fixture f;
  json cm = renderConfigMap(f.pipeline, f.pool, "cfg");
  EXPECT_EQ(cm["metadata"]["name"], "orders-workers-config");
  EXPECT_EQ(cm["metadata"]["namespace"], "prod");
  EXPECT_EQ(cm["data"]["pipeline.yaml"], "cfg");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["uid"], "w-uid");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["controller"], true);
}

TEST(RenderDeployment, OwnerReferenceLabelsAndSelector) {
  Fixture f;
  json d = renderDeployment(f.pipeline, f.pool, "abc", 3);
  const json& owner = d["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "WorkerPool");
  EXPECT_EQ(owner["apiVersion"], "shoal.dev/v1alpha1");
  EXPECT_EQ(owner["name"], "orders-workers");
  EXPECT_EQ(owner["controller"], true);
  EXPECT_EQ(owner["blockOwnerDeletion"], true);
  EXPECT_EQ(d["spec"]["replicas"], 3);
  const json& sel = d["spec"]["selector"]["matchLabels"];
  EXPECT_EQ(sel.size(), 2u);
  EXPECT_EQ(sel["app.kubernetes.io/name"], "shoal-worker");
  EXPECT_EQ(sel["app.kubernetes.io/instance"], "orders-workers");
  const json& podLabels = d["spec"]["template"]["metadata"]["labels"];
  for (auto it = sel.begin(); it != sel.end(); ++it) EXPECT_EQ(podLabels[it.key()], it.value());
  EXPECT_EQ(d["metadata"]["labels"]["app.kubernetes.io/managed-by"], "shoal-operator");
  EXPECT_EQ(d["metadata"]["labels"]["shoal.dev/pipeline"], "orders");
  EXPECT_EQ(selectorString(f.pool),
            "app.kubernetes.io/instance=orders-workers,app.kubernetes.io/name=shoal-worker");
}

TEST(RenderDeployment, ContainerCommandProbesAndSecurity) {
  Fixture f;
  json d = renderDeployment(f.pipeline, f.pool, "abc", 1);
  const json& pod = d["spec"]["template"]["spec"];
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "shoal-worker:test");
  EXPECT_EQ(c["command"], json::array({"shoal-worker"}));
  EXPECT_EQ(c["args"], json::array({"--config", "/etc/shoal/pipeline.yaml", "--listen",
                                    "0.0.0.0:9100"}));
  EXPECT_EQ(c["ports"][0]["containerPort"], 9100);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(c["resources"]["limits"]["cpu"], "1");
  EXPECT_EQ(pod["nodeSelector"]["pool"], "workers");
  EXPECT_EQ(pod["volumes"][0]["configMap"]["name"], "orders-workers-config");
  EXPECT_EQ(d["spec"]["template"]["metadata"]["annotations"]["shoal.dev/config-hash"], "abc");
}

TEST(RenderDeployment, SecretsAsEnvFromSecretKeyRefAndConsumerNameFromPod) {
  Fixture f;
  json c = renderDeployment(f.pipeline, f.pool, "abc", 1)["spec"]["template"]["spec"]
                           ["containers"][0];
  const json* consumer = findEnv(c, "SHOAL_CONSUMER_NAME");
  ASSERT_NE(consumer, nullptr);
  EXPECT_EQ((*consumer)["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
  const json* redisPw = findEnv(c, "SHOAL_REDIS_PASSWORD");
  ASSERT_NE(redisPw, nullptr);
  EXPECT_EQ((*redisPw)["valueFrom"]["secretKeyRef"]["name"], "redis-auth");
  EXPECT_EQ((*redisPw)["valueFrom"]["secretKeyRef"]["key"], "password");
  EXPECT_FALSE(redisPw->contains("value"));  // the user's literal override is dropped
  const json* sinkPw = findEnv(c, "SHOAL_SINK_PASSWORD");
  ASSERT_NE(sinkPw, nullptr);
  EXPECT_EQ((*sinkPw)["valueFrom"]["secretKeyRef"]["name"], "es");
  EXPECT_NE(findEnv(c, "EXTRA"), nullptr);
  int redisPwCount = 0;
  for (const auto& e : c["env"]) redisPwCount += e["name"] == "SHOAL_REDIS_PASSWORD";
  EXPECT_EQ(redisPwCount, 1);
}

// The CRD's shape for Elasticsearch basic auth: both halves come from Secrets,
// and the worker refuses one without the other, so both must be rendered.
TEST(RenderDeployment, SinkBasicAuthRendersUsernameAndPassword) {
  json pj = testfakes::samplePipeline();
  pj["spec"]["sink"]["elasticsearch"] = {
      {"url", "https://es:9200"},
      {"usernameSecretRef", {{"name", "es-auth"}, {"key", "username"}}},
      {"passwordSecretRef", {{"name", "es-auth"}, {"key", "password"}}}};
  api::Pipeline pipeline = api::pipelineFromJson(pj).value();
  Fixture f;
  json c = renderDeployment(pipeline, f.pool, "abc", 1)["spec"]["template"]["spec"]["containers"][0];
  const json* user = findEnv(c, "SHOAL_SINK_USERNAME");
  const json* pw = findEnv(c, "SHOAL_SINK_PASSWORD");
  ASSERT_NE(user, nullptr);
  ASSERT_NE(pw, nullptr);
  EXPECT_EQ((*user)["valueFrom"]["secretKeyRef"]["name"], "es-auth");
  EXPECT_EQ((*user)["valueFrom"]["secretKeyRef"]["key"], "username");
  EXPECT_EQ((*pw)["valueFrom"]["secretKeyRef"]["key"], "password");
}

// TLS material comes from Secrets as files: a read-only Secret volume per
// purpose, only the named keys, and the worker's *_FILE variables pointing
// into it; without TLS Secrets the pod template is unchanged.
TEST(RenderDeployment, TlsSecretsAreMountedAsFilesTheWorkerIsPointedAt) {
  json pj = testfakes::samplePipeline();
  pj["spec"]["source"]["redis"]["tls"] = {
      {"enabled", true},
      {"caSecretRef", {{"name", "redis-ca"}}},
      {"clientCertSecretRef", {{"name", "redis-client"}}}};
  pj["spec"]["sink"]["elasticsearch"]["tls"] = {
      {"caSecretRef", {{"name", "es-ca"}, {"key", "bundle.pem"}}}};
  api::Pipeline pipeline = api::pipelineFromJson(pj).value();
  Fixture f;
  json pod = renderDeployment(pipeline, f.pool, "abc", 1)["spec"]["template"]["spec"];
  const json& c = pod["containers"][0];
  auto envValue = [&](const std::string& n) {
    const json* e = findEnv(c, n);
    return e ? e->value("value", std::string("<from secret>")) : std::string("<missing>");
  };
  EXPECT_EQ(envValue("SHOAL_REDIS_TLS_CA_FILE"), "/etc/shoal/secrets/redis-tls-ca/ca.crt");
  EXPECT_EQ(envValue("SHOAL_REDIS_TLS_CERT_FILE"), "/etc/shoal/secrets/redis-tls-client/tls.crt");
  EXPECT_EQ(envValue("SHOAL_REDIS_TLS_KEY_FILE"), "/etc/shoal/secrets/redis-tls-client/tls.key");
  EXPECT_EQ(envValue("SHOAL_SINK_CA_FILE"), "/etc/shoal/secrets/sink-tls-ca/ca.crt");

  auto volume = [&](const std::string& name) -> json {
    for (const auto& v : pod["volumes"])
      if (v["name"] == name) return v;
    return nullptr;
  };
  json ca = volume("redis-tls-ca");
  ASSERT_TRUE(ca.is_object());
  EXPECT_EQ(ca["secret"]["secretName"], "redis-ca");
  EXPECT_EQ(ca["secret"]["items"], json::parse(R"([{"key":"ca.crt","path":"ca.crt"}])"));
  json client = volume("redis-tls-client");
  ASSERT_TRUE(client.is_object());
  EXPECT_EQ(client["secret"]["items"],
            json::parse(R"([{"key":"tls.crt","path":"tls.crt"},{"key":"tls.key","path":"tls.key"}])"));
  json sinkCa = volume("sink-tls-ca");
  ASSERT_TRUE(sinkCa.is_object());
  EXPECT_EQ(sinkCa["secret"]["items"], json::parse(R"([{"key":"bundle.pem","path":"ca.crt"}])"));
  int mounts = 0;
  for (const auto& m : c["volumeMounts"]) {
    if (std::string(m["mountPath"]).rfind("/etc/shoal/secrets/", 0) == 0) {
      ++mounts;
      EXPECT_EQ(m["readOnly"], true);
    }
  }
  EXPECT_EQ(mounts, 3);
  EXPECT_EQ(pod["securityContext"]["fsGroup"], 65532);

  json plain = renderDeployment(f.pipeline, f.pool, "abc", 1)["spec"]["template"]["spec"];
  EXPECT_EQ(plain["volumes"].size(), 2u);
  EXPECT_FALSE(plain["securityContext"].contains("fsGroup"));
}

TEST(ContainsIntent, IgnoresServerAddedFieldsButSeesDrift) {
  json intent = {{"spec", {{"replicas", 2}, {"template", {{"image", "a"}}}}}};
  json live = {{"spec", {{"replicas", 2}, {"template", {{"image", "a"}, {"dns", "x"}}}}},
               {"status", {{"replicas", 2}}}};
  EXPECT_TRUE(containsIntent(live, intent));
  live["spec"]["replicas"] = 5;
  EXPECT_FALSE(containsIntent(live, intent));
  live["spec"]["replicas"] = 2.0;
  EXPECT_TRUE(containsIntent(live, intent));
  live["spec"]["template"]["image"] = "b";
  EXPECT_FALSE(containsIntent(live, intent));
  EXPECT_FALSE(containsIntent(json::array({1}), json::array({1, 2})));
}

// Kubernetes' own rules (apimachinery validation), restated for the test
// without <regex> (GCC's false warnings inside it under the sanitizers).
bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool lowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool isLabelValue(const std::string& v) {
  if (v.empty()) return true;
  if (v.size() > 63 || !alnum(v.front()) || !alnum(v.back())) return false;
  for (char c : v) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}
bool isDnsLabel(const std::string& v) {
  if (v.empty() || v.size() > 63 || !lowerAlnum(v.front()) || !lowerAlnum(v.back())) return false;
  for (char c : v) {
    if (!lowerAlnum(c) && c != '-') return false;
  }
  return true;
}
bool isDnsSubdomain(const std::string& v) {
  if (v.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    size_t dot = v.find('.', start);
    if (!isDnsLabel(v.substr(start, dot == std::string::npos ? std::string::npos : dot - start))) {
      return false;
    }
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

// A valid DNS subdomain of exactly n characters, dots and dashes where a
// careless truncation would leave them at the end.
std::string longName(size_t n) {
  std::string s;
  while (s.size() < n) s += "pool.team-";
  s.resize(n);
  if (s.back() == '-' || s.back() == '.') s.back() = 'x';
  return s;
}

void expectRenderedNamesFit(const api::Pipeline& pipeline, const api::WorkerPool& pool) {
  json d = renderDeployment(pipeline, pool, "abc", 1);
  json cm = renderConfigMap(pipeline, pool, "cfg");
  // The Deployment's name prefixes its ReplicaSets' ("-" + up to 10) and
  // pods' names: 63 at most, dots allowed as in any pool name.
  EXPECT_TRUE(isDnsSubdomain(d["metadata"]["name"])) << d["metadata"]["name"];
  EXPECT_LE(d["metadata"]["name"].get<std::string>().size(), 63u);
  EXPECT_TRUE(isDnsSubdomain(cm["metadata"]["name"])) << cm["metadata"]["name"];
  EXPECT_EQ(d["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"],
            cm["metadata"]["name"]);
  for (const json* labels :
       {&d["metadata"]["labels"], &cm["metadata"]["labels"],
        &d["spec"]["template"]["metadata"]["labels"], &d["spec"]["selector"]["matchLabels"]}) {
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      EXPECT_TRUE(isLabelValue(it.value())) << it.key() << "=" << it.value();
    }
  }
  // The selector still selects the pods, and status.selector says the same.
  const json& sel = d["spec"]["selector"]["matchLabels"];
  std::string fromSelector;
  for (auto it = sel.begin(); it != sel.end(); ++it) {
    EXPECT_EQ(d["spec"]["template"]["metadata"]["labels"][it.key()], it.value());
    fromSelector +=
        (fromSelector.empty() ? "" : ",") + it.key() + "=" + it.value().get<std::string>();
  }
  EXPECT_EQ(selectorString(pool), fromSelector);
  EXPECT_EQ(d["metadata"]["ownerReferences"][0]["name"], pool.metadata.name);  // the full name
}

TEST(RenderNames, NamesThatFitRenderExactlyAsBefore) {
  Fixture f;
  f.pool.metadata.name = longName(63);
  f.pool.spec.pipelineRef = longName(63);
  json d = renderDeployment(f.pipeline, f.pool, "abc", 1);
  EXPECT_EQ(d["metadata"]["name"], f.pool.metadata.name);
  EXPECT_EQ(renderConfigMap(f.pipeline, f.pool, "cfg")["metadata"]["name"],
            f.pool.metadata.name + "-config");  // 70 characters, still a valid name
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"],
            f.pool.metadata.name);
  EXPECT_EQ(d["metadata"]["labels"]["shoal.dev/worker-pool"], f.pool.metadata.name);
  EXPECT_EQ(d["metadata"]["labels"]["shoal.dev/pipeline"], f.pool.spec.pipelineRef);
  expectRenderedNamesFit(f.pipeline, f.pool);
}

TEST(RenderNames, LongPoolAndPipelineNamesGetFittedNamesAndLabels) {
  for (size_t n : {64u, 100u, 247u, 253u}) {
    SCOPED_TRACE(n);
    Fixture f;
    f.pool.metadata.name = longName(n);
    f.pool.spec.pipelineRef = longName(n);
    expectRenderedNamesFit(f.pipeline, f.pool);
    const std::string instance = deploymentName(f.pool);
    EXPECT_EQ(instance, poolInstance(f.pool));
    EXPECT_EQ(instance.size(), 63u);
    EXPECT_EQ(instance.substr(0, 40), f.pool.metadata.name.substr(0, 40));  // still readable
    EXPECT_EQ(configMapName(f.pool), instance + "-config");
    EXPECT_EQ(objectLabels(f.pool)["shoal.dev/worker-pool"], instance);
  }
}

TEST(RenderNames, FittedNamesAreStableAndTellLongNamesApart) {
  Fixture a, b;
  a.pool.metadata.name = longName(253);
  b.pool.metadata.name = longName(252) + "y";  // same first 252 characters
  EXPECT_EQ(deploymentName(a.pool), deploymentName(a.pool));
  EXPECT_NE(deploymentName(a.pool), deploymentName(b.pool));
  EXPECT_NE(selectorString(a.pool), selectorString(b.pool));
  // Pinned: a new operator release must render the same names, or it would
  // replace every live Deployment of a long-named pool.
  a.pool.metadata.name = std::string(64, 'a');
  EXPECT_EQ(deploymentName(a.pool), std::string(54, 'a') + "-03e6e3ee");
  a.pool.metadata.name = longName(253);
  EXPECT_EQ(deploymentName(a.pool),
            "pool.team-pool.team-pool.team-pool.team-pool.team-pool-c6549d8a");
}

TEST(RenderNames, ACutThatEndsInADashOrDotDropsIt) {
  for (const char* sep : {"-", ".", "-.-"}) {
    const std::string name = std::string(53, 'a') + sep + std::string(20, 'b');
    const std::string fitted = api::fitName(name, 63);
    EXPECT_EQ(fitted.substr(0, 54), std::string(53, 'a') + "-") << fitted;
    EXPECT_EQ(fitted.size(), 62u) << fitted;
    EXPECT_TRUE(isDnsLabel(fitted)) << fitted;
  }
}

}  // namespace
}  // namespace shoal::controllers
