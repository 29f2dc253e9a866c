// The Helm chart, the CRDs, the examples and the plain manifests against a
// real kube-apiserver with the real helm and kubectl: what a user does first
// (install, apply, get, explain, scale, wait) behaves as documented, and the
// API server rejects invalid resources naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "chart_cluster.h"
#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::chart_test {
namespace {

using ::testing::HasSubstr;

class ChartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = sharedChartCluster(whyNot_); }
  void SetUp() override {
    if (!cluster_) GTEST_SKIP() << whyNot_;
  }
  const ChartCluster& k() const { return *cluster_; }

  // A fresh namespace per test keeps tests independent within one cluster.
  std::string freshNamespace(const std::string& base) {
    static int n = 0;
    const std::string ns = base + "-" + std::to_string(++n);
    auto r = k().kubectl("create namespace " + ns);
    EXPECT_TRUE(r.ok()) << r.output;
    return ns;
  }
  void installCrds() {
    static bool installed = false;  // one cluster per binary: once is enough
    if (installed) return;
    auto r = k().kubectl("apply --server-side -f " + sourcePath("crds/shoal.dev_pipelines.yaml") + " -f " +
                         sourcePath("crds/shoal.dev_workerpools.yaml") + " -f " +
                         sourcePath("crds/shoal.dev_receivers.yaml"));
    ASSERT_TRUE(r.ok()) << r.output;
    auto w = k().kubectl("wait --for=condition=Established --timeout=30s crd/pipelines.shoal.dev crd/workerpools.shoal.dev "
                         "crd/receivers.shoal.dev");
    ASSERT_TRUE(w.ok()) << w.output;
    installed = true;
  }
  std::string jsonpath(const std::string& what, const std::string& ns, const std::string& path) {
    auto r = k().kubectl("get " + what + " -n " + ns + " -o jsonpath='" + path + "'");
    EXPECT_TRUE(r.ok()) << r.output;
    return r.output;
  }
  // Replaces the status of `what` with `pythonDict` (Python literal syntax,
  // so None stands for null) through the /status subresource.
  CommandResult replaceStatus(const std::string& what, const std::string& ns, const std::string& pythonDict) {
    return k().shell("kubectl get " + what + " -n " + ns +
                     " -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); o[\"status\"]=" + pythonDict +
                     "; print(json.dumps(o))' | kubectl replace --subresource=status -f -");
  }

  static ChartCluster* cluster_;
  static std::string whyNot_;
};
ChartCluster* ChartTest::cluster_ = nullptr;
std::string ChartTest::whyNot_;

// Tests that need helm (and kubectl) but no API server.
class ChartOfflineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    helm_ = shoal::testing::findK8sBinary("helm");
    if (helm_.empty()) GTEST_SKIP() << "helm not found in $KUBEBUILDER_ASSETS or <build>/k8s-bin (run scripts/k8s-binaries.sh <build-dir>)";
  }
  CommandResult helm(const std::string& args) {
    CommandResult r;
    const std::string env = "env HELM_CACHE_HOME=" + tmp_.path() + "/c HELM_CONFIG_HOME=" + tmp_.path() +
                            "/g HELM_DATA_HOME=" + tmp_.path() + "/d ";
    r.output = shoal::testing::runCommand(env + helm_ + " " + args + " 2>&1", false, &r.exitCode);
    return r;
  }
  // Any recent version satisfies the chart's kubeVersion; helm built without
  // release ldflags would otherwise assume v1.20.
  static constexpr const char* kKubeVersion = "v1.32.0";
  std::string helm_;
  shoal::testing::TempDir tmp_;
};

const char* kValidLogsPipeline = R"(apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata:
  name: orders
spec:
  type: logs
  source:
    redis:
      address: redis:6379
      stream: logs:orders
  sink:
    elasticsearch:
      url: http://es:9200
)";

const char* kValidPool = R"(apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata:
  name: orders
spec:
  pipelineRef:
    name: orders
)";

// Replaces the first occurrence of `from` (which must exist) in `text`.
std::string edit(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) ADD_FAILURE() << "test bug: '" << from << "' not in the manifest";
  else text.replace(at, from.size(), to);
  return text;
}

// ---------------------------------------------------------------- helm

TEST_F(ChartOfflineTest, HelmLintStrictIsClean) {
  for (const std::string values :
       {"", "--set rbac.scope=namespace", "--set serviceMonitor.enabled=true --set watchNamespace=team-a"}) {
    auto r = helm("lint --strict " + sourcePath("charts/shoal") + " " + values);
    EXPECT_TRUE(r.ok()) << values << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr("0 chart(s) failed")) << values;
    EXPECT_EQ(r.output.find("[WARNING]"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("[ERROR]"), std::string::npos) << r.output;
  }
}

