// Smoke test of the test control plane (label k8s): etcd + kube-apiserver
// start on free ports with generated certificates, the real kubectl talks to
// them, a ServiceAccount token is subject to RBAC, and (when built) the
// controller manager turns a Deployment into a ReplicaSet; with the
// aggregation layer on, the front-proxy trust is published for extension
// API servers.
#include <gtest/gtest.h>

#include "shoal/testing/kube_control_plane.h"

namespace shoal::testing {
namespace {

TEST(KubeControlPlane, StartsAndServesKubectl) {
  SHOAL_REQUIRE_K8S();
  KubeControlPlane cp;
  auto ns = cp.kubectl({"get", "ns", "-o", "name"});
  ASSERT_EQ(ns.exitCode, 0) << ns.err;
  EXPECT_NE(ns.out.find("namespace/default"), std::string::npos) << ns.out;
  EXPECT_NE(ns.out.find("namespace/kube-system"), std::string::npos) << ns.out;

  auto apply = cp.kubectl({"apply", "-f", "-"},
                          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: smoke}\ndata: {a: b}\n");
  ASSERT_EQ(apply.exitCode, 0) << apply.err;
  auto get = cp.kubectl({"get", "configmap", "smoke", "-o", "jsonpath={.data.a}"});
  EXPECT_EQ(get.out, "b");

  // A ServiceAccount without any binding is denied (RBAC is enforced).
  std::string sa = cp.serviceAccountKubeconfig("default", "nobody");
  auto denied = cp.kubectl({"get", "configmaps"}, "", sa);
  EXPECT_NE(denied.exitCode, 0);
  EXPECT_NE(denied.err.find("forbidden"), std::string::npos) << denied.err;
  // (A Role, not the aggregated "view" ClusterRole: aggregation needs the
  // controller manager, which this control plane does not run.)
  auto role = cp.kubectl({"create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps"});
  ASSERT_EQ(role.exitCode, 0) << role.err;
  auto bind = cp.kubectl({"create", "rolebinding", "nobody-read", "--role=cm-reader",
                          "--serviceaccount=default:nobody"});
  ASSERT_EQ(bind.exitCode, 0) << bind.err;
  EXPECT_TRUE(waitUntil([&] { return cp.kubectl({"get", "configmaps"}, "", sa).exitCode == 0; },
                        std::chrono::seconds(20), std::chrono::milliseconds(200)));
}

TEST(KubeControlPlane, RestartKeepsStateInEtcd) {
  SHOAL_REQUIRE_K8S();
  KubeControlPlane cp;
  ASSERT_EQ(cp.kubectl({"create", "configmap", "survivor", "--from-literal=k=v"}).exitCode, 0);
  cp.restartApiServer();
  auto get = cp.kubectl({"get", "configmap", "survivor", "-o", "jsonpath={.data.k}"});
  EXPECT_EQ(get.exitCode, 0) << get.err;
  EXPECT_EQ(get.out, "v");
}

TEST(KubeControlPlane, AggregationLayerPublishesTheFrontProxyTrust) {
  KubeControlPlane::Options o;
  o.aggregationLayer = true;
  SHOAL_REQUIRE_K8S(o);
  KubeControlPlane cp(o);
  // What an extension API server (KEDA's metrics server) reads to trust
  // kube-apiserver's proxied requests: the front-proxy CA and client name.
  std::string names, ca;
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = cp.kubectl({"get", "configmap", "extension-apiserver-authentication", "-n",
                             "kube-system", "-o",
                             "jsonpath={.data.requestheader-allowed-names}|"
                             "{.data.requestheader-client-ca-file}"});
        if (r.exitCode != 0) return false;
        names = r.out.substr(0, r.out.find('|'));
        ca = r.out.substr(r.out.find('|') + 1);
        return !ca.empty();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200)));
  EXPECT_EQ(names, "[\"front-proxy-client\"]");
  EXPECT_NE(ca.find("BEGIN CERTIFICATE"), std::string::npos) << ca;
  EXPECT_EQ(ca, Process::readFile(cp.dir() + "/front-proxy-ca.crt"));
}

TEST(KubeControlPlane, ControllerManagerCreatesReplicaSets) {
  KubeControlPlane::Options o;
  o.controllerManager = true;
  SHOAL_REQUIRE_K8S(o);
  KubeControlPlane cp(o);
  auto c = cp.kubectl({"create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=2"});
  ASSERT_EQ(c.exitCode, 0) << c.err;
  EXPECT_TRUE(waitUntil(
      [&] {
        auto rs = cp.kubectl({"get", "rs", "-l", "app=web", "-o", "name"});
        return rs.exitCode == 0 && rs.out.find("replicaset.apps/web-") != std::string::npos;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(250)))
      << Process::readFile(cp.dir() + "/kube-controller-manager.log").substr(0, 4000);
  // Owner garbage collection: deleting the Deployment removes its ReplicaSet.
  ASSERT_EQ(cp.kubectl({"delete", "deployment", "web", "--wait=false"}).exitCode, 0);
  EXPECT_TRUE(waitUntil(
      [&] {
        auto rs = cp.kubectl({"get", "rs", "-l", "app=web", "-o", "name"});
        return rs.exitCode == 0 && rs.out.empty();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(250)));
}

}  // namespace
}  // namespace shoal::testing
