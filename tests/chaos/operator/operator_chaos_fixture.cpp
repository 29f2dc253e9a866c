// The operator fault suite's cluster and per-scenario pool (see
// operator_chaos_fixture.h).
#include "operator_chaos_fixture.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>

namespace shoal::chaos {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::KubeControlPlane;
using testing::Process;
using testing::waitUntil;

namespace {

std::string binary(const char* envVar, const std::string& relPath) {
  if (const char* v = std::getenv(envVar); v && *v) return access(v, X_OK) == 0 ? v : "";
  std::string p = std::string(SHOAL_BINARY_DIR) + "/" + relPath;
  return access(p.c_str(), X_OK) == 0 ? p : "";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string tail(const std::string& s, size_t n) {
  return s.size() > n ? "..." + s.substr(s.size() - n) : s;
}

}  // namespace

OperatorBinaries::OperatorBinaries()
    : agent(binary("SHOAL_NODE_AGENT_BIN", "tests/e2e/node_agent/shoal-node-agent")),
      worker(binary("SHOAL_WORKER_BIN", "runtime/worker/shoal-worker")),
      operator_(binary("SHOAL_OPERATOR_BIN", "operator/cmd/shoal-operator")),
      bulk(binary("SHOAL_BULK_SERVER_BIN", "tests/tools/bulk_server/shoal-bulk-server")),
      loadgen(binary("SHOAL_LOADGEN_BIN", "runtime/loadgen/shoal-loadgen")) {}

std::string OperatorBinaries::missing() const {
  std::string m;
  for (auto [path, name] : {std::pair{&agent, "shoal-node-agent"},
                            {&worker, "shoal-worker"},
                            {&operator_, "shoal-operator"},
                            {&bulk, "shoal-bulk-server"},
                            {&loadgen, "shoal-loadgen"}}) {
    if (path->empty()) m += (m.empty() ? "" : ", ") + std::string(name);
  }
  return m;
}

KubeControlPlane::Options chaosControlPlaneOptions() {
  KubeControlPlane::Options o;
  o.controllerManager = true;
  o.scheduler = true;
  o.watchCache = false;  // watches served by etcd: compaction makes old versions 410
  return o;
}

// ------------------------------------------------------------ ChaosCluster
ChaosCluster::ChaosCluster(const OperatorBinaries& b) : agentLog(agentDir.file("agent.log")) {
  agent = Process(
      Process::Options{.argv = {b.agent, "--kubeconfig", cp.kubeconfig(), "--node-name", kNode,
                                "--worker-binary", b.worker, "--root-dir", agentDir.file("pods")},
                       .stdoutPath = agentDir.file("agent.out"),
                       .stderrPath = agentLog});
}

ChaosCluster::~ChaosCluster() {
  agent.stop(15s);
}

bool ChaosCluster::nodeReady() const {
  auto r = cp.kubectl(
      {"get", "node", kNode, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"});
  return r.exitCode == 0 && trim(r.out) == "True";
}

ChaosCluster* sharedChaosCluster(const OperatorBinaries& b, std::string* why) {
  static std::unique_ptr<ChaosCluster> c;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [&] {
    try {
      c = std::make_unique<ChaosCluster>(b);
      std::atexit([] { c.reset(); });
      if (!waitUntil([&] { return c->nodeReady(); }, 60s, 200ms)) {
        failure = "node never Ready: " + tail(Process::readFile(c->agentLog), 3000);
        return;
      }
      auto crds = c->cp.kubectl({"apply", "-k", std::string(SHOAL_SOURCE_DIR) + "/crds/"});
      auto est = c->cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                                "crd/pipelines.shoal.dev", "crd/workerpools.shoal.dev"});
      if (crds.exitCode != 0 || est.exitCode != 0) failure = "CRDs: " + crds.err + est.err;
    } catch (const std::exception& e) {
      failure = std::string("control plane: ") + e.what();
    }
  });
  if (!failure.empty()) {
    if (why) *why = failure;
    return nullptr;
  }
  return c.get();
}

// ----------------------------------------------------------- PoolUnderTest
PoolUnderTest::PoolUnderTest(ChaosCluster& c, const OperatorBinaries& b, Options o)
    : cluster_(c), b_(b), o_(std::move(o)) {
  if (o_.operatorViaProxy) proxy_ = std::make_unique<TcpProxy>(redis_.port());
  auto ns = cp().kubectl({"create", "namespace", o_.ns});
  if (ns.exitCode != 0 && ns.err.find("AlreadyExists") == std::string::npos)
    throw std::runtime_error("create namespace: " + ns.err);
  if (!cp().waitForDefaultServiceAccount(o_.ns))
    throw std::runtime_error("no default ServiceAccount in " + o_.ns);
}

PoolUnderTest::~PoolUnderTest() {
  bool anyOperator = false;
  for (auto& op : operators_) anyOperator = anyOperator || op->running();
  if (anyOperator) {
    cp().kubectl({"delete", "workerpool", kName, "-n", o_.ns, "--wait=false"});
    cp().kubectl({"delete", "pipeline", kName, "-n", o_.ns, "--wait=false"});
    if (!waitUntil([&] { return podCount() == 0; }, 90s, 250ms))
      std::cerr << "pods of " << o_.ns << " still there after 90 s\n";
  } else {
    // No operator to remove finalizers: scale to zero so the pods at least stop.
    cp().kubectl({"scale", "deployment", kName, "-n", o_.ns, "--replicas=0"});
    waitUntil([&] { return podCount() == 0; }, 90s, 250ms);
  }
  for (auto& op : operators_) op->stop(10s);
}

void PoolUnderTest::apply() {
  const std::string address =
      "127.0.0.1:" + std::to_string(proxy_ ? proxy_->port() : redis_.port());
  std::ostringstream y;
  y << "apiVersion: shoal.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: " << kName
    << "\n  namespace: " << o_.ns << "\nspec:\n"
    << "  type: logs\n  source:\n    redis:\n"
    << "      address: " << address << "\n"
    << "      stream: " << kStream << "\n      consumerGroup: " << kGroup
    << "\n      startId: \"0\"\n"
    << "      maxDeliveries: 1000\n      blockMs: 200\n"
    << "  transform:\n    logs:\n      format: auto\n"
    << "  sink:\n    elasticsearch:\n      url: " << sink_.url() << "\n      index: " << kIndex
    << "\n"
    << "  delivery:\n    batchSize: 100\n    lingerMs: 5\n"
    << "---\napiVersion: shoal.dev/v1alpha1\nkind: WorkerPool\nmetadata:\n  name: " << kName
    << "\n  namespace: " << o_.ns << "\nspec:\n"
    << "  pipelineRef:\n    name: " << kName << "\n  image: example.org/shoal-worker:chaos\n"
    << "  minReplicas: " << o_.minReplicas << "\n  maxReplicas: " << o_.maxReplicas << "\n"
    << "  terminationGracePeriodSeconds: 20\n";
  if (proxy_) {
    // Workers reach Redis directly; only the operator goes through the proxy.
    y << "  template:\n    env:\n    - name: SHOAL_REDIS_URL\n      value: " << redis_.url()
      << "\n";
  }
  y << "  scaling:\n    policy: drainTime\n    drainSeconds: " << o_.drainSeconds
    << "\n    perReplicaThroughput: 500\n"
    << "    pollIntervalSeconds: 1\n"
    << "    scaleDown:\n      stabilizationSeconds: 5\n      periodSeconds: 1\n"
    << "      maxPodsPerStep: 4\n      percent: 100\n";
  auto r = cp().kubectl({"apply", "-f", "-"}, y.str());
  if (r.exitCode != 0) throw std::runtime_error("apply: " + r.err);
}

size_t PoolUnderTest::startOperator(bool leaderElect) {
  const size_t i = operators_.size();
  std::vector<std::string> argv = {b_.operator_,
                                   "--kubeconfig",
                                   cp().kubeconfig(),
                                   "--namespace",
                                   o_.ns,
                                   "--metrics-bind-address",
                                   "127.0.0.1:" + std::to_string(testing::freePort()),
                                   "--health-probe-bind-address",
                                   "127.0.0.1:" + std::to_string(testing::freePort())};
  if (leaderElect) {
    argv.insert(argv.end(), {"--leader-elect", "--leader-election-namespace", o_.ns});
  }
  operators_.push_back(std::make_unique<Process>(
      Process::Options{.argv = argv,
                       .stdoutPath = dir_.file("operator-" + std::to_string(i) + ".out"),
                       .stderrPath = dir_.file("operator-" + std::to_string(i) + ".log")}));
  return i;
}

std::string PoolUnderTest::operatorLog(size_t i) const {
  return Process::readFile(dir_.file("operator-" + std::to_string(i) + ".log"));
}

std::string PoolUnderTest::operatorLogs() const {
  std::string out;
  for (size_t i = 0; i < operators_.size(); ++i)
    out += "--- operator " + std::to_string(i) + "\n" + tail(operatorLog(i), 4000);
  return out;
}

void PoolUnderTest::load(int64_t n) {
  int exit = -1;
  std::string out = testing::runCommand(
      b_.loadgen + " --quiet --redis " + redis_.url() + " --stream " + kStream +
          " --kind json --payload-bytes 200 --pipeline 1000 --invalid-every 1000 --total " +
          std::to_string(n) + " --seed " + std::to_string(sent_ + 1),
      false, &exit);
  if (exit != 0) throw std::runtime_error("shoal-loadgen: " + out);
  sent_ += n;
  badSent_ += n / 1000;
}

bool PoolUnderTest::setSinkDelay(int ms) {
  // The control endpoint shares the sink's request threads with the workers'
  // keep-alive connections, so under load one attempt can time out: retry.
  return waitUntil(
      [&] {
        if (ms <= 0) return sink_.control("DELETE", "/_shoal/faults");
        return sink_.control("POST", "/_shoal/faults/delay",
                             "{\"ms\":" + std::to_string(ms) + ",\"next\":-1}");
      },
      60s, 100ms);
}

namespace {
int intOr(const std::string& s, int dflt) {
  try {
    return s.empty() ? dflt : std::stoi(s);
  } catch (...) {
    return dflt;
  }
}
}  // namespace

int PoolUnderTest::replicas() {
  auto r =
      cp().kubectl({"get", "deployment", kName, "-n", o_.ns, "-o", "jsonpath={.spec.replicas}"});
  return r.exitCode == 0 ? intOr(trim(r.out), -1) : -1;
}

int PoolUnderTest::readyReplicas() {
  auto r = cp().kubectl(
      {"get", "deployment", kName, "-n", o_.ns, "-o", "jsonpath={.status.readyReplicas}"});
  return r.exitCode == 0 ? intOr(trim(r.out), 0) : -1;
}

int PoolUnderTest::podCount() {
  auto r = cp().kubectl({"get", "pods", "-n", o_.ns, "-l",
                         std::string("app.kubernetes.io/instance=") + kName, "-o",
                         "jsonpath={.items[*].metadata.name}"});
  if (r.exitCode != 0) return -1;
  std::istringstream in(r.out);
  int n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

json PoolUnderTest::workerPool() {
  auto r = cp().kubectl({"get", "workerpool", kName, "-n", o_.ns, "-o", "json"});
  if (r.exitCode != 0) return nullptr;
  auto j = json::parse(r.out, nullptr, false);
  return j.is_discarded() ? json() : j;
}

json PoolUnderTest::condition(const std::string& type) {
  json p = workerPool();
  if (!p.is_object() || !p.contains("status") || !p["status"].contains("conditions"))
    return nullptr;
  for (auto& c : p["status"]["conditions"])
    if (c.is_object() && c.value("type", "") == type) return c;
  return nullptr;
}

std::string PoolUnderTest::conditionField(const std::string& type, const std::string& field) {
  json c = condition(type);
  if (!c.is_object() || !c.contains(field) || !c[field].is_string()) return "";
  return c[field].get<std::string>();
}

std::string PoolUnderTest::leaseHolder() {
  auto r = cp().kubectl(
      {"get", "lease", "shoal-operator", "-n", o_.ns, "-o", "jsonpath={.spec.holderIdentity}"});
  return r.exitCode == 0 ? trim(r.out) : "";
}

int64_t PoolUnderTest::delivered() {
  return static_cast<int64_t>(entryIdsOf(sink_.ids(kIndex), kStream, nullptr).size());
}
int64_t PoolUnderTest::deadLettered() {
  return deadLetterCount(redis_, kStream);
}
int64_t PoolUnderTest::pending() {
  return pendingCount(redis_, kStream, kGroup);
}

bool PoolUnderTest::settled() {
  return delivered() + deadLettered() >= sent_ && pending() == 0;
}

Tally PoolUnderTest::tally(const std::string& scenario) {
  int64_t foreign = 0;
  auto ids = entryIdsOf(sink_.ids(kIndex), kStream, &foreign);
  Tally t = account(redis_, kStream, kGroup, ids, foreign);
  t.redelivered = sink_.conflicts();
  std::cout << t.line(scenario) << std::endl;
  std::cout << scenario << ": " << podLifecycle() << std::endl;
  return t;
}

std::string PoolUnderTest::describe() {
  return cp().kubectl({"describe", "workerpool", kName, "-n", o_.ns}).out;
}

std::string PoolUnderTest::podLifecycle() {
  std::istringstream in(Process::readFile(cluster_.agentLog));
  const std::string pod = "\"pod\":\"" + o_.ns + "/";
  int started = 0, exited = 0, nonZero = 0, killed = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(pod) == std::string::npos) continue;
    if (line.find("\"started pod process\"") != std::string::npos) ++started;
    if (line.find("\"pod process exited\"") != std::string::npos) {
      ++exited;
      if (line.find("\"code\":0") == std::string::npos) ++nonZero;
    }
    if (line.find("grace period over, SIGKILL") != std::string::npos) ++killed;
  }
  std::ostringstream s;
  s << "pod processes: started=" << started << " exited=" << exited << " exited_nonzero=" << nonZero
    << " sigkilled=" << killed;
  return s.str();
}

json lastLogRecord(const std::string& log, const std::string& needle) {
  std::istringstream in(log);
  json found;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) == std::string::npos) continue;
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) found = j;
  }
  return found;
}

}  // namespace shoal::chaos
