// keda_bench: the real KEDA against Shoal's operator on one real control
// plane, the same burst into the same stream, the same shoal-worker pods
// (run by shoal-node-agent), the same slowed sink.
//
// Setup, once: etcd, kube-apiserver with the aggregation layer, the
// controller manager (its HPA controller, default 15 s sync) and the
// scheduler (KubeControlPlane); shoal-node-agent as the only kubelet; Redis;
// shoal-bulk-server answering every bulk request after --sink-delay-ms (500 ms
// for 100 entries: 200 entries/s per pod, the simulator's per-pod rate);
// KEDA's CRDs from its module; KEDA's operator and metrics API server
// (keda-operator, keda-adapter from scripts/keda-binaries.sh) as processes
// with the admin kubeconfig, their gRPC link on loopback with certificates
// made here; an APIService v1beta1.external.metrics.k8s.io whose Service is
// an ExternalName Service naming localhost, so kube-apiserver proxies the
// external metrics API to the adapter's loopback port; shoal-operator as a
// process with the same admin kubeconfig.
//
// Then one run per configuration, one after the other (--configs, default
// shoal,default,careful): the stream is emptied and its group created again,
// the pool is created idle at 0 replicas, --burst entries are written with
// shoal-loadgen, and the pool's Deployment is sampled every 0.5 s until it is
// back at its idle count (or --observe-s passed). Shoal runs first: its
// rendered worker ConfigMap and pod template are copied for KEDA's
// Deployment, so both scale the very same pods.
//  - shoal:   a WorkerPool with minReplicas 0, maxReplicas 20 and the
//             policy's defaults (drainTime 60 s).
//  - default: a ScaledObject with the redis-streams trigger in lagCount mode,
//             KEDA's documented defaults (lagCount 5, pollingInterval 30 s,
//             cooldownPeriod 300 s, minReplicaCount 0), maxReplicaCount 20.
//  - careful: the same with lagCount 12000 (200/s x 60 s, as the simulator's
//             keda-careful).
// Prints per run `bench: <system>_real_burst<N>_<config>_replica_seconds`,
// `_drain_s`, `_first_scale_ms`, `_final_replicas_after_s`, `_peak_replicas`
// and the ratios shoal/keda; writes the samples to <--out-dir>/keda_<run>.csv.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

using namespace std::chrono_literals;
using nlohmann::json;
using shoal::testing::KubeControlPlane;
using shoal::testing::Process;
using shoal::testing::RedisServer;
using shoal::testing::TempDir;
using shoal::testing::waitUntil;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kStream = "logs:burst";
constexpr const char* kGroup = "burst";
constexpr const char* kWorkerImage = "example.org/shoal-worker:bench";
constexpr int kMaxReplicas = 20;

struct Settings {
  std::vector<std::string> configs = {"shoal", "default", "careful"};
  int burst = 10000;
  int sinkDelayMs = 500;
  double observeSeconds = 600;
  std::string outDir;
};

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string executable(const char* envVar, const std::string& path) {
  if (const char* v = std::getenv(envVar); v && *v) return ::access(v, X_OK) == 0 ? v : "";
  return ::access(path.c_str(), X_OK) == 0 ? path : "";
}

struct Binaries {
  std::string build = SHOAL_BINARY_DIR;
  std::string kedaDir = [] {
    const char* v = std::getenv("SHOAL_KEDA_BIN");
    return std::string(v && *v ? v : SHOAL_BINARY_DIR "/keda-bin");
  }();
  std::string kedaOperator = executable("SHOAL_KEDA_OPERATOR_BIN", kedaDir + "/keda-operator");
  std::string kedaAdapter = executable("SHOAL_KEDA_ADAPTER_BIN", kedaDir + "/keda-adapter");
  std::string agent =
      executable("SHOAL_NODE_AGENT_BIN", build + "/tests/e2e/node_agent/shoal-node-agent");
  std::string worker = executable("SHOAL_WORKER_BIN", build + "/runtime/worker/shoal-worker");
  std::string operator_ = executable("SHOAL_OPERATOR_BIN", build + "/operator/cmd/shoal-operator");
  std::string bulk =
      executable("SHOAL_BULK_SERVER_BIN", build + "/tests/tools/bulk_server/shoal-bulk-server");
  std::string loadgen = executable("SHOAL_LOADGEN_BIN", build + "/runtime/loadgen/shoal-loadgen");