TEST_F(ChartOfflineTest, ValuesSchemaRejectsUnknownAndMistypedValues) {
  auto unknown = helm("template x " + sourcePath("charts/shoal") + " --kube-version " + kKubeVersion +
                      " --set rbac.scop=namespace");
  EXPECT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.output, HasSubstr("scop"));
  auto badScope = helm("template x " + sourcePath("charts/shoal") + " --kube-version " + kKubeVersion +
                       " --set rbac.scope=everywhere");
  EXPECT_FALSE(badScope.ok());
  EXPECT_THAT(badScope.output, HasSubstr("rbac.scope"));
}

TEST_F(ChartTest, TemplateOutputIsAcceptedByServerSideDryRun) {
  const std::string ns = freshNamespace("dryrun");
  for (const std::string values : {"", "--set rbac.scope=namespace", "--set replicaCount=2 --set extraArgs={--x=1}"}) {
    auto r = k().shell(k().helmBinary() + " template shoal " + sourcePath("charts/shoal") + " --namespace " + ns +
                       " --include-crds --kube-version " + k().serverVersion() + " " + values +
                       " | kubectl apply --dry-run=server -f -");
    EXPECT_TRUE(r.ok()) << values << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr("deployment.apps/shoal created (server dry run)")) << r.output;
  }
}

TEST_F(ChartTest, InstallUpgradeAndUninstallKeepTheCrds) {
  const std::string ns = "shoal-install";
  const std::string chart = sourcePath("charts/shoal");
  auto install = k().helm("install shoal " + chart + " --namespace " + ns + " --create-namespace");
  ASSERT_TRUE(install.ok()) << install.output;
  EXPECT_THAT(install.output, HasSubstr("kubectl get shoal")) << "NOTES.txt should say what to do next";

  // Everything exists.
  for (const std::string& what : std::vector<std::string>{"crd/pipelines.shoal.dev", "crd/workerpools.shoal.dev", "crd/receivers.shoal.dev", "clusterrole/shoal", "clusterrolebinding/shoal",
        "-n " + ns + " serviceaccount/shoal", "-n " + ns + " deployment/shoal", "-n " + ns + " service/shoal-metrics",
        "-n " + ns + " role/shoal-leader-election", "-n " + ns + " rolebinding/shoal-leader-election"}) {
    auto r = k().kubectl("get " + what);
    EXPECT_TRUE(r.ok()) << what << ": " << r.output;
  }
  // The Deployment is hardened and wired to the operator's flags.
  const std::string pod = ".spec.template.spec";
  EXPECT_EQ(jsonpath("deployment/shoal", ns, "{" + pod + ".securityContext.runAsNonRoot}"), "true");
  EXPECT_EQ(jsonpath("deployment/shoal", ns, "{" + pod + ".containers[0].securityContext.readOnlyRootFilesystem}"),
            "true");
  EXPECT_EQ(jsonpath("deployment/shoal", ns, "{" + pod + ".containers[0].securityContext.capabilities.drop[0]}"),
            "ALL");
  EXPECT_EQ(jsonpath("deployment/shoal", ns, "{" + pod + ".containers[0].livenessProbe.httpGet.port}"), "health");
  EXPECT_EQ(jsonpath("deployment/shoal", ns, "{" + pod + ".containers[0].ports[?(@.name==\"health\")].containerPort}"),
            "8081");
  const std::string args = jsonpath("deployment/shoal", ns, "{" + pod + ".containers[0].args}");
  EXPECT_THAT(args, HasSubstr("--metrics-bind-address=:8080"));
  EXPECT_THAT(args, HasSubstr("--health-probe-bind-address=:8081"));
  EXPECT_THAT(args, HasSubstr("--leader-elect"));
  EXPECT_EQ(args.find("--namespace"), std::string::npos) << "cluster scope watches every namespace";
  EXPECT_EQ(jsonpath("deployment/shoal", ns, "{.spec.selector.matchLabels}"),
            R"({"app.kubernetes.io/instance":"shoal","app.kubernetes.io/name":"shoal"})");

  // Upgrade with changed values: more replicas, a watched namespace, namespaced RBAC.
  auto upgrade = k().helm("upgrade shoal " + chart + " --namespace " + ns +
                          " --set replicaCount=2 --set rbac.scope=namespace --set metrics.port=9090");
  ASSERT_TRUE(upgrade.ok()) << upgrade.output;
  EXPECT_EQ(jsonpath("deployment/shoal", ns, "{.spec.replicas}"), "2");
  const std::string args2 = jsonpath("deployment/shoal", ns, "{" + pod + ".containers[0].args}");
  EXPECT_THAT(args2, HasSubstr("--namespace=" + ns));
  EXPECT_THAT(args2, HasSubstr("--metrics-bind-address=:9090"));
  EXPECT_FALSE(k().kubectl("get clusterrole/shoal").ok()) << "namespace scope must not leave a ClusterRole";
  EXPECT_TRUE(k().kubectl("get -n " + ns + " role/shoal").ok());
  EXPECT_TRUE(k().kubectl("get -n " + ns + " rolebinding/shoal").ok());

  // A custom resource survives uninstall together with its CRD.
  auto cr = k().apply(kValidLogsPipeline, "-n " + ns);
  ASSERT_TRUE(cr.ok()) << cr.output;
  auto uninstall = k().helm("uninstall shoal --namespace " + ns);
  ASSERT_TRUE(uninstall.ok()) << uninstall.output;
  EXPECT_FALSE(k().kubectl("get -n " + ns + " deployment/shoal").ok());
  EXPECT_FALSE(k().kubectl("get -n " + ns + " serviceaccount/shoal").ok());
  EXPECT_TRUE(k().kubectl("get crd/pipelines.shoal.dev crd/workerpools.shoal.dev").ok())
      << "helm uninstall must leave the CRDs";
  EXPECT_TRUE(k().kubectl("get -n " + ns + " pipeline/orders").ok());
}

