// ChartCluster: a KubeControlPlane plus helm and kubectl invocations that
// capture stdout and stderr together (the API server's validation messages go
// to stderr, and the tests assert on them).
#include "chart_cluster.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>

#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::chart_test {

struct ChartCluster::Impl {
  std::unique_ptr<shoal::testing::KubeControlPlane> controlPlane;
  shoal::testing::TempDir scratch;
  std::string env;  // prefix for every command
};

namespace {

class SharedCluster : public ::testing::Environment {
 public:
  void TearDown() override { cluster.reset(); }
  std::unique_ptr<ChartCluster> cluster;
  bool tried = false;
  std::string whyNot;
};

SharedCluster* const gShared =
    static_cast<SharedCluster*>(::testing::AddGlobalTestEnvironment(new SharedCluster));

}  // namespace

ChartCluster* sharedChartCluster(std::string& whyNot) {
  if (!gShared->tried) {
    gShared->tried = true;
    gShared->cluster = ChartCluster::start(gShared->whyNot);
  }
  whyNot = gShared->whyNot;
  return gShared->cluster.get();
}

std::string sourcePath(const std::string& relative) { return std::string(SHOAL_SOURCE_DIR) + "/" + relative; }

namespace {

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace

std::unique_ptr<ChartCluster> ChartCluster::start(std::string& whyNot) {
  using shoal::testing::KubeControlPlane;
  if (auto why = KubeControlPlane::missing()) {
    whyNot = *why + " (run scripts/k8s-binaries.sh <build-dir>)";
    return nullptr;
  }
  const std::string helm = shoal::testing::findK8sBinary("helm");
  const std::string kubectl = shoal::testing::findK8sBinary("kubectl");
  if (helm.empty() || kubectl.empty()) {
    whyNot = std::string(helm.empty() ? "helm" : "kubectl") +
             " not found in $KUBEBUILDER_ASSETS or <build>/k8s-bin (run scripts/k8s-binaries.sh <build-dir>)";
    return nullptr;
  }
  std::unique_ptr<ChartCluster> c(new ChartCluster());
  c->impl_ = std::make_unique<Impl>();
  try {
    c->impl_->controlPlane = std::make_unique<KubeControlPlane>();
  } catch (const std::exception& e) {
    // A control plane that cannot start is a failure, not a skip.
    throw std::runtime_error(std::string("control plane failed to start: ") + e.what());
  }
  c->kubeconfig_ = c->impl_->controlPlane->kubeconfig();
  c->helm_ = helm;
  c->scratch_ = c->impl_->scratch.path();
  // helm keeps its cache, config and data under the scratch directory; kubectl
  // from <build>/k8s-bin (or the system one) comes first on PATH.
  const std::string kubectlDir = kubectl.substr(0, kubectl.rfind('/'));
  c->impl_->env = "env KUBECONFIG=" + shellQuote(c->kubeconfig_) + " HELM_CACHE_HOME=" + shellQuote(c->scratch_ + "/helm-cache") +
                  " HELM_CONFIG_HOME=" + shellQuote(c->scratch_ + "/helm-config") +
                  " HELM_DATA_HOME=" + shellQuote(c->scratch_ + "/helm-data") + " PATH=" + shellQuote(kubectlDir) +
                  ":\"$PATH\" ";
  auto v = c->kubectl("version -o json");
  try {
    // kubectl prints the JSON on stdout; stderr (merged) may add a skew warning after it.
    const auto end = v.output.rfind('}');
    auto j = nlohmann::json::parse(v.output.substr(0, end + 1));
    c->serverVersion_ = j.at("serverVersion").at("gitVersion").get<std::string>();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read the API server version: " + v.output);
  }
  // Strip build metadata ("v1.32.4-dispatcher" style suffixes) for helm.
  if (auto dash = c->serverVersion_.find_first_of("-+"); dash != std::string::npos)
    c->serverVersion_.resize(dash);
  return c;
}

ChartCluster::~ChartCluster() = default;

CommandResult ChartCluster::shell(const std::string& command) const {
  CommandResult r;
  const std::string full = impl_->env + "sh -c " + shellQuote(command) + " 2>&1";
  r.output = shoal::testing::runCommand(full, false, &r.exitCode);
  return r;
}

std::string ChartCluster::serviceAccountKubeconfig(const std::string& ns, const std::string& name) const {
  return impl_->controlPlane->serviceAccountKubeconfig(ns, name);
}

CommandResult ChartCluster::kubectl(const std::string& args) const { return shell("kubectl " + args); }

CommandResult ChartCluster::helm(const std::string& args) const {
  return shell(shellQuote(helm_) + " --kubeconfig " + shellQuote(kubeconfig_) + " " + args);
}

CommandResult ChartCluster::apply(const std::string& yaml, const std::string& extraArgs) const {
  static int n = 0;
  const std::string file = scratch_ + "/manifest-" + std::to_string(++n) + ".yaml";
  if (FILE* f = std::fopen(file.c_str(), "w")) {
    std::fwrite(yaml.data(), 1, yaml.size(), f);
    std::fclose(f);
  }
  return kubectl("apply -f " + shellQuote(file) + " " + extraArgs);
}

}  // namespace shoal::chart_test
