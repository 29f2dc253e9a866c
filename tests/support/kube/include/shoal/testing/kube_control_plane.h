// A real Kubernetes control plane for tests: etcd, kube-apiserver (RBAC, TLS
// with generated certificates, on a free loopback port) and optionally
// kube-controller-manager and kube-scheduler, all stopped on destruction. The
// binaries come from ${SHOAL_BINARY_DIR}/k8s-bin (scripts/k8s-binaries.sh) or
// $KUBEBUILDER_ASSETS; tests skip when they are missing:
//
//   TEST(Foo, Bar) {
//     SHOAL_REQUIRE_K8S();                       // GTEST_SKIP with the reason
//     auto& cp = shoal::testing::sharedControlPlane();   // one per test binary
//     auto r = cp.kubectl({"get", "ns"});
//     EXPECT_EQ(r.exitCode, 0) << r.err;
//   }
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::testing {

/// Path of a control-plane binary ("kube-apiserver", "helm", "kubectl", ...):
/// $KUBEBUILDER_ASSETS/name, then ${SHOAL_BINARY_DIR}/k8s-bin/name, then (kubectl
/// only) /usr/bin/kubectl. Empty if not found.
std::string findK8sBinary(const std::string& name);

/// \brief etcd + kube-apiserver (+ controller-manager, scheduler). Construction
/// throws std::runtime_error if something fails to start. Thread-safe for
/// kubectl(); start/stop methods are not meant to race.
class KubeControlPlane {
 public:
  struct Options {
    bool controllerManager = false;  // ReplicaSets for Deployments, garbage collection, SA tokens
    bool scheduler = false;
    bool watchCache = true;          // false: watches are served by etcd directly
    std::vector<std::string> extraApiServerArgs;
    // true: keep the ServiceAccount admission plugin on (pods get the
    // kube-api-access projected volume, and their ServiceAccount must exist).
    bool serviceAccountAdmission = false;
    // true: configure the aggregation layer (a front-proxy client CA and the
    // `--requestheader-*` and `--proxy-client-*` flags), so an APIService can
    // send its group to an extension API server such as KEDA's metrics server.
    // Off by default: the other tests do not need the extra certificates.
    bool aggregationLayer = false;
  };
  struct CommandResult {
    int exitCode = -1;
    std::string out;
    std::string err;
  };

  KubeControlPlane() : KubeControlPlane(Options{}) {}
  explicit KubeControlPlane(Options o);
  ~KubeControlPlane();
  KubeControlPlane(const KubeControlPlane&) = delete;
  KubeControlPlane& operator=(const KubeControlPlane&) = delete;

  /// The reason these options cannot run here (missing binaries), or nullopt.
  static std::optional<std::string> missing(const Options& o);
  static std::optional<std::string> missing() { return missing(Options{}); }

  int port() const { return port_; }
  /// https://127.0.0.1:<port>
  std::string server() const;
  /// Admin kubeconfig (client certificate with O=system:masters).
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& caFile() const { return caFile_; }
  const std::string& adminCertFile() const { return adminCert_; }
  const std::string& adminKeyFile() const { return adminKey_; }
  const std::string& dir() const { return dir_.path(); }
  std::string etcdUrl() const { return etcd_->url(); }

  /// Runs the real kubectl with the admin kubeconfig (or `kubeconfig` if
  /// non-empty); stdinText is fed on stdin (for `apply -f -`).
  CommandResult kubectl(const std::vector<std::string>& args, const std::string& stdinText = "",
                        const std::string& kubeconfig = "") const;

  /// Stops kube-apiserver (SIGTERM) and starts it again on the same port and
  /// etcd; returns once /readyz answers. For chaos tests.
  void restartApiServer();
  void stopApiServer();
  void startApiServer();
  bool apiServerRunning();

  /// Creates (if missing) ServiceAccount ns/name and mints a token for it.
  std::string createServiceAccountToken(const std::string& ns, const std::string& name,
                                        const std::string& duration = "1h");
  /// Writes a kubeconfig that authenticates as ServiceAccount ns/name with a
  /// fresh token (so RBAC is enforced); returns its path.
  std::string serviceAccountKubeconfig(const std::string& ns, const std::string& name);
  /// Compacts etcd at its current revision, so watches from older
  /// resourceVersions fail with 410 once the watch cache no longer covers them.
  void compactEtcd();
  /// Blocks until the namespace's "default" ServiceAccount exists (needs the
  /// controller manager); false on timeout.
  bool waitForDefaultServiceAccount(const std::string& ns = "default");

 private:
  void generateCerts();
  void writeKubeconfig(const std::string& path, const std::string& userYaml) const;
  bool apiReady() const;
  void startControllers();

  Options opts_;
  TempDir dir_;
  std::unique_ptr<EtcdServer> etcd_;
  int port_ = 0;
  std::string caFile_, caKey_, servingCert_, servingKey_, saKey_, saPub_, adminCert_, adminKey_;
  std::string kubeconfig_;
  Process apiserver_;
  Process controllerManager_;
  Process scheduler_;
  int apiStarts_ = 0;
};

/// One control plane per test binary (started on first use, with the
/// controller manager), for suites that can share it. Skip first with
/// SHOAL_REQUIRE_K8S(shoal::testing::sharedControlPlaneOptions()).
KubeControlPlane& sharedControlPlane();
KubeControlPlane::Options sharedControlPlaneOptions();

}  // namespace shoal::testing

/// Skips the current test (GTEST_SKIP) when the control-plane binaries are missing.
#define SHOAL_REQUIRE_K8S(...)                                                      \
  do {                                                                              \
    if (auto why_ = ::shoal::testing::KubeControlPlane::missing(__VA_ARGS__)) {     \
      GTEST_SKIP() << *why_;                                                        \
    }                                                                               \
  } while (0)
