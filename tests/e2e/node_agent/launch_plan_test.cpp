// Unit tests of the node agent's Pod -> local process mapping (no cluster).
#include "launch_plan.h"

#include <gtest/gtest.h>

#include "shoal/kube/client.h"

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
      "volumes": [{"name": "config", "configMap": {"name": "pool-config"}},
                  {"name": "tmp", "emptyDir": {}}]
    }})");
}

std::optional<Json> lookup(const std::string& kind, const std::string& ns, const std::string& name) {
  if (ns != "team") return std::nullopt;
  if (kind == "ConfigMap" && name == "pool-config") {
    return Json{{"data", {{"pipeline.yaml", "kind: Pipeline\n"}}}};
  }
  if (kind == "Secret" && name == "redis") {
    return Json{{"data", {{"password", kube::base64Encode("s3cret")}}}};
  }
  return std::nullopt;
}

LaunchSettings settings() { return {"/opt/bin/shoal-worker", "/run/pods/p1", 43210, "node-a"}; }

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

  for (const char* bad : {"null", "{}", R"({"spec":{"containers":[1]}})",
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

}  // namespace
}  // namespace shoal::e2e