// ---------------------------------------------------------------- RBAC

struct Rule {
  std::set<std::string> groups, resources, verbs;
};

std::vector<Rule> rulesOf(const YAML::Node& role) {
  std::vector<Rule> out;
  for (const auto& r : role["rules"]) {
    Rule x;
    for (const auto& g : r["apiGroups"]) x.groups.insert(g.as<std::string>());
    for (const auto& g : r["resources"]) x.resources.insert(g.as<std::string>());
    for (const auto& g : r["verbs"]) x.verbs.insert(g.as<std::string>());
    out.push_back(x);
  }
  return out;
}

// Every (group, resource, verb) triple a set of rules grants.
std::set<std::string> grants(const std::vector<Rule>& rules) {
  std::set<std::string> out;
  for (const auto& r : rules)
    for (const auto& g : r.groups)
      for (const auto& res : r.resources)
        for (const auto& v : r.verbs) out.insert((g.empty() ? "core" : g) + "/" + res + ":" + v);
  return out;
}

std::set<std::string> expectedOperatorGrants() {
  std::set<std::string> out;
  auto add = [&](const std::string& gr, std::initializer_list<const char*> verbs) {
    for (const char* v : verbs) out.insert(gr + ":" + v);
  };
  for (const char* r : {"pipelines", "workerpools", "receivers"}) {
    add(std::string("shoal.dev/") + r, {"get", "list", "watch", "update", "patch"});
    add(std::string("shoal.dev/") + r + "/status", {"get", "update", "patch"});
    add(std::string("shoal.dev/") + r + "/finalizers", {"update"});
  }
  add("apps/deployments", {"get", "list", "watch", "create", "update", "patch", "delete"});
  add("core/configmaps", {"get", "list", "watch", "create", "update", "patch", "delete"});
  add("core/services", {"get", "list", "watch", "create", "update", "patch", "delete"});
  add("core/events", {"create", "patch"});
  add("events.k8s.io/events", {"create", "patch"});
  add("core/secrets", {"get"});
  return out;
}

std::set<std::string> expectedLeaseGrants() {
  return {"coordination.k8s.io/leases:get", "coordination.k8s.io/leases:create",
          "coordination.k8s.io/leases:update", "core/events:create",
          "core/events:patch", "events.k8s.io/events:create",
          "events.k8s.io/events:patch"};
}

// The chart's roles grant exactly the documented list: nothing more (checked
// triple by triple, so a wildcard or an extra verb fails), nothing less.
TEST_F(ChartOfflineTest, RbacGrantsExactlyTheDocumentedRules) {
  for (const std::string scope : {"cluster", "namespace"}) {
    auto r = helm("template shoal " + sourcePath("charts/shoal") + " -n shoal-system --kube-version " +
                  std::string(kKubeVersion) + " --set rbac.scope=" + scope);
    ASSERT_TRUE(r.ok()) << r.output;
    std::map<std::string, std::set<std::string>> byRole;
    for (const auto& doc : YAML::LoadAll(r.output)) {
      if (!doc || !doc["kind"]) continue;
      const std::string kind = doc["kind"].as<std::string>();
      if (kind == "ClusterRole" || kind == "Role")
        byRole[kind + "/" + doc["metadata"]["name"].as<std::string>()] = grants(rulesOf(doc));
    }
    const std::string main = (scope == "cluster" ? "ClusterRole/" : "Role/") + std::string("shoal");
    ASSERT_EQ(byRole.size(), 2u) << scope;
    EXPECT_EQ(byRole[main], expectedOperatorGrants()) << scope;
    EXPECT_EQ(byRole["Role/shoal-leader-election"], expectedLeaseGrants()) << scope;
    for (const auto& [name, g] : byRole)
      for (const auto& t : g) EXPECT_EQ(t.find('*'), std::string::npos) << name << " grants a wildcard: " << t;
  }
  // The plain manifests grant the same (kustomize renders offline).
  int rc = -1;
  const std::string kz = shoal::testing::runCommand(
      "env -u KUBECONFIG kubectl kustomize " + sourcePath("deploy/manifests") + " 2>&1", false, &rc);
  ASSERT_EQ(rc, 0) << kz;
  std::map<std::string, std::set<std::string>> byRole;
  for (const auto& doc : YAML::LoadAll(kz)) {
    const std::string kind = doc["kind"].as<std::string>();
    if (kind == "ClusterRole" || kind == "Role")
      byRole[kind + "/" + doc["metadata"]["name"].as<std::string>()] = grants(rulesOf(doc));
  }
  EXPECT_EQ(byRole["ClusterRole/shoal"], expectedOperatorGrants());
  EXPECT_EQ(byRole["Role/shoal-leader-election"], expectedLeaseGrants());
}