  std::string missing() const {
    std::string m;
    auto need = [&](const std::string& p, const std::string& name) {
      if (p.empty()) m += (m.empty() ? "" : ", ") + name;
    };
    need(kedaOperator, "keda-operator (scripts/keda-binaries.sh)");
    need(kedaAdapter, "keda-adapter (scripts/keda-binaries.sh)");
    if (::access((kedaDir + "/crd/keda.sh_scaledobjects.yaml").c_str(), R_OK) != 0)
      need("", "KEDA's CRDs in " + kedaDir + "/crd");
    need(agent, "shoal-node-agent");
    need(worker, "shoal-worker");
    need(operator_, "shoal-operator");
    need(bulk, "shoal-bulk-server");
    need(loadgen, "shoal-loadgen");
    return m;
  }
};

KubeControlPlane::Options controlPlaneOptions() {
  KubeControlPlane::Options o;
  o.controllerManager = true;
  o.scheduler = true;
  o.aggregationLayer = true;
  return o;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string tailOf(const std::string& text, size_t n = 3000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// Everything both systems share: control plane, node agent, Redis, sink.
struct Bench {
  const Settings& s;
  const Binaries& b;
  KubeControlPlane cp{controlPlaneOptions()};
  TempDir dir;
  RedisServer redis;
  int bulkPort = shoal::testing::freePort();
  Process agent, bulk, shoalOperator, kedaOperator, kedaAdapter;
  json shoalTemplate;   // the pod template Shoal rendered (copied for KEDA)
  json shoalConfigMap;  // its worker ConfigMap's data

  Bench(const Settings& settings, const Binaries& bins) : s(settings), b(bins) {}

  std::string log(const std::string& name) const { return dir.file(name); }

  KubeControlPlane::CommandResult kubectl(const std::vector<std::string>& args,
                                          const std::string& in = "") const {
    return cp.kubectl(args, in);
  }
  void apply(const std::string& yaml, const std::string& what) const {
    auto r = kubectl({"apply", "-f", "-"}, yaml);
    if (r.exitCode != 0) throw std::runtime_error("applying " + what + " failed: " + r.err);
  }
  std::string jsonpath(const std::vector<std::string>& what, const std::string& path) const {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.push_back("-o");
    args.push_back("jsonpath=" + path);
    auto r = kubectl(args);
    return r.exitCode == 0 ? trim(r.out) : "";
  }

  // (`kubectl wait` fails outright while a new CRD has no conditions yet.)
  void waitEstablished(const std::vector<std::string>& crds) const {
    for (const auto& crd : crds) {
      if (!waitUntil(
              [&] {
                return jsonpath({"crd", crd},
                                "{.status.conditions[?(@.type==\"Established\")].status}") ==
                       "True";
              },
              60s, 250ms))
        throw std::runtime_error("CRD " + crd + " not Established");
    }
  }

  void start() {
    std::cerr << "# keda bench: control plane up at " << cp.server() << "\n";
    agent = Process(Process::Options{
        .argv = {b.agent, "--kubeconfig", cp.kubeconfig(), "--node-name", "keda-bench-node",
                 "--worker-binary", b.worker, "--root-dir", dir.file("pods")},
        .stdoutPath = log("agent.out"),
        .stderrPath = log("agent.log")});
    bulk = Process(Process::Options{.argv = {b.bulk, "--port", std::to_string(bulkPort),
                                             "--no-store-sources"},
                                    .stdoutPath = log("bulk.out"),
                                    .stderrPath = log("bulk.err")});
    if (!waitUntil([&] { return sinkDocs() >= 0; }, 20s))
      throw std::runtime_error("shoal-bulk-server did not start: " +
                               Process::readFile(log("bulk.err")));
    int st = 0;
    shoal::testing::httpRequest(bulkPort, "POST", "/_shoal/faults/delay",
                                "{\"ms\":" + std::to_string(s.sinkDelayMs) + ",\"next\":-1}", &st);
    if (st != 200) throw std::runtime_error("could not slow the sink down");
    if (!waitUntil([&] {
          return jsonpath({"node", "keda-bench-node"},
                          "{.status.conditions[?(@.type==\"Ready\")].status}") == "True";
        },
        60s, 250ms))
      throw std::runtime_error("node agent not Ready: " + tailOf(Process::readFile(log("agent.log"))));
    if (!cp.waitForDefaultServiceAccount("default"))
      throw std::runtime_error("no default ServiceAccount");
    startShoal();
    startKeda();
  }

  void startShoal() {
    for (const char* crd : {"shoal.dev_pipelines.yaml", "shoal.dev_workerpools.yaml"}) {
      auto r = kubectl({"apply", "-f", std::string(SHOAL_SOURCE_DIR) + "/crds/" + crd});
      if (r.exitCode != 0) throw std::runtime_error(std::string("applying ") + crd + ": " + r.err);
    }
    waitEstablished({"pipelines.shoal.dev", "workerpools.shoal.dev"});
    shoalOperator = Process(Process::Options{
        .argv = {b.operator_, "--kubeconfig", cp.kubeconfig(), "--metrics-bind-address",
                 "127.0.0.1:" + std::to_string(shoal::testing::freePort()),
                 "--health-probe-bind-address",
                 "127.0.0.1:" + std::to_string(shoal::testing::freePort())},
        .env = {{"SHOAL_WORKER_IMAGE", kWorkerImage}},
        .stdoutPath = log("shoal-operator.log"),
        .stderrPath = log("shoal-operator.log")});
  }

  // The operator's gRPC metrics service and the adapter's client share one
  // CA and one certificate (serverAuth and clientAuth, 127.0.0.1/localhost),
  // in the ca.crt/tls.crt/tls.key layout both read from --cert-dir.
  std::string makeKedaCerts() {
    std::string d = dir.file("keda-certs");
    ::mkdir(d.c_str(), 0755);
    writeFile(d + "/ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                          "extendedKeyUsage=serverAuth,clientAuth\n"
                          "keyUsage=critical,digitalSignature,keyEncipherment\n");
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    int code = 0;
    std::string out = shoal::testing::runCommand(
        "cd " + shellQuote(d) + " && (openssl req -x509 " + ec +
            " -days 2 -subj /CN=keda-bench-ca -addext basicConstraints=critical,CA:TRUE"
            " -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.crt"
            " && openssl req " + ec + " -subj /CN=keda-operator -keyout tls.key -out tls.csr"
            " && openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
            " -extfile ext -out tls.crt) 2>&1",
        false, &code);
    if (code != 0) throw std::runtime_error("KEDA certificates: " + out);
    return d;
  }

  void startKeda() {
    auto crds = kubectl({"apply", "--server-side", "-f", b.kedaDir + "/crd"});
    if (crds.exitCode != 0) throw std::runtime_error("KEDA CRDs: " + crds.err);
    waitEstablished({"scaledobjects.keda.sh", "triggerauthentications.keda.sh"});
    kubectl({"create", "namespace", "keda"});
    std::string certs = makeKedaCerts();
    int grpcPort = shoal::testing::freePort();
    std::map<std::string, std::string> env = {{"KUBECONFIG", cp.kubeconfig()},
                                              {"POD_NAMESPACE", "keda"},
                                              {"WATCH_NAMESPACE", ""},
                                              {"KEDA_CLUSTER_OBJECT_NAMESPACE", "keda"}};
    kedaOperator = Process(Process::Options{
        .argv = {b.kedaOperator, "--leader-elect=false", "--zap-log-level=info",
                 "--zap-encoder=console",
                 "--metrics-bind-address=127.0.0.1:" + std::to_string(shoal::testing::freePort()),
                 "--health-probe-bind-address=127.0.0.1:" +
                     std::to_string(shoal::testing::freePort()),
                 "--metrics-service-bind-address=127.0.0.1:" + std::to_string(grpcPort),
                 "--cert-dir=" + certs, "--enable-cert-rotation=false",
                 "--ca-dir=" + certs},
        .env = env,
        .stdoutPath = log("keda-operator.log"),
        .stderrPath = log("keda-operator.log")});
    int adapterPort = shoal::testing::freePort();
    kedaAdapter = Process(Process::Options{
        .argv = {b.kedaAdapter, "--secure-port=" + std::to_string(adapterPort),
                 "--bind-address=127.0.0.1", "--tls-cert-file=" + certs + "/tls.crt",
                 "--tls-private-key-file=" + certs + "/tls.key", "--cert-dir=" + certs,
                 "--lister-kubeconfig=" + cp.kubeconfig(),
                 "--authentication-kubeconfig=" + cp.kubeconfig(),
                 "--authorization-kubeconfig=" + cp.kubeconfig(),
                 "--metrics-service-address=127.0.0.1:" + std::to_string(grpcPort),
                 "--port=" + std::to_string(shoal::testing::freePort()),
                 "--zap-log-level=info", "--zap-encoder=console"},
        .env = env,
        .stdoutPath = log("keda-adapter.log"),
        .stderrPath = log("keda-adapter.log")});
    // kube-apiserver reaches the adapter on loopback: an ExternalName Service
    // resolves to its name (localhost) and the APIService's port.
    std::ostringstream y;
    y << "apiVersion: v1\nkind: Service\nmetadata:\n  name: keda-metrics-apiserver\n"
      << "  namespace: keda\nspec:\n  type: ExternalName\n  externalName: localhost\n"
      << "  ports:\n  - name: https\n    port: " << adapterPort << "\n"
      << "---\napiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n"
      << "  name: v1beta1.external.metrics.k8s.io\nspec:\n  service:\n"
      << "    name: keda-metrics-apiserver\n    namespace: keda\n    port: " << adapterPort << "\n"
      << "  group: external.metrics.k8s.io\n  version: v1beta1\n"
      << "  insecureSkipTLSVerify: true\n  groupPriorityMinimum: 100\n  versionPriority: 100\n";
    apply(y.str(), "the external metrics APIService");
    if (!waitUntil(
            [&] {
              return jsonpath({"apiservice", "v1beta1.external.metrics.k8s.io"},
                              "{.status.conditions[?(@.type==\"Available\")].status}") == "True";
            },
            120s, 500ms)) {
      throw std::runtime_error(
          "APIService v1beta1.external.metrics.k8s.io not Available:\n" +
          kubectl({"get", "apiservice", "v1beta1.external.metrics.k8s.io", "-o", "yaml"}).out +
          "\nadapter:\n" + tailOf(Process::readFile(log("keda-adapter.log"))) +
          "\noperator:\n" + tailOf(Process::readFile(log("keda-operator.log"))));
    }
    std::cerr << "# keda bench: KEDA operator and metrics server up, APIService Available\n";
  }

  int64_t sinkDocs() const {
    int status = 0;
    std::string body = shoal::testing::httpGet(bulkPort, "/_shoal/stats", &status);
    if (status != 200) return -1;
    auto j = json::parse(body, nullptr, false);
    return j.is_object() ? j.value("totalDocs", int64_t{-1}) : -1;
  }

  // Empties the stream and creates the group again at its start: every run
  // meets the same empty stream, group and counters.
  void resetStream() {
    redis.cli(std::string("DEL ") + kStream);
    redis.cli(std::string("XGROUP CREATE ") + kStream + " " + kGroup + " 0 MKSTREAM");
  }

  std::string pipelineYaml() const {
    std::ostringstream y;
    y << "apiVersion: shoal.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: burst\nspec:\n"
      << "  type: logs\n  source:\n    redis:\n"
      << "      address: 127.0.0.1:" << redis.port() << "\n"
      << "      stream: " << kStream << "\n      consumerGroup: " << kGroup << "\n"
      << "      startId: \"0\"\n      blockMs: 200\n"
      << "  transform:\n    logs:\n      format: auto\n"
      << "  sink:\n    elasticsearch:\n      url: http://127.0.0.1:" << bulkPort
      << "\n      index: burst\n"
      << "  delivery:\n    batchSize: 100\n    lingerMs: 5\n";
    return y.str();
  }
};

struct Sample {
  double t = 0;  // seconds since the burst's first XADD
  int replicas = -1;
  int64_t delivered = 0;
};

struct RunResult {
  std::string name;  // shoal, default, careful
  std::vector<Sample> samples;
  double drainSeconds = -1;
  double replicaSeconds = 0;
  double firstScaleMs = -1;
  double finalAfterSeconds = -1;  // drain -> last replica change
  int peak = 0;
  int finalReplicas = -1;
  bool settled = false;  // back at the idle count within the window
};

int deploymentReplicas(const Bench& bench, const std::string& name) {
  std::string s = bench.jsonpath({"deployment", name}, "{.spec.replicas}");
  if (s.empty()) return -1;
  try {
    return std::stoi(s);
  } catch (...) {
    return -1;
  }
}

int podCount(const Bench& bench, const std::string& selector) {
  auto r = bench.kubectl({"get", "pods", "-l", selector, "-o", "name"});
  if (r.exitCode != 0) return -1;
  return static_cast<int>(std::count(r.out.begin(), r.out.end(), '\n'));
}

// Writes the burst and samples the Deployment until it is back at `idle`
// replicas after the drain (or the window ends).
RunResult measure(Bench& bench, const std::string& name, const std::string& deployment, int idle) {
  RunResult r;
  r.name = name;
  int64_t base = bench.sinkDocs();
  int before = deploymentReplicas(bench, deployment);
  auto t0 = Clock::now();
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  // The burst in the background, so sampling starts with the first XADD.
  std::string loadgenLog = bench.log("loadgen-" + name + ".log");
  Process loadgen(Process::Options{
      .argv = {bench.b.loadgen, "--quiet", "--redis",
               "redis://127.0.0.1:" + std::to_string(bench.redis.port()), "--stream", kStream,
               "--kind", "json", "--payload-bytes", "200", "--pipeline", "1000", "--total",
               std::to_string(bench.s.burst)},
      .stdoutPath = loadgenLog,
      .stderrPath = loadgenLog});
  int last = before;
  double lastChange = 0;
  while (since() < bench.s.observeSeconds) {
    Sample smp;
    smp.t = since();
    smp.replicas = deploymentReplicas(bench, deployment);
    int64_t docs = bench.sinkDocs();
    smp.delivered = docs >= 0 ? docs - base : (r.samples.empty() ? 0 : r.samples.back().delivered);
    if (!r.samples.empty() && r.samples.back().replicas > 0)
      r.replicaSeconds += r.samples.back().replicas * (smp.t - r.samples.back().t);
    if (smp.replicas >= 0 && smp.replicas != last) {
      if (r.firstScaleMs < 0) r.firstScaleMs = smp.t * 1000.0;
      last = smp.replicas;
      lastChange = smp.t;
    }
    r.peak = std::max(r.peak, smp.replicas);
    if (r.drainSeconds < 0 && smp.delivered >= bench.s.burst) r.drainSeconds = smp.t;
    r.samples.push_back(smp);
    if (r.drainSeconds >= 0 && smp.replicas == idle && smp.t > r.drainSeconds) {
      r.settled = true;
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  loadgen.wait(10s);
  r.finalReplicas = last;
  if (r.drainSeconds >= 0) r.finalAfterSeconds = std::max(0.0, lastChange - r.drainSeconds);
  return r;
}

void waitForNoPods(const Bench& bench, const std::string& selector) {
  waitUntil([&] { return podCount(bench, selector) == 0; }, 120s, 500ms);
}

RunResult runShoal(Bench& bench) {
  bench.resetStream();
  std::ostringstream y;
  y << bench.pipelineYaml() << "---\napiVersion: shoal.dev/v1alpha1\nkind: WorkerPool\n"
    << "metadata:\n  name: burst\nspec:\n  pipelineRef:\n    name: burst\n"
    << "  minReplicas: 0\n  maxReplicas: " << kMaxReplicas << "\n"
    << "  terminationGracePeriodSeconds: 20\n";
  bench.apply(y.str(), "the Shoal Pipeline and WorkerPool");
  if (!waitUntil([&] { return deploymentReplicas(bench, "burst") == 0; }, 180s, 500ms))
    throw std::runtime_error("Shoal's pool did not settle at 0 replicas:\n" +
                             bench.kubectl({"describe", "workerpool", "burst"}).out +
                             tailOf(Process::readFile(bench.log("shoal-operator.log"))));
  waitForNoPods(bench, "app.kubernetes.io/instance=burst");
  // The pool KEDA will scale: the same config and pod template.
  auto cm = bench.kubectl({"get", "configmap", "burst-config", "-o", "json"});
  auto dep = bench.kubectl({"get", "deployment", "burst", "-o", "json"});
  if (cm.exitCode != 0 || dep.exitCode != 0)
    throw std::runtime_error("reading Shoal's rendered pool: " + cm.err + dep.err);
  bench.shoalConfigMap = json::parse(cm.out)["data"];
  bench.shoalTemplate = json::parse(dep.out)["spec"]["template"];

  RunResult r = measure(bench, "shoal", "burst", 0);
  std::cerr << bench.kubectl({"describe", "workerpool", "burst"}).out;
  bench.kubectl({"delete", "workerpool", "burst", "--wait=true", "--timeout=120s"});
  bench.kubectl({"delete", "pipeline", "burst", "--wait=true", "--timeout=60s"});
  waitForNoPods(bench, "app.kubernetes.io/instance=burst");
  return r;
}

// A plain Deployment of the same pods as Shoal's (its rendered template, its
// worker config), at 0 replicas, scaled by a ScaledObject.
RunResult runKeda(Bench& bench, const std::string& config) {
  if (bench.shoalTemplate.is_null())
    throw std::runtime_error("the KEDA runs copy Shoal's pool: include shoal in --configs first");
  bench.resetStream();
  const std::string name = "keda-" + config;
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", name + "-config"}, {"namespace", "default"}}},
             {"data", bench.shoalConfigMap}};
  json tpl = bench.shoalTemplate;
  json labels = {{"app.kubernetes.io/name", "keda-bench"}, {"app.kubernetes.io/instance", name}};
  tpl["metadata"] = {{"labels", labels}};
  for (auto& v : tpl["spec"]["volumes"])
    if (v.contains("configMap")) v["configMap"]["name"] = name + "-config";
  json dep = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec",
               {{"replicas", 0}, {"selector", {{"matchLabels", labels}}}, {"template", tpl}}}};
  std::string lag = config == "careful" ? "12000" : "5";
  std::ostringstream so;
  so << "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: " << name
     << "\nspec:\n  scaleTargetRef:\n    name: " << name << "\n"
     << "  maxReplicaCount: " << kMaxReplicas << "\n"
     << "  triggers:\n  - type: redis-streams\n    metadata:\n"
     << "      address: 127.0.0.1:" << bench.redis.port() << "\n"
     << "      stream: " << kStream << "\n      consumerGroup: " << kGroup << "\n"
     << "      lagCount: \"" << lag << "\"\n";
  // One at a time: kubectl reads a stream that starts with '{' as JSON only.
  bench.apply(cm.dump(), "the KEDA pool's ConfigMap");
  bench.apply(dep.dump(), "the KEDA pool's Deployment");
  bench.apply(so.str(), "the ScaledObject");
  if (!waitUntil(
          [&] {
            return bench.jsonpath({"scaledobject", name},
                                  "{.status.conditions[?(@.type==\"Ready\")].status}") == "True" &&
                   !bench.jsonpath({"hpa", "keda-hpa-" + name}, "{.metadata.name}").empty();
          },
          120s, 500ms))
    throw std::runtime_error("ScaledObject " + name + " not Ready:\n" +
                             bench.kubectl({"describe", "scaledobject", name}).out +
                             tailOf(Process::readFile(bench.log("keda-operator.log"))));
  RunResult r = measure(bench, config, name, 0);
  std::cerr << bench.kubectl({"describe", "hpa", "keda-hpa-" + name}).out;
  bench.kubectl({"delete", "scaledobject", name, "--wait=true", "--timeout=60s"});
  bench.kubectl({"delete", "deployment", name, "--wait=true", "--timeout=120s"});
  bench.kubectl({"delete", "configmap", name + "-config"});
  waitForNoPods(bench, "app.kubernetes.io/instance=" + name);
  return r;
}

void printResult(const RunResult& r, int burst) {
  std::string system = r.name == "shoal" ? "shoal" : "keda";
  std::string p = "bench: " + system + "_real_burst" + std::to_string(burst / 1000) + "k_" +
                  (r.name == "shoal" ? std::string("default") : r.name);
  std::printf("%s_replica_seconds %.1f replica_s\n", p.c_str(), r.replicaSeconds);
  std::printf("%s_drain_s %.1f s\n", p.c_str(), r.drainSeconds);
  std::printf("%s_first_scale_ms %.0f ms\n", p.c_str(), r.firstScaleMs);
  std::printf("%s_final_replicas_after_s %.1f s\n", p.c_str(), r.finalAfterSeconds);
  std::printf("%s_peak_replicas %d replicas\n", p.c_str(), r.peak);
  if (!r.settled)
    std::printf("# %s: not back at 0 replicas within the window (final %d)\n", p.c_str() + 7,
                r.finalReplicas);
  std::fflush(stdout);
}

void writeSamples(const Settings& s, const RunResult& r) {
  if (s.outDir.empty()) return;
  std::filesystem::create_directories(s.outDir);
  std::ofstream f(s.outDir + "/keda_" + r.name + ".csv");
  f << "t_s,replicas,delivered\n";
  for (const auto& smp : r.samples) f << smp.t << "," << smp.replicas << "," << smp.delivered << "\n";
}

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

int usage(const char* why) {
  std::cerr << "keda_bench: " << why << "\n"
            << "usage: keda_bench [--configs shoal,default,careful] [--burst N] "
               "[--sink-delay-ms MS] [--observe-s S] [--out-dir DIR]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    try {
      if (a == "--configs" && (v = value())) s.configs = splitComma(*v);
      else if (a == "--burst" && (v = value())) s.burst = std::stoi(*v);
      else if (a == "--sink-delay-ms" && (v = value())) s.sinkDelayMs = std::stoi(*v);
      else if (a == "--observe-s" && (v = value())) s.observeSeconds = std::stod(*v);
      else if (a == "--out-dir" && (v = value())) s.outDir = *v;
      else return usage(("unknown or incomplete argument " + a).c_str());
    } catch (const std::exception&) {
      return usage(("bad value for " + a).c_str());
    }
  }
  for (const auto& c : s.configs)
    if (c != "shoal" && c != "default" && c != "careful")
      return usage(("--configs: unknown configuration " + c).c_str());
  if (s.burst <= 0 || s.sinkDelayMs < 0 || s.observeSeconds <= 0)
    return usage("--burst, --sink-delay-ms and --observe-s must be positive");

  Binaries b;
  if (auto why = KubeControlPlane::missing(controlPlaneOptions())) {
    std::cerr << "keda_bench: " << *why << "\n";
    return 1;
  }
  if (std::string m = b.missing(); !m.empty()) {
    std::cerr << "keda_bench: binaries missing: " << m << "\n";
    return 1;
  }
  std::map<std::string, RunResult> results;
  try {
    Bench bench(s, b);
    bench.start();
    std::printf("# setup: one control plane (kube-apiserver, kube-controller-manager with the HPA "
                "controller at its default 15 s sync, kube-scheduler), shoal-node-agent running "
                "shoal-worker pods as processes (pod start-up well under a second, not the "
                "simulator's 10 s), one Redis, shoal-bulk-server answering each bulk request of "
                "100 after %d ms; both operators run as processes with the admin kubeconfig; "
                "KEDA %s; replicas 0..%d\n",
                s.sinkDelayMs,
                trim(Process::readFile(b.kedaDir + "/version")).c_str(), kMaxReplicas);
    for (const auto& c : s.configs) {
      std::cerr << "# keda bench: run " << c << "\n";
      RunResult r = c == "shoal" ? runShoal(bench) : runKeda(bench, c);
      printResult(r, s.burst);
      writeSamples(s, r);
      results[c] = r;
    }
  } catch (const std::exception& e) {
    std::cerr << "keda_bench: " << e.what() << "\n";
    return 1;
  }
  if (results.count("shoal")) {
    const auto& sh = results["shoal"];
    for (const char* c : {"default", "careful"}) {
      if (!results.count(c)) continue;
      const auto& k = results[c];
      std::string p = "bench: shoal_over_keda_real_burst" + std::to_string(s.burst / 1000) + "k_" + c;
      if (k.replicaSeconds > 0)
        std::printf("%s_replica_seconds_ratio %.3f ratio\n", p.c_str(),
                    sh.replicaSeconds / k.replicaSeconds);
      if (k.drainSeconds > 0 && sh.drainSeconds >= 0)
        std::printf("%s_drain_time_ratio %.3f ratio\n", p.c_str(), sh.drainSeconds / k.drainSeconds);
    }
  }
  // How long scripts/keda-binaries.sh took to build KEDA cold (cached since).
  std::string t = trim(Process::readFile(b.kedaDir + "/build-seconds"));
  if (!t.empty()) std::printf("bench: keda_cold_build_s %s s\n", t.c_str());
  return 0;
}
