// The environment of the chart tests: one real control plane per test binary
// (started by shoal::testing::KubeControlPlane on free loopback ports), the
// real helm from <build>/k8s-bin and the real kubectl, and a way to run them
// against it and capture what they print.
#pragma once

#include <memory>
#include <string>

namespace shoal::chart_test {

/// What a command printed (stdout and stderr together) and how it exited.
struct CommandResult {
  int exitCode = -1;
  std::string output;
  bool ok() const { return exitCode == 0; }
};

class ChartCluster {
 public:
  /// Starts the control plane; returns nullptr and sets `whyNot` when the
  /// binaries (kube-apiserver, helm, kubectl) are not available.
  static std::unique_ptr<ChartCluster> start(std::string& whyNot);
  ~ChartCluster();
  ChartCluster(const ChartCluster&) = delete;
  ChartCluster& operator=(const ChartCluster&) = delete;

  /// Runs `kubectl <args>` against the cluster (args are shell words).
  CommandResult kubectl(const std::string& args) const;
  /// Runs `helm <args>` against the cluster.
  CommandResult helm(const std::string& args) const;
  /// Runs `kubectl apply -f -` with `yaml` on stdin (extra args appended).
  CommandResult apply(const std::string& yaml, const std::string& extraArgs = "") const;
  /// Runs a shell command with KUBECONFIG set (for pipelines).
  CommandResult shell(const std::string& command) const;

  /// A kubeconfig authenticating as ServiceAccount ns/name with a fresh
  /// token, so the API server enforces that account's RBAC.
  std::string serviceAccountKubeconfig(const std::string& ns, const std::string& name) const;

  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& helmBinary() const { return helm_; }
  /// The API server's version as `vMAJOR.MINOR.PATCH`, for helm --kube-version.
  const std::string& serverVersion() const { return serverVersion_; }
  /// A scratch directory that lives as long as the cluster.
  const std::string& scratch() const { return scratch_; }

 private:
  ChartCluster() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string kubeconfig_;
  std::string helm_;
  std::string serverVersion_;
  std::string scratch_;
};

/// The control plane shared by every test of this binary: started on first
/// use, stopped when the test program ends (a gtest Environment). Returns
/// nullptr with `whyNot` set when the binaries are missing.
ChartCluster* sharedChartCluster(std::string& whyNot);

/// Path of a file in the source tree.
std::string sourcePath(const std::string& relative);

}  // namespace shoal::chart_test
