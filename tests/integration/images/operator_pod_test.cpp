// The operator image against a real control plane (label k8s): the operator
// pod of deploy/manifests (the chart's defaults: its ServiceAccount, RBAC and
// Deployment, applied to a real kube-apiserver) runs from the image `make
// images` built, in runc, in-cluster like a pod: the ServiceAccount token and
// CA mounted where the kubelet puts them, KUBERNETES_SERVICE_HOST/PORT, uid
// 65532, read-only root, no capabilities. It becomes ready, takes the leader
// Lease, reconciles a WorkerPool into a worker Deployment on the image name
// `make images` gave the worker, serves /metrics, and exits 0 on SIGTERM.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

#include "image_harness.h"

namespace shoal::testing::images {
namespace {

const fs::path kSource = SHOAL_SOURCE_DIR;

// Replaces the value of a `--flag=value` argument.
void setFlag(json& args, const std::string& flag, const std::string& value) {
  bool found = false;
  for (auto& a : args) {
    if (a.get<std::string>().rfind(flag + "=", 0) == 0) {
      a = flag + "=" + value;
      found = true;
    }
  }
  EXPECT_TRUE(found) << flag << " is not in " << args.dump();
}

TEST(OperatorPod, RunsFromTheImageInClusterLeadsAndReconcilesAWorkerPool) {
  SHOAL_REQUIRE_K8S();
  if (const auto why = missingForRunc(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_TRUE(images().error.empty()) << images().error;
  TempDir work;
  const Layout operatorImage = unpackArchive("shoal-operator", work.path());
  const Layout workerImage = unpackArchive("shoal-worker", work.path());
  const std::string bundle = unpackWithUmoci(operatorImage, work.file("bundle"));

  KubeControlPlane cp;
  // What `kubectl apply -k deploy/manifests` installs: CRDs, namespace,
  // ServiceAccount, RBAC, the operator Deployment (nothing runs it: no
  // controller manager, no kubelet; this test is its kubelet).
  auto r = cp.kubectl({"apply", "--server-side", "-k", (kSource / "deploy/manifests").string()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/pipelines.shoal.dev",
                  "crd/workerpools.shoal.dev"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = cp.kubectl({"get", "deployment", "shoal", "-n", "shoal-system", "-o", "json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  json pod = json::parse(r.out)["spec"]["template"]["spec"];
  json& container = pod["containers"][0];
  // The manifests name the images `make images` built.
  EXPECT_EQ(container["image"], operatorImage.name());
  std::string workerImageEnv;
  for (const auto& e : container["env"])
    if (e["name"] == "SHOAL_WORKER_IMAGE") workerImageEnv = e["value"];
  EXPECT_EQ(workerImageEnv, workerImage.name());

  // Loopback ports of the host network instead of :8080 and :8081.
  const int metricsPort = freePort();
  const int healthPort = freePort();
  setFlag(container["args"], "--metrics-bind-address", "127.0.0.1:" + std::to_string(metricsPort));
  setFlag(container["args"], "--health-probe-bind-address",
          "127.0.0.1:" + std::to_string(healthPort));
  PodInputs in;
  in.fields = {{"metadata.name", "shoal-6b7c9d-q4x2z"}, {"metadata.namespace", "shoal-system"}};
  in.serviceAccountToken =
      cp.createServiceAccountToken("shoal-system", pod.value("serviceAccountName", "default"));
  in.serviceAccountCa = readFile(cp.caFile());
  in.serviceHost = "127.0.0.1";
  in.servicePort = cp.port();
  const json spec =
      kubeletSpec(json::parse(readFile(bundle + "/config.json")), pod, in, work.file("volumes"));
  std::ofstream(bundle + "/config.json") << spec.dump(2);

  RuncContainer op(bundle);
  auto logs = [&] { return op.output() + "\n" + spec.dump(2); };
  int status = 0;
  ASSERT_TRUE(waitUntil(
      [&] {
        httpGet(healthPort, "/readyz", &status);
        return status == 200 || !op.running();
      },
      std::chrono::seconds(60)))
      << logs();
  ASSERT_TRUE(op.running()) << logs();
  EXPECT_EQ(status, 200) << logs();
  std::string holder;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto l = cp.kubectl({"get", "lease", "-n", "shoal-system", "-o",
                             "jsonpath={.items[*].spec.holderIdentity}"});
        holder = l.out;
        return !holder.empty();
      },
      std::chrono::seconds(60)))
      << logs();
  EXPECT_NE(holder.find(in.fields["metadata.name"]), std::string::npos) << holder;

  RedisServer redis;
  redis.cli("XGROUP CREATE logs:app shoal $ MKSTREAM");
  r = cp.kubectl({"apply", "-f", "-"}, R"(apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata: {name: app-logs, namespace: default}
spec:
  type: logs
  source:
    redis: {address: "127.0.0.1:)" + std::to_string(redis.port()) +
                                           R"(", stream: "logs:app", consumerGroup: shoal}
  sink:
    elasticsearch: {url: "http://127.0.0.1:9", index: app-logs}
---
apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata: {name: app-logs, namespace: default}
spec:
  pipelineRef: {name: app-logs}
  minReplicas: 1
  maxReplicas: 3
)");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string image;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto d = cp.kubectl({"get", "deployment", "app-logs", "-n", "default", "-o",
                             "jsonpath={.spec.template.spec.containers[0].image}"});
        image = d.out;
        return d.exitCode == 0 && !image.empty();
      },
      std::chrono::seconds(60)))
      << logs();
  EXPECT_EQ(image, workerImage.name());
  const std::string metrics = httpGet(metricsPort, "/metrics", &status);
  EXPECT_EQ(status, 200);
  EXPECT_NE(metrics.find("shoal_"), std::string::npos) << metrics.substr(0, 2000);

  // What Kubernetes sends when the pod is deleted.
  op.kill("TERM");
  const auto exit = op.wait(std::chrono::seconds(30));
  ASSERT_TRUE(exit.has_value()) << logs();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit << "\n" << logs();
}

}  // namespace
}  // namespace shoal::testing::images
