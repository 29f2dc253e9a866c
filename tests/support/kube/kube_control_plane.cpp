// Starts and stops a real Kubernetes control plane for tests (see
// kube_control_plane.h): certificates generated with the openssl CLI, etcd
// from shoal_testing, the control-plane binaries built by scripts/k8s-binaries.sh.
#include "shoal/testing/kube_control_plane.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace shoal::testing {

namespace {

bool isExecutable(const std::string& p) { return !p.empty() && ::access(p.c_str(), X_OK) == 0; }

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string tail(const std::string& text, size_t n = 4000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

}  // namespace

std::string findK8sBinary(const std::string& name) {
  if (const char* assets = std::getenv("KUBEBUILDER_ASSETS"); assets && *assets) {
    std::string p = std::string(assets) + "/" + name;
    if (isExecutable(p)) return p;
  }
  std::string p = std::string(SHOAL_BINARY_DIR) + "/k8s-bin/" + name;
  if (isExecutable(p)) return p;
  if (name == "kubectl") {
    for (const char* c : {"/usr/bin/kubectl", "/usr/local/bin/kubectl"})
      if (isExecutable(c)) return c;
  }
  return "";
}

std::optional<std::string> KubeControlPlane::missing(const Options& o) {
  std::vector<std::string> need = {"kube-apiserver", "kubectl"};
  if (o.controllerManager) need.push_back("kube-controller-manager");
  if (o.scheduler) need.push_back("kube-scheduler");
  std::string absent;
  for (const auto& n : need)
    if (findK8sBinary(n).empty()) absent += (absent.empty() ? "" : ", ") + n;
  if (!isExecutable("/usr/bin/etcd") && !isExecutable("/usr/local/bin/etcd"))
    absent += (absent.empty() ? "" : ", ") + std::string("etcd");
  if (absent.empty()) return std::nullopt;
  return "Kubernetes control-plane binaries missing (" + absent +
         "): run scripts/k8s-binaries.sh <build-dir> or set KUBEBUILDER_ASSETS";
}

KubeControlPlane::KubeControlPlane(Options o) : opts_(std::move(o)) {
  if (auto why = missing(opts_)) throw std::runtime_error(*why);
  generateCerts();
  etcd_ = std::make_unique<EtcdServer>();
  port_ = freePort();
  kubeconfig_ = dir_.file("admin.kubeconfig");
  writeKubeconfig(kubeconfig_, "    client-certificate: " + adminCert_ +
                                   "\n    client-key: " + adminKey_ + "\n");
  startApiServer();
  startControllers();
}

KubeControlPlane::~KubeControlPlane() {
  // Controllers first so they do not log about a vanished API server.
  if (scheduler_.pid() > 0) scheduler_.stop(std::chrono::seconds(5));
  if (controllerManager_.pid() > 0) controllerManager_.stop(std::chrono::seconds(5));
  if (apiserver_.pid() > 0) apiserver_.stop(std::chrono::seconds(10));
  etcd_.reset();
}

std::string KubeControlPlane::server() const {
  return "https://127.0.0.1:" + std::to_string(port_);
}

void KubeControlPlane::generateCerts() {
  const std::string d = dir_.path();
  caFile_ = d + "/ca.crt";
  caKey_ = d + "/ca.key";
  servingCert_ = d + "/apiserver.crt";
  servingKey_ = d + "/apiserver.key";
  saKey_ = d + "/sa.key";
  saPub_ = d + "/sa.pub";
  adminCert_ = d + "/admin.crt";
  adminKey_ = d + "/admin.key";
  writeFile(d + "/serving.ext",
            "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,"
            "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
            "DNS:kubernetes.default.svc.cluster.local\n"
            "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
  writeFile(d + "/client.ext",
            "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
  // EC keys: generated in milliseconds, accepted everywhere in Kubernetes.
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  int code = 0;
  std::string out = runCommand(
      "cd " + shellQuote(d) + " && (" +
          "openssl req -x509 " + ec + " -days 2 -subj /CN=shoal-test-kube-ca "
          "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign "
          "-keyout ca.key -out ca.crt"
          " && openssl req " + ec + " -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr"
          " && openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
          "-extfile serving.ext -out apiserver.crt"
          " && openssl req " + ec + " -subj /O=system:masters/CN=shoal-test-admin "
          "-keyout admin.key -out admin.csr"
          " && openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
          "-extfile client.ext -out admin.crt"
          " && openssl ecparam -name prime256v1 -genkey -noout -out sa.key"
          " && openssl ec -in sa.key -pubout -out sa.pub"
          ") 2>&1",
      false, &code);
  if (code != 0) throw std::runtime_error("generating certificates failed:\n" + out);
  if (!opts_.aggregationLayer) return;
  // The aggregation layer: a CA of its own for the front proxy, and the client
  // certificate kube-apiserver shows to extension API servers; they trust
  // the X-Remote-* headers only from a client with that name and CA.
  out = runCommand(
      "cd " + shellQuote(d) + " && (" +
          "openssl req -x509 " + ec + " -days 2 -subj /CN=shoal-test-front-proxy-ca "
          "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign "
          "-keyout front-proxy-ca.key -out front-proxy-ca.crt"
          " && openssl req " + ec + " -subj /CN=front-proxy-client "
          "-keyout front-proxy-client.key -out front-proxy-client.csr"
          " && openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt "
          "-CAkey front-proxy-ca.key -CAcreateserial -days 2 -extfile client.ext "
          "-out front-proxy-client.crt"
          ") 2>&1",
      false, &code);
  if (code != 0) throw std::runtime_error("generating front-proxy certificates failed:\n" + out);
}

void KubeControlPlane::writeKubeconfig(const std::string& path, const std::string& userYaml) const {
  writeFile(path,
            "apiVersion: v1\nkind: Config\n"
            "clusters:\n- name: shoal-test\n  cluster:\n    server: " + server() +
                "\n    certificate-authority: " + caFile_ +
                "\n"
                "users:\n- name: user\n  user:\n" + userYaml +
                "contexts:\n- name: shoal-test\n  context:\n    cluster: shoal-test\n"
                "    user: user\n    namespace: default\n"
                "current-context: shoal-test\n");
}

bool KubeControlPlane::apiReady() const {
  int code = 0;
  std::string out = runCommand("curl -sS --max-time 3 --cacert " + shellQuote(caFile_) +
                                   " --cert " + shellQuote(adminCert_) + " --key " +
                                   shellQuote(adminKey_) + " " + server() + "/readyz 2>/dev/null",
                               false, &code);
  return code == 0 && out == "ok";
}

void KubeControlPlane::startApiServer() {
  std::vector<std::string> argv = {
      findK8sBinary("kube-apiserver"),
      "--etcd-servers=" + etcd_->url(),
      "--etcd-prefix=/shoal-test",
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      "--secure-port=" + std::to_string(port_),
      "--cert-dir=" + dir_.file("apiserver-certs"),
      "--tls-cert-file=" + servingCert_,
      "--tls-private-key-file=" + servingKey_,
      "--client-ca-file=" + caFile_,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--service-account-key-file=" + saPub_,
      "--service-account-signing-key-file=" + saKey_,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--authorization-mode=RBAC",
      "--allow-privileged=true",
      "--enable-priority-and-fairness=false",
      "--profiling=false",
      "--endpoint-reconciler-type=none",
      "--v=1",
  };
  if (!opts_.serviceAccountAdmission) argv.push_back("--disable-admission-plugins=ServiceAccount");
  if (!opts_.watchCache) argv.push_back("--watch-cache=false");
  if (opts_.aggregationLayer) {
    // An APIService's Service is resolved to its cluster IP, or to the name
    // of an ExternalName Service (how tests point one at a server on loopback).
    for (const char* a : {"--requestheader-allowed-names=front-proxy-client",
                          "--requestheader-username-headers=X-Remote-User",
                          "--requestheader-group-headers=X-Remote-Group",
                          "--requestheader-extra-headers-prefix=X-Remote-Extra-"})
      argv.push_back(a);
    argv.push_back("--requestheader-client-ca-file=" + dir_.file("front-proxy-ca.crt"));
    argv.push_back("--proxy-client-cert-file=" + dir_.file("front-proxy-client.crt"));
    argv.push_back("--proxy-client-key-file=" + dir_.file("front-proxy-client.key"));
  }
  for (const auto& a : opts_.extraApiServerArgs) argv.push_back(a);
  std::string log = dir_.file("kube-apiserver." + std::to_string(apiStarts_++) + ".log");
  apiserver_ = Process(Process::Options{.argv = argv, .stdoutPath = log, .stderrPath = log});
  bool ready = waitUntil(
      [&] {
        if (!apiserver_.running()) return true;
        return apiReady();
      },
      std::chrono::seconds(90), std::chrono::milliseconds(200));
  if (!ready || !apiserver_.running())
    throw std::runtime_error("kube-apiserver did not become ready:\n" + tail(Process::readFile(log)));
}

void KubeControlPlane::stopApiServer() {
  if (apiserver_.pid() > 0) apiserver_.stop(std::chrono::seconds(10));
}

void KubeControlPlane::restartApiServer() {
  stopApiServer();
  startApiServer();
}

bool KubeControlPlane::apiServerRunning() { return apiserver_.pid() > 0 && apiserver_.running(); }

void KubeControlPlane::startControllers() {
  if (opts_.controllerManager) {
    std::string log = dir_.file("kube-controller-manager.log");
    controllerManager_ = Process(Process::Options{
        .argv = {findK8sBinary("kube-controller-manager"), "--kubeconfig=" + kubeconfig_,
                 "--authentication-kubeconfig=" + kubeconfig_,
                 "--authorization-kubeconfig=" + kubeconfig_,
                 "--service-account-private-key-file=" + saKey_, "--root-ca-file=" + caFile_,
                 "--use-service-account-credentials=true", "--controllers=*",
                 "--leader-elect=false", "--bind-address=127.0.0.1",
                 "--secure-port=" + std::to_string(freePort()),
                 "--cert-dir=" + dir_.file("kcm-certs"), "--concurrent-gc-syncs=5",
                 "--concurrent-deployment-syncs=5", "--concurrent-replicaset-syncs=5",
                 "--v=1"},
        .stdoutPath = log,
        .stderrPath = log});
  }
  if (opts_.scheduler) {
    std::string log = dir_.file("kube-scheduler.log");
    scheduler_ = Process(Process::Options{
        .argv = {findK8sBinary("kube-scheduler"), "--kubeconfig=" + kubeconfig_,
                 "--authentication-kubeconfig=" + kubeconfig_,
                 "--authorization-kubeconfig=" + kubeconfig_, "--leader-elect=false",
                 "--bind-address=127.0.0.1", "--secure-port=" + std::to_string(freePort()),
                 "--v=1"},
        .stdoutPath = log,
        .stderrPath = log});
  }
}

KubeControlPlane::CommandResult KubeControlPlane::kubectl(const std::vector<std::string>& args,
                                                          const std::string& stdinText,
                                                          const std::string& kubeconfig) const {
  static std::mutex seqMu;
  static int seq = 0;
  int n;
  {
    std::lock_guard<std::mutex> l(seqMu);
    n = seq++;
  }
  std::string base = dir_.file("kubectl." + std::to_string(n));
  writeFile(base + ".in", stdinText);
  std::string cmd = "exec " + shellQuote(findK8sBinary("kubectl")) + " --kubeconfig=" +
                    shellQuote(kubeconfig.empty() ? kubeconfig_ : kubeconfig);
  for (const auto& a : args) cmd += " " + shellQuote(a);
  cmd += " < " + shellQuote(base + ".in");
  Process p(Process::Options{.argv = {"/bin/sh", "-c", cmd},
                             .stdoutPath = base + ".out",
                             .stderrPath = base + ".err"});
  CommandResult r;
  auto st = p.wait(std::chrono::seconds(180));
  if (!st) {
    p.stop();
    r.exitCode = -1;
  } else {
    r.exitCode = WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  }
  r.out = Process::readFile(base + ".out");
  r.err = Process::readFile(base + ".err");
  ::unlink((base + ".in").c_str());
  ::unlink((base + ".out").c_str());
  ::unlink((base + ".err").c_str());
  return r;
}

std::string KubeControlPlane::createServiceAccountToken(const std::string& ns,
                                                        const std::string& name,
                                                        const std::string& duration) {
  auto get = kubectl({"get", "serviceaccount", name, "-n", ns});
  if (get.exitCode != 0) {
    auto c = kubectl({"create", "serviceaccount", name, "-n", ns});
    if (c.exitCode != 0 && c.err.find("AlreadyExists") == std::string::npos)
      throw std::runtime_error("kubectl create serviceaccount failed: " + c.err);
  }
  auto t = kubectl({"create", "token", name, "-n", ns, "--duration=" + duration});
  if (t.exitCode != 0) throw std::runtime_error("kubectl create token failed: " + t.err);
  std::string tok = t.out;
  while (!tok.empty() && (tok.back() == '\n' || tok.back() == '\r')) tok.pop_back();
  return tok;
}

std::string KubeControlPlane::serviceAccountKubeconfig(const std::string& ns,
                                                       const std::string& name) {
  std::string tok = createServiceAccountToken(ns, name);
  std::string path = dir_.file("sa-" + ns + "-" + name + ".kubeconfig");
  writeKubeconfig(path, "    token: " + tok + "\n");
  return path;
}

void KubeControlPlane::compactEtcd() {
  int code = 0;
  std::string out = runCommand("curl -sS --max-time 5 -X POST -d '{\"key\":\"AA==\"}' " +
                                   etcd_->url() + "/v3/kv/range",
                               false, &code);
  auto p = out.find("\"revision\":\"");
  if (code != 0 || p == std::string::npos)
    throw std::runtime_error("etcd range for the revision failed: " + out);
  p += 12;
  std::string rev = out.substr(p, out.find('"', p) - p);
  out = runCommand("curl -sS --max-time 10 -X POST -d '{\"revision\":\"" + rev +
                       "\",\"physical\":true}' " + etcd_->url() + "/v3/kv/compaction",
                   false, &code);
  if (code != 0 || out.find("error") != std::string::npos)
    throw std::runtime_error("etcd compaction failed: " + out);
}

bool KubeControlPlane::waitForDefaultServiceAccount(const std::string& ns) {
  return waitUntil([&] { return kubectl({"get", "serviceaccount", "default", "-n", ns}).exitCode == 0; },
                   std::chrono::seconds(60), std::chrono::milliseconds(250));
}

KubeControlPlane::Options sharedControlPlaneOptions() {
  KubeControlPlane::Options o;
  o.controllerManager = true;
  return o;
}

KubeControlPlane& sharedControlPlane() {
  static std::once_flag once;
  static std::unique_ptr<KubeControlPlane> cp;
  std::call_once(once, [] {
    cp = std::make_unique<KubeControlPlane>(sharedControlPlaneOptions());
    // Stopped at exit so no server outlives the test binary.
    std::atexit([] { cp.reset(); });
  });
  return *cp;
}

}  // namespace shoal::testing