// The API server's RBAC authorizer, asked as the chart's ServiceAccount.
TEST_F(ChartTest, ServiceAccountMayDoWhatTheOperatorNeedsAndNothingElse) {
  const std::string ns = "shoal-rbac";
  auto install = k().helm("install shoal-rbac " + sourcePath("charts/shoal") + " --namespace " + ns +
                          " --create-namespace --set fullnameOverride=shoal-rbac");
  ASSERT_TRUE(install.ok()) << install.output;
  const std::string as = " --as=system:serviceaccount:" + ns + ":shoal-rbac";
  auto can = [&](const std::string& what) {
    auto r = k().kubectl("auth can-i " + what + as);
    return r.output.rfind("yes", 0) == 0;
  };
  for (const std::string& yes : std::vector<std::string>{"watch workerpools.shoal.dev -A", "patch workerpools.shoal.dev/status -n team-a",
        "update pipelines.shoal.dev/finalizers -n team-a", "create deployments.apps -n team-a",
        "delete configmaps -n team-a", "create events -n team-a", "watch receivers.shoal.dev -A",
        "patch receivers.shoal.dev/status -n team-a", "create services -n team-a", "get secrets/redis-password -n team-a",
        "update leases.coordination.k8s.io -n " + ns})
    EXPECT_TRUE(can(yes)) << "the operator needs: " << yes;
  for (const std::string& no : std::vector<std::string>{"list secrets -n team-a", "watch secrets -n team-a", "create secrets -n team-a",
        "delete workerpools.shoal.dev -n team-a", "create pipelines.shoal.dev -n team-a", "get pods -n team-a",
        "create pods -n team-a", "update leases.coordination.k8s.io -n team-a",
        "create customresourcedefinitions.apiextensions.k8s.io", "create clusterroles.rbac.authorization.k8s.io",
        "update workerpools.shoal.dev --subresource=scale -n team-a",
        "patch pipelines.shoal.dev --subresource=scale -n team-a", "delete receivers.shoal.dev -n team-a",
        "update receivers.shoal.dev --subresource=scale -n team-a"})
    EXPECT_FALSE(can(no)) << "least privilege forbids: " << no;
  auto un = k().helm("uninstall shoal-rbac --namespace " + ns);
  EXPECT_TRUE(un.ok()) << un.output;
}

// The operator binary this tree builds, or $SHOAL_OPERATOR_BINARY.
std::string operatorBinary() {
  if (const char* e = std::getenv("SHOAL_OPERATOR_BINARY"); e && *e) return e;
  return SHOAL_OPERATOR_BINARY;
}

