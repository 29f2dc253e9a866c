// Unit tests of the node agent's Pod -> local process mapping (no cluster).
#include "launch_plan.h"

#include <gtest/gtest.h>

#include "shoal/kube/client.h"
#include "shoal/common/base64.h"

namespace shoal::e2e {
namespace {

Json workerPod() {
  return Json::parse(R"({
    "metadata": {"name": "pool-abc", "namespace": "team", "uid": "u1"},
    "spec": {
      "containers": [{
        "name": "worker", "image": "ghcr.io/x/shoal-worker:1.0",
        "command": ["shoal-worker"],
        "args": ["--config", "/etc/shoal/pipeline.yaml", "--listen", "0.0.0.0:9100"],
        "env": [
          {"name": "SHOAL_CONSUMER_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
          {"name": "SHOAL_REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "password"}}},
          {"name": "PLAIN", "value": "/etc/shoal/other"}
        ],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/shoal"}, {"name": "tmp", "mountPath": "/tmp"}]
      }],
      "volumes": [{"name": "config", "configMap": {"name": "pool-config", "defaultMode": 256}},
                  {"name": "tmp", "emptyDir": {}}]
    }})");
}

std::optional<Json> lookup(const std::string& kind, const std::string& ns,
                           const std::string& name) {
  if (ns != "team") return std::nullopt;
  if (kind == "ConfigMap" && name == "pool-config") {
    return Json{{"data", {{"pipeline.yaml", "kind: Pipeline\n"}}}};
  }
  if (kind == "Secret" && name == "redis") {
    return Json{{"data", {{"password", shoal::base64Encode("s3cret")}}}};
  }
  return std::nullopt;
}

LaunchSettings settings() {
  return {"/opt/bin/shoal-worker", "/run/pods/p1", 43210, "node-a"};
}

TEST(LaunchPlan, MapsImageRewritesListenAndMountPathsAndResolvesEnv) {
  auto r = planLaunch(workerPod(), lookup, settings());
  ASSERT_TRUE(std::holds_alternative<LaunchPlan>(r)) << std::get<LaunchFailure>(r).message;
  const auto& p = std::get<LaunchPlan>(r);
  std::vector<std::string> want = {"/opt/bin/shoal-worker", "--config",
                                   "/run/pods/p1/volumes/config/pipeline.yaml", "--listen",
                                   "127.0.0.1:43210"};
  EXPECT_EQ(p.argv, want);
  EXPECT_EQ(p.env.at("SHOAL_CONSUMER_NAME"), "pool-abc");
  EXPECT_EQ(p.env.at("SHOAL_REDIS_PASSWORD"), "s3cret");
  EXPECT_EQ(p.env.at("PLAIN"), "/run/pods/p1/volumes/config/other");
  ASSERT_EQ(p.files.size(), 1u);
  EXPECT_EQ(p.files[0].path, "/run/pods/p1/volumes/config/pipeline.yaml");
  EXPECT_EQ(p.files[0].content, "kind: Pipeline\n");
  EXPECT_EQ(p.files[0].mode, 0400);  // defaultMode 256
  EXPECT_EQ(p.readinessPath, "/readyz");
  EXPECT_EQ(p.readinessPort, 43210);
}

TEST(LaunchPlan, MissingConfigMapOrSecretIsAConfigErrorNotACrash) {
  auto pod = workerPod();
  pod["spec"]["volumes"][0]["configMap"]["name"] = "absent";
  auto r = planLaunch(pod, lookup, settings());
  ASSERT_TRUE(std::holds_alternative<LaunchFailure>(r));
  EXPECT_EQ(std::get<LaunchFailure>(r).reason, "CreateContainerConfigError");

  pod = workerPod();
  pod["spec"]["containers"][0]["env"][1]["valueFrom"]["secretKeyRef"]["key"] = "nope";
  r = planLaunch(pod, lookup, settings());
  ASSERT_TRUE(std::holds_alternative<LaunchFailure>(r));

  pod["spec"]["containers"][0]["env"][1]["valueFrom"]["secretKeyRef"]["optional"] = true;
  r = planLaunch(pod, lookup, settings());
  ASSERT_TRUE(std::holds_alternative<LaunchPlan>(r));
  EXPECT_EQ(std::get<LaunchPlan>(r).env.count("SHOAL_REDIS_PASSWORD"), 0u);
}

TEST(LaunchPlan, OtherImagesAreNotRunnableAndGarbageIsRejected) {
  auto pod = workerPod();
  pod["spec"]["containers"][0]["image"] = "nginx:1.25";
  auto r = planLaunch(pod, lookup, settings());
  ASSERT_TRUE(std::holds_alternative<LaunchFailure>(r));
  EXPECT_EQ(std::get<LaunchFailure>(r).reason, "ImageNotMapped");

  for (
      const char* bad :
      {"null", "{}", R"({"spec":{"containers":[1]}})",
       R"({"spec":{"containers":[{"image":"shoal-worker","args":[1,{}],"env":[3]}],"volumes":[{"name":"../x","configMap":{}}]}})"}) {
    (void)planLaunch(Json::parse(bad), lookup, settings());  // must not throw
  }
}

TEST(LaunchPlan, ListenIsAppendedWhenAbsentAndEqualsFormIsRewritten) {
  auto pod = workerPod();
  pod["spec"]["containers"][0]["args"] = {"--listen=0.0.0.0:1"};
  auto p = std::get<LaunchPlan>(planLaunch(pod, lookup, settings()));
  EXPECT_EQ(p.argv.back(), "--listen=127.0.0.1:43210");
  pod["spec"]["containers"][0]["args"] = Json::array();
  p = std::get<LaunchPlan>(planLaunch(pod, lookup, settings()));
  ASSERT_EQ(p.argv.size(), 3u);
  EXPECT_EQ(p.argv[2], "127.0.0.1:43210");
}

TEST(LaunchPlan, RewriteMountPathsPrefersTheLongestMountAndOnlyWholeSegments) {
  std::map<std::string, std::string> m = {{"/etc", "/L/etc"}, {"/etc/shoal", "/L/shoal"}};
  EXPECT_EQ(rewriteMountPaths("/etc/shoal/a", m), "/L/shoal/a");
  EXPECT_EQ(rewriteMountPaths("/etc/x", m), "/L/etc/x");
  EXPECT_EQ(rewriteMountPaths("/etcetera", m), "/etcetera");
  EXPECT_EQ(rewriteMountPaths("/etc/shoal", m), "/L/shoal");
}

// The chart's operator pod, as the API server stores it once the ServiceAccount
// admission plugin added the kube-api-access volume.
Json operatorPod() {
  return Json::parse(R"({
    "metadata": {"name": "shoal-7d9-x", "namespace": "shoal-system", "uid": "u-op"},
    "spec": {
      "serviceAccountName": "shoal",
      "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                          "fsGroup": 65532},
      "containers": [{
        "name": "operator", "image": "ghcr.io/shoal-dev/shoal-operator:0.1.0",
        "args": ["--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
                 "--log-level=info", "--leader-elect", "--leader-election-namespace=shoal-system",
                 "--upstream=10.0.0.7:8080"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"}],
        "ports": [{"name": "metrics", "containerPort": 8080}, {"name": "health", "containerPort": 8081}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "health"}},
        "securityContext": {"runAsUser": 1000},
        "volumeMounts": [
          {"name": "tmp", "mountPath": "/tmp"},
          {"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
           "readOnly": true}]
      }],
      "volumes": [
        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
        {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
          {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
          {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
          {"downwardAPI": {"items": [{"path": "namespace",
                                      "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]}}]
    }})");
}

std::optional<Json> clusterLookup(const std::string& kind, const std::string& ns,
                                  const std::string& name) {
  if (kind == "ConfigMap" && name == "kube-root-ca.crt" && ns == "shoal-system") {
    return Json{{"data", {{"ca.crt", "-----BEGIN CERTIFICATE-----\n"}}}};
  }
  return std::nullopt;
}

LaunchSettings operatorSettings(int* nextPort) {
  LaunchSettings s{"/opt/bin/shoal-worker", "/run/pods/op", 43210, "node-a"};
  s.operatorBinary = "/opt/bin/shoal-operator";
  s.apiServerHost = "127.0.0.1";
  s.apiServerPort = 34567;
  s.allocatePort = [nextPort] { return (*nextPort)++; };
  return s;
}

const FileToWrite* fileAt(const LaunchPlan& p, const std::string& path) {
  for (const auto& f : p.files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

TEST(LaunchPlan, OperatorImageRunsInAPrivateMountNamespaceWithTheServiceAccountVolume) {
  std::vector<TokenRequestSpec> asked;
  TokenSource tokens = [&](const TokenRequestSpec& r) {
    asked.push_back(r);
    return IssuedToken{"tok-123", ""};
  };
  int next = 50000;
  auto r = planLaunch(operatorPod(), clusterLookup, operatorSettings(&next), tokens);
  ASSERT_TRUE(std::holds_alternative<LaunchPlan>(r)) << std::get<LaunchFailure>(r).message;
  const auto& p = std::get<LaunchPlan>(r);

  // The token is requested for the pod's ServiceAccount, bound to the pod.
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].ns, "shoal-system");
  EXPECT_EQ(asked[0].serviceAccount, "shoal");
  EXPECT_EQ(asked[0].expirationSeconds, 3607);
  EXPECT_EQ(asked[0].podName, "shoal-7d9-x");
  EXPECT_EQ(asked[0].podUid, "u-op");
  EXPECT_EQ(asked[0].audience, "");

  const std::string sa = "/run/pods/op/volumes/kube-api-access-abcde";
  ASSERT_NE(fileAt(p, sa + "/token"), nullptr);
  EXPECT_EQ(fileAt(p, sa + "/token")->content, "tok-123");
  EXPECT_EQ(fileAt(p, sa + "/token")->mode, 0644);  // projected.defaultMode 420
  ASSERT_NE(fileAt(p, sa + "/ca.crt"), nullptr);
  EXPECT_EQ(fileAt(p, sa + "/ca.crt")->content, "-----BEGIN CERTIFICATE-----\n");
  ASSERT_NE(fileAt(p, sa + "/namespace"), nullptr);
  EXPECT_EQ(fileAt(p, sa + "/namespace")->content, "shoal-system");
  EXPECT_EQ(p.writableDirectories, std::vector<std::string>{"/run/pods/op/volumes/tmp"});

  // Bind mounts onto the real mountPaths, parents first; no path rewriting.
  EXPECT_TRUE(p.privateMountNamespace);
  EXPECT_EQ(p.hostname, "shoal-7d9-x");
  ASSERT_EQ(p.bindMounts.size(), 2u);
  EXPECT_EQ(p.bindMounts[0].target, "/tmp");
  EXPECT_EQ(p.bindMounts[0].source, "/run/pods/op/volumes/tmp");
  EXPECT_FALSE(p.bindMounts[0].readOnly);
  EXPECT_EQ(p.bindMounts[1].target, "/var/run/secrets/kubernetes.io/serviceaccount");
  EXPECT_EQ(p.bindMounts[1].source, sa);
  EXPECT_TRUE(p.bindMounts[1].readOnly);

  // Identity: the container's runAsUser wins over the pod's; fsGroup joins.
  EXPECT_EQ(p.identity.uid, 1000);
  EXPECT_EQ(p.identity.gid, 65532);
  EXPECT_EQ(p.identity.supplementalGroups, std::vector<int64_t>{65532});

  // Declared ports that are bound get free loopback ports; others stay.
  std::vector<std::string> want = {"/opt/bin/shoal-operator",
                                   "--metrics-bind-address=127.0.0.1:50000",
                                   "--health-probe-bind-address=127.0.0.1:50001",
                                   "--log-level=info",
                                   "--leader-elect",
                                   "--leader-election-namespace=shoal-system",
                                   "--upstream=10.0.0.7:8080"};
  EXPECT_EQ(p.argv, want);
  EXPECT_EQ(p.hostPorts.at(8080), 50000);
  EXPECT_EQ(p.hostPorts.at(8081), 50001);
  EXPECT_EQ(p.readinessPath, "/readyz");
  EXPECT_EQ(p.readinessPort, 50001);

  // The API server like from a pod; the pod's own env wins.
  EXPECT_EQ(p.env.at("KUBERNETES_SERVICE_HOST"), "127.0.0.1");
  EXPECT_EQ(p.env.at("KUBERNETES_SERVICE_PORT"), "6443");
  EXPECT_EQ(p.env.at("KUBERNETES_SERVICE_PORT_HTTPS"), "34567");
  EXPECT_EQ(p.env.at("POD_NAME"), "shoal-7d9-x");
}

TEST(LaunchPlan, TokenOrRootCaFailuresAreFailedMountsAndOperatorNeedsItsBinary) {
  int next = 50000;
  auto s = operatorSettings(&next);
  auto r = planLaunch(operatorPod(), clusterLookup, s);  // no token source
  ASSERT_TRUE(std::holds_alternative<LaunchFailure>(r));
  EXPECT_EQ(std::get<LaunchFailure>(r).reason, "FailedMount");

  TokenSource refusing = [](const TokenRequestSpec&) { return IssuedToken{"", "403 Forbidden"}; };
  r = planLaunch(operatorPod(), clusterLookup, s, refusing);
  ASSERT_TRUE(std::holds_alternative<LaunchFailure>(r));
  EXPECT_NE(std::get<LaunchFailure>(r).message.find("403 Forbidden"), std::string::npos);

  TokenSource ok = [](const TokenRequestSpec&) { return IssuedToken{"t", ""}; };
  auto noCa = [](const std::string&, const std::string&, const std::string&) {
    return std::optional<Json>{};
  };
  r = planLaunch(operatorPod(), noCa, s, ok);
  ASSERT_TRUE(std::holds_alternative<LaunchFailure>(r));
  EXPECT_EQ(std::get<LaunchFailure>(r).reason, "CreateContainerConfigError");

  s.operatorBinary.clear();
  r = planLaunch(operatorPod(), clusterLookup, s, ok);
  ASSERT_TRUE(std::holds_alternative<LaunchFailure>(r));
  EXPECT_EQ(std::get<LaunchFailure>(r).reason, "ImageNotMapped");
}

TEST(LaunchPlan, WorkerPodsKeepPathRewritingAndGetTheTokenFilesToo) {
  auto pod = workerPod();
  pod["spec"]["volumes"].push_back(operatorPod()["spec"]["volumes"][1]);
  pod["spec"]["containers"][0]["volumeMounts"].push_back(
      operatorPod()["spec"]["containers"][0]["volumeMounts"][1]);
  auto teamLookup = [](const std::string& kind, const std::string& ns, const std::string& name) {
    if (kind == "ConfigMap" && name == "kube-root-ca.crt")
      return clusterLookup(kind, "shoal-system", name);
    return lookup(kind, ns, name);
  };
  TokenSource ok = [](const TokenRequestSpec& r) {
    return IssuedToken{r.serviceAccount == "default" ? "default-token" : "?", ""};
  };
  auto r = planLaunch(pod, teamLookup, settings(), ok);
  ASSERT_TRUE(std::holds_alternative<LaunchPlan>(r)) << std::get<LaunchFailure>(r).message;
  const auto& p = std::get<LaunchPlan>(r);
  EXPECT_FALSE(p.privateMountNamespace);
  EXPECT_TRUE(p.bindMounts.empty());
  EXPECT_FALSE(p.identity.uid.has_value());
  EXPECT_EQ(p.argv[2], "/run/pods/p1/volumes/config/pipeline.yaml");
  ASSERT_NE(fileAt(p, "/run/pods/p1/volumes/kube-api-access-abcde/token"), nullptr);
  EXPECT_EQ(fileAt(p, "/run/pods/p1/volumes/kube-api-access-abcde/token")->content,
            "default-token");
  EXPECT_EQ(fileAt(p, "/run/pods/p1/volumes/kube-api-access-abcde/namespace")->content, "team");
  EXPECT_EQ(p.env.count("KUBERNETES_SERVICE_HOST"), 0u);  // not configured in settings()
}

TEST(LaunchPlan, BindAddressPortOnlyMatchesLocalOrWildcardHosts) {
  EXPECT_EQ(bindAddressPort(":8080"), 8080);
  EXPECT_EQ(bindAddressPort("0.0.0.0:9100"), 9100);
  EXPECT_EQ(bindAddressPort("[::]:1"), 1);
  EXPECT_EQ(bindAddressPort("localhost:65535"), 65535);
  EXPECT_EQ(bindAddressPort("redis:6379"), std::nullopt);
  EXPECT_EQ(bindAddressPort(":0"), std::nullopt);
  EXPECT_EQ(bindAddressPort(":70000"), std::nullopt);
  EXPECT_EQ(bindAddressPort(":99999999999999"), std::nullopt);
  EXPECT_EQ(bindAddressPort(":80a"), std::nullopt);
  EXPECT_EQ(bindAddressPort("8080"), std::nullopt);
  EXPECT_EQ(bindAddressPort(":"), std::nullopt);
}

TEST(LaunchPlan, GarbageInOperatorPodsIsNeverACrash) {
  int next = 50000;
  TokenSource ok = [](const TokenRequestSpec&) { return IssuedToken{"t", ""}; };
  for (
      const char* bad :
      {R"({"spec":{"containers":[{"image":"shoal-operator","ports":[1,{"containerPort":"x"},{"containerPort":99999999999}],"args":[":", ":8080", "--a=:"]}]}})",
       R"({"spec":{"volumes":[{"name":"v","projected":{"sources":[1,{"serviceAccountToken":{"path":"../t"}},{"serviceAccountToken":{"path":"t","expirationSeconds":"x"}},{"downwardAPI":{"items":[{"path":"p","fieldRef":{"fieldPath":"spec.nope"}}]}}]}}],"containers":[{"image":"shoal-operator","volumeMounts":[{"name":"v","mountPath":"relative"},{"name":"v","mountPath":"/a/../b"},{"name":"v"}]}]}})",
       R"({"spec":{"securityContext":{"runAsUser":"root","supplementalGroups":[1,"x"]},"containers":[{"image":"shoal-operator","readinessProbe":{"httpGet":{"port":{}}},"securityContext":[]}]}})"}) {
    auto r =
        planLaunch(Json::parse(bad), clusterLookup, operatorSettings(&next), ok);  // must not throw
    if (auto* p = std::get_if<LaunchPlan>(&r)) {
      for (const auto& m : p->bindMounts) EXPECT_EQ(m.target.rfind("/", 0), 0u) << m.target;
    }
  }
}

}  // namespace
}  // namespace shoal::e2e