// Proof that the chart's RBAC is sufficient: shoal-operator, authenticated
// with a token of the chart's ServiceAccount (RBAC enforced by the API
// server), elects itself, reconciles the examples (renders the worker
// Deployments, writes status) and is never forbidden anything.
TEST_F(ChartTest, OperatorAsTheChartServiceAccountReconcilesTheExamples) {
  const std::string bin = operatorBinary();
  if (bin.empty() || !std::filesystem::exists(bin))
    GTEST_SKIP() << "shoal-operator is not built (" << bin << "); build the target or set SHOAL_OPERATOR_BINARY";
  const std::string ns = "shoal-op";
  auto install = k().helm("install shoal-op " + sourcePath("charts/shoal") + " --namespace " + ns +
                          " --create-namespace --set fullnameOverride=shoal-op");
  ASSERT_TRUE(install.ok()) << install.output;
  const std::string apps = freshNamespace("op-examples");
  for (const char* f : {"deploy/examples/logs-elasticsearch.yaml", "deploy/examples/metrics-remote-write.yaml"}) {
    auto r = k().kubectl("apply -n " + apps + " -f " + sourcePath(f));
    ASSERT_TRUE(r.ok()) << r.output;
  }
  const std::string saConfig = k().serviceAccountKubeconfig(ns, "shoal-op");
  // The token really is restricted: listing Secrets is forbidden.
  auto probe = k().shell("kubectl --kubeconfig " + saConfig + " get secrets -n " + apps);
  ASSERT_FALSE(probe.ok());
  ASSERT_THAT(probe.output, HasSubstr("forbidden"));

  shoal::testing::TempDir logs;
  shoal::testing::Process op({.argv = {bin, "--kubeconfig=" + saConfig,
                                       "--metrics-bind-address=127.0.0.1:" + std::to_string(shoal::testing::freePort()),
                                       "--health-probe-bind-address=127.0.0.1:" +
                                           std::to_string(shoal::testing::freePort()),
                                       "--leader-elect", "--leader-election-namespace=" + ns, "--log-level=debug"},
                              .stdoutPath = logs.file("operator.out"),
                              .stderrPath = logs.file("operator.err")});
  auto ownedDeployments = [&] {
    auto r = k().kubectl("get deployments -n " + apps +
                         " -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].name} {end}'");
    return r.output;
  };
  const bool reconciled = shoal::testing::waitUntil(
      [&] {
        const std::string owners = ownedDeployments();
        if (owners.find("app-logs") == std::string::npos || owners.find("edge-metrics") == std::string::npos)
          return false;
        auto wp = k().kubectl("get wp/app-logs -n " + apps + " -o jsonpath='{.status.conditions[*].type}'");
        auto pl = k().kubectl("get pipeline/app-logs -n " + apps + " -o jsonpath='{.status.conditions[*].type}'");
        // The Receiver: its Service (services), its status (receivers/status).
        auto svc = k().kubectl("get service/app-logs-front-receiver -n " + apps +
                               " -o jsonpath='{.metadata.ownerReferences[0].kind}'");
        auto rc = k().kubectl("get receiver/app-logs-front -n " + apps + " -o jsonpath='{.status.conditions[*].type}'");
        return wp.output.find("Ready") != std::string::npos && pl.output.find("Ready") != std::string::npos &&
               owners.find("app-logs-front") != std::string::npos && svc.output.find("Receiver") != std::string::npos &&
               rc.output.find("RedisReachable") != std::string::npos;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(250));
  const std::string out = shoal::testing::Process::readFile(logs.file("operator.out")) +
                          shoal::testing::Process::readFile(logs.file("operator.err"));
  EXPECT_TRUE(reconciled) << "deployments owned by: " << ownedDeployments() << "\noperator log:\n"
                          << out.substr(out.size() > 6000 ? out.size() - 6000 : 0);
  EXPECT_TRUE(k().kubectl("get lease -n " + ns).output.find("shoal") != std::string::npos)
      << "leader election should hold a Lease in the release namespace";
  op.stop();
  const std::string all = shoal::testing::Process::readFile(logs.file("operator.out")) +
                          shoal::testing::Process::readFile(logs.file("operator.err"));
  EXPECT_EQ(all.find("forbidden"), std::string::npos) << "the chart's RBAC denied the operator something:\n"
                                                      << all.substr(0, 6000);
  k().helm("uninstall shoal-op --namespace " + ns);
}

// ---------------------------------------------------------------- manifests

TEST_F(ChartTest, KustomizeBaseRendersOfflineAndIsAcceptedByTheServer) {
  // Offline: no KUBECONFIG, no server.
  int rc = -1;
  const std::string out = shoal::testing::runCommand(
      "env -u KUBECONFIG kubectl kustomize " + sourcePath("deploy/manifests") + " 2>&1", false, &rc);
  ASSERT_EQ(rc, 0) << out;
  for (const char* kind : {"kind: Namespace", "kind: CustomResourceDefinition", "kind: ClusterRole",
                           "kind: ServiceAccount", "kind: Deployment", "kind: Service"})
    EXPECT_THAT(out, HasSubstr(kind));
  // A server-side dry run cannot create the namespace its objects go into.
  k().kubectl("create namespace shoal-system");
  auto r = k().kubectl("apply -k " + sourcePath("deploy/manifests") + " --dry-run=server");
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST_F(ChartTest, ExamplesApplyCleanlyAndGetTheirDefaults) {
  installCrds();
  const std::string ns = freshNamespace("examples");
  for (const char* f : {"deploy/examples/logs-elasticsearch.yaml", "deploy/examples/metrics-remote-write.yaml"}) {
    auto r = k().kubectl("apply -n " + ns + " -f " + sourcePath(f));
    EXPECT_TRUE(r.ok()) << f << "\n" << r.output;
    EXPECT_EQ(r.output.find("Warning"), std::string::npos) << f << ": " << r.output;
  }
  // Defaults were applied by the API server.
  EXPECT_EQ(jsonpath("pipeline/app-logs", ns, "{.spec.source.redis.startId}"), "$");
  EXPECT_EQ(jsonpath("pipeline/app-logs", ns, "{.spec.delivery.retryMaxMs}"), "5000");
  EXPECT_EQ(jsonpath("pipeline/app-logs", ns, "{.spec.consumerGroupDeletionPolicy}"), "Retain");
  EXPECT_EQ(jsonpath("pipeline/edge-metrics", ns, "{.spec.sink.prometheusRemoteWrite.timeoutMs}"), "10000");
  EXPECT_EQ(jsonpath("workerpool/app-logs", ns, "{.spec.scaling.scaleDown.stabilizationSeconds}"), "30");
  EXPECT_EQ(jsonpath("workerpool/app-logs", ns, "{.spec.scaling.pollIntervalSeconds}"), "2");
  EXPECT_EQ(jsonpath("workerpool/edge-metrics", ns, "{.spec.scaling.policy}"), "targetBacklogPerReplica");
  EXPECT_EQ(jsonpath("workerpool/edge-metrics", ns, "{.spec.imagePullPolicy}"), "IfNotPresent");
  EXPECT_EQ(jsonpath("receiver/app-logs-front", ns, "{.spec.http.routes.logs.shards}"), "1");
}

// ---------------------------------------------------------------- validation

struct Rejection {
  const char* name;
  std::string manifest;
  std::vector<std::string> mustMention;  // the field path and the reason
};

TEST_F(ChartTest, InvalidResourcesAreRejectedNamingTheField) {
  installCrds();
  const std::string ns = freshNamespace("invalid");
  const std::string pipe = kValidLogsPipeline, pool = kValidPool;
  const std::vector<Rejection> cases = {
      {"minReplicas above maxReplicas", pool + "  minReplicas: 5\n  maxReplicas: 2\n",
       {"spec.minReplicas", "minReplicas must be less than or equal to maxReplicas"}},
      {"two sinks", edit(pipe, "  sink:\n", "  sink:\n    pushgateway:\n      url: http://pgw:9091\n"),
       {"spec.sink", "exactly one of"}},
      {"no sink", edit(pipe, "  sink:\n    elasticsearch:\n      url: http://es:9200\n", "  sink: {}\n"),
       {"spec.sink", "exactly one of"}},
      {"elasticsearch on a metrics pipeline", edit(pipe, "type: logs", "type: metrics"),
       {"spec.sink.elasticsearch", "only for pipelines of type logs"}},
      {"remote write on a logs pipeline",
       edit(pipe, "    elasticsearch:\n      url: http://es:9200\n",
            "    prometheusRemoteWrite:\n      url: http://p:9090/api/v1/write\n"),
       {"spec.sink", "only for pipelines of type metrics"}},
      {"negative linger", pipe + "  delivery:\n    lingerMs: -1\n", {"spec.delivery.lingerMs", "greater than or equal to 0"}},
      {"zero batch size", pipe + "  delivery:\n    batchSize: 0\n", {"spec.delivery.batchSize", "greater than or equal to 1"}},
      {"negative poll interval", pool + "  scaling:\n    pollIntervalSeconds: -2\n",
       {"spec.scaling.pollIntervalSeconds", "pollIntervalSeconds must be at least 0.1"}},
      {"zero throughput prior", pool + "  scaling:\n    perReplicaThroughput: 0\n",
       {"spec.scaling.perReplicaThroughput", "greater than 0"}},
      {"negative stabilization window", pool + "  scaling:\n    scaleDown:\n      stabilizationSeconds: -1\n",
       {"spec.scaling.scaleDown.stabilizationSeconds", "greater than or equal to 0"}},
      {"credentials in the Redis URL", edit(pipe, "address: redis:6379", "url: redis://u:secret@redis:6379"),
       {"spec.source.redis.url"}},
      {"both url and address", edit(pipe, "address: redis:6379", "address: redis:6379\n      url: redis://redis:6379"),
       {"spec.source.redis", "exactly one of url or address"}},
      {"fallback above max", pool + "  maxReplicas: 3\n  scaling:\n    fallbackReplicas: 4\n",
       {"spec.scaling.fallbackReplicas", "less than or equal to maxReplicas"}},
      {"retry bounds inverted", pipe + "  delivery:\n    retryInitialMs: 9000\n    retryMaxMs: 100\n",
       {"spec.delivery.retryInitialMs", "retryInitialMs must be less than or equal to retryMaxMs"}},
      {"unknown policy", pool + "  scaling:\n    policy: doubling\n", {"spec.scaling.policy", "Unsupported value"}},
      {"unknown onFull", pipe + "  retention:\n    onFull: block\n", {"spec.retention.onFull", "Unsupported value"}},
      {"retention keeps more than its cap",
       pipe + "  retention:\n    maxLength: 10\n    keepAcknowledged:\n      count: 11\n",
       {"spec.retention.keepAcknowledged.count", "keepAcknowledged.count must not exceed maxLength"}},
      {"retention age without a unit", pipe + "  retention:\n    keepAcknowledged:\n      age: \"90\"\n",
       {"spec.retention.keepAcknowledged.age"}},
      {"zero retention maxLength", pipe + "  retention:\n    maxLength: 0\n",
       {"spec.retention.maxLength", "greater than or equal to 1"}},
  };
  for (const auto& c : cases) {
    auto r = k().apply(c.manifest, "-n " + ns);
    EXPECT_FALSE(r.ok()) << c.name << ": accepted\n" << c.manifest;
    for (const auto& m : c.mustMention) EXPECT_THAT(r.output, HasSubstr(m)) << c.name;
  }
}

TEST_F(ChartTest, ImmutableFieldsCannotChange) {
  installCrds();
  const std::string ns = freshNamespace("immutable");
  const std::string pipe = kValidLogsPipeline;
  ASSERT_TRUE(k().apply(pipe, "-n " + ns).ok());
  ASSERT_TRUE(k().apply(kValidPool, "-n " + ns).ok());
  struct Change {
    std::string manifest, field;
  };
  const std::vector<Change> changes = {
      {edit(pipe, "stream: logs:orders", "stream: logs:orders\n      consumerGroup: other"),
       "spec.source.redis.consumerGroup"},
      {edit(pipe, "stream: logs:orders", "stream: logs:other"), "spec.source.redis.stream"},
      {edit(edit(pipe, "type: logs", "type: metrics"), "    elasticsearch:\n      url: http://es:9200\n",
            "    pushgateway:\n      url: http://pgw:9091\n"),
       "spec.type"},
      {edit(kValidPool, "  pipelineRef:\n    name: orders", "  pipelineRef:\n    name: payments"),
       "spec.pipelineRef"},
  };
  for (const auto& c : changes) {
    auto r = k().apply(c.manifest, "-n " + ns);
    EXPECT_FALSE(r.ok()) << c.field << " changed";
    EXPECT_THAT(r.output, HasSubstr(c.field)) << r.output;
    EXPECT_THAT(r.output, HasSubstr("immutable")) << r.output;
  }
  // Mutable fields still change.
  auto ok = k().apply(edit(pipe, "url: http://es:9200", "url: http://es2:9200"), "-n " + ns);
  EXPECT_TRUE(ok.ok()) << ok.output;
}

// ---------------------------------------------------------------- kubectl UX

// kubectl explain wraps descriptions; compare with whitespace collapsed.
std::string collapseSpaces(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

TEST_F(ChartTest, ExplainDescribesTheScalingFields) {
  installCrds();
  auto r = k().kubectl("explain workerpool.spec.scaling");
  r.output = collapseSpaces(r.output);
  ASSERT_TRUE(r.ok()) << r.output;
  for (const char* s : {"GROUP: shoal.dev", "scaling is how the operator sizes the pool", "drainSeconds",
                        "<number>", "paused", "<boolean>", "scaleDown", "fallbackReplicas", "policy"})
    EXPECT_THAT(r.output, HasSubstr(s));
  auto sink = k().kubectl("explain pipeline.spec.sink.elasticsearch.passwordSecretRef");
  ASSERT_TRUE(sink.ok()) << sink.output;
  sink.output = collapseSpaces(sink.output);
  EXPECT_THAT(sink.output, HasSubstr("names the Secret key holding the password"));
  auto shortName = k().kubectl("explain wp.spec.replicas");
  ASSERT_TRUE(shortName.ok()) << shortName.output;
  EXPECT_THAT(collapseSpaces(shortName.output), HasSubstr("exposed through the scale subresource"));
}

TEST_F(ChartTest, GetShowsColumnsWideAndByCategory) {
  installCrds();
  const std::string ns = freshNamespace("columns");
  ASSERT_TRUE(k().apply(kValidLogsPipeline, "-n " + ns).ok());
  ASSERT_TRUE(k().apply(kValidPool, "-n " + ns).ok());
  // What the operator would report.
  auto st = k().kubectl(
      "patch wp/orders -n " + ns +
      " --subresource=status --type=merge -p '{\"status\":{\"replicas\":3,\"readyReplicas\":3,\"desiredReplicas\":4,"
      "\"backlog\":{\"lag\":1200,\"pending\":34,\"total\":1234},\"arrivalRate\":250.5,\"consumptionRate\":410,"
      "\"estimatedDrainSeconds\":12.5,\"selector\":\"app.kubernetes.io/instance=orders\",\"conditions\":[{\"type\":"
      "\"Ready\",\"status\":\"True\",\"reason\":\"DeploymentAvailable\",\"message\":\"3 of 3 ready\","
      "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}'");
  ASSERT_TRUE(st.ok()) << st.output;
  auto wide = k().kubectl("get wp -n " + ns + " -o wide");
  ASSERT_TRUE(wide.ok()) << wide.output;
  for (const char* h : {"NAME", "PIPELINE", "READY", "REPLICAS", "DESIRED", "BACKLOG", "ARRIVAL/S", "CONSUMPTION/S",
                        "DRAIN-SECONDS", "AGE"})
    EXPECT_THAT(wide.output, HasSubstr(h));
  std::istringstream rows(wide.output);
  std::string header, row;
  std::getline(rows, header);
  std::getline(rows, row);
  std::istringstream cells(row);
  std::vector<std::string> c{std::istream_iterator<std::string>(cells), std::istream_iterator<std::string>()};
  ASSERT_GE(c.size(), 9u) << wide.output;
  EXPECT_EQ(c[0], "orders");
  EXPECT_EQ(c[1], "orders");
  EXPECT_EQ(c[2], "True");
  EXPECT_EQ(c[3], "3");
  EXPECT_EQ(c[4], "4");
  EXPECT_EQ(c[5], "1234");
  EXPECT_EQ(c[6], "250.5");
  auto narrow = k().kubectl("get wp -n " + ns);
  EXPECT_EQ(narrow.output.find("ARRIVAL/S"), std::string::npos) << "rates belong to -o wide";

  auto pipes = k().kubectl("get spl -n " + ns);
  ASSERT_TRUE(pipes.ok()) << pipes.output;
  for (const char* h : {"TYPE", "STREAM", "SINK", "READY", "AGE", "logs:orders"}) EXPECT_THAT(pipes.output, HasSubstr(h));

  auto all = k().kubectl("get shoal -n " + ns);
  ASSERT_TRUE(all.ok()) << all.output;
  EXPECT_THAT(all.output, HasSubstr("pipeline.shoal.dev/orders"));
  EXPECT_THAT(all.output, HasSubstr("workerpool.shoal.dev/orders"));
}

TEST_F(ChartTest, WaitForReadyConditionAndScaleWhenPaused) {
  installCrds();
  const std::string ns = freshNamespace("scale");
  ASSERT_TRUE(k().apply(std::string(kValidPool) + "  scaling:\n    paused: true\n", "-n " + ns).ok());
  auto scale = k().kubectl("scale wp/orders -n " + ns + " --replicas=3");
  ASSERT_TRUE(scale.ok()) << scale.output;
  EXPECT_EQ(jsonpath("wp/orders", ns, "{.spec.replicas}"), "3");
  auto sub = k().kubectl("get wp/orders -n " + ns + " --subresource=scale -o jsonpath='{.spec.replicas}'");
  ASSERT_TRUE(sub.ok()) << sub.output;
  EXPECT_EQ(sub.output, "3");
  EXPECT_FALSE(k().kubectl("scale wp/orders -n " + ns + " --replicas=-1").ok());

  // kubectl wait reads the conditions list the operator writes.
  auto notYet = k().kubectl("wait --for=condition=Ready wp/orders -n " + ns + " --timeout=1s");
  EXPECT_FALSE(notYet.ok());
  // kubectl wait ignores a condition whose observedGeneration is older than
  // the object's generation (kubectl scale bumped it): the operator must
  // write the current one.
  auto setReady = [&](const std::string& generation) {
    return k().kubectl("patch wp/orders -n " + ns +
                       " --subresource=status --type=merge -p '{\"status\":{\"conditions\":[{\"type\":\"Ready\","
                       "\"status\":\"True\",\"reason\":\"DeploymentAvailable\",\"message\":\"ready\","
                       "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"observedGeneration\":" +
                       generation + "}]}}'");
  };
  const std::string generation = jsonpath("wp/orders", ns, "{.metadata.generation}");
  ASSERT_EQ(generation, "2") << "created, then scaled";
  ASSERT_TRUE(setReady("1").ok());
  EXPECT_FALSE(k().kubectl("wait --for=condition=Ready wp/orders -n " + ns + " --timeout=1s").ok())
      << "a stale Ready condition must not satisfy kubectl wait";
  auto st = setReady(generation);
  ASSERT_TRUE(st.ok()) << st.output;
  auto ready = k().kubectl("wait --for=condition=Ready wp/orders -n " + ns + " --timeout=10s");
  EXPECT_TRUE(ready.ok()) << ready.output;
  // A condition without a reason is refused: the conventions are enforced.
  auto bad = k().kubectl("patch wp/orders -n " + ns +
                         " --subresource=status --type=merge -p '{\"status\":{\"conditions\":[{\"type\":\"Ready\","
                         "\"status\":\"Maybe\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}'");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.output, HasSubstr("status.conditions[0]"));
}

// spec.retention is opt-in: absent it stays absent; present, its fields get
// the API's defaults; status.retention takes what the operator writes.
TEST_F(ChartTest, RetentionIsOptInDefaultedAndItsStatusIsAccepted) {
  installCrds();
  const std::string ns = freshNamespace("retention");
  ASSERT_TRUE(k().apply(kValidLogsPipeline, "-n " + ns).ok());
  EXPECT_EQ(jsonpath("pipeline/orders", ns, "{.spec.retention}"), "");
  auto r = k().apply(std::string(kValidLogsPipeline) + "  retention:\n    keepAcknowledged:\n      age: 1h30m\n",
                     "-n " + ns);
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(jsonpath("pipeline/orders", ns, "{.spec.retention.onFull}"), "throttle");
  EXPECT_EQ(jsonpath("pipeline/orders", ns, "{.spec.retention.intervalSeconds}"), "10");
  r = replaceStatus("pipeline/orders", ns,
                    "{\"retention\":{\"safeId\":None,\"length\":None,\"trimmedTotal\":12,"
                    "\"droppedUnconsumedTotal\":0,\"lastTrimTime\":\"2026-12-04T10:00:00Z\",\"atCap\":True}}");
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(jsonpath("pipeline/orders", ns, "{.status.retention.trimmedTotal}"), "12");
}

// The operator writes unknown figures as null; the schema must take them.
TEST_F(ChartTest, StatusAcceptsUnknownFiguresAsNull) {
  installCrds();
  const std::string ns = freshNamespace("nulls");
  ASSERT_TRUE(k().apply(kValidPool, "-n " + ns).ok());
  auto r = replaceStatus("wp/orders", ns,
                         "{\"replicas\":0,\"backlog\":{\"lag\":None,\"pending\":5,\"total\":None},"
                         "\"arrivalRate\":None,\"consumptionRate\":None,\"estimatedDrainSeconds\":None,"
                         "\"lastScaleTime\":None,\"selector\":\"\"}");
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(jsonpath("wp/orders", ns, "{.status.backlog.pending}"), "5");
}

}  // namespace
}  // namespace shoal::chart_test
