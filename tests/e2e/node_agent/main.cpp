// shoal-node-agent: a test stand-in for the kubelet. It registers a Node
// (Ready, capacity, a Lease in kube-node-lease renewed every few seconds),
// watches the Pods bound to it (spec.nodeName), runs each Pod's first
// container as a local process (see launch_plan.h for the mapping), reports
// phase and the Ready condition from the process's /readyz, restarts crashed
// processes (restartPolicy), and on deletion sends SIGTERM, waits up to the
// grace period, SIGKILLs, then deletes the Pod with gracePeriodSeconds=0.
//
// Binding: the agent does not schedule; run kube-scheduler (KubeControlPlane
// Options::scheduler) so Pods get spec.nodeName.
//
// Single reconcile thread (every 200 ms) over a snapshot of the watched Pods;
// the watcher runs on its own thread. Children are in their own process
// groups, so signals reach the whole pod.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "launch_plan.h"
#include "shoal/common/clock.h"
#include "shoal/common/log.h"
#include "shoal/kube/client.h"
#include "shoal/kube/watcher.h"

namespace fs = std::filesystem;
using shoal::e2e::Json;
namespace kube = shoal::kube;

namespace {

std::atomic<bool> gStop{false};

// Safe reads of API objects (never throw on unexpected shapes).
const Json& at(const Json& j, const Json::json_pointer& p) {
  static const Json kNull;
  try {
    return j.at(p);
  } catch (const std::exception&) {
    return kNull;
  }
}
std::string strAt(const Json& j, const Json::json_pointer& p, const std::string& def = "") {
  const Json& v = at(j, p);
  return v.is_string() ? v.get<std::string>() : def;
}
void onSignal(int) { gStop = true; }

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
std::string rfc3339Micro(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() %
            1000000;
  std::string s = rfc3339(t);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us));
  return s.substr(0, s.size() - 1) + frac + "Z";
}

int freeLoopbackPort() {
  httplib::Server probe;
  int port = probe.bind_to_any_port("127.0.0.1");
  probe.stop();
  return port;
}

// Keeps the latest version of each Pod bound to this node, keyed by uid.
class PodView final : public kube::WatchSink {
 public:
  void onList(std::vector<Json> items, const std::string&) override {
    std::lock_guard lk(mu_);
    pods_.clear();
    for (auto& p : items) pods_[kube::uidOf(p)] = std::move(p);
  }
  void onEvent(const kube::WatchEvent& ev) override {
    std::lock_guard lk(mu_);
    std::string uid = kube::uidOf(ev.object);
    if (ev.type == kube::WatchEvent::Type::kDeleted) {
      pods_.erase(uid);
    } else if (ev.type == kube::WatchEvent::Type::kAdded ||
               ev.type == kube::WatchEvent::Type::kModified) {
      pods_[uid] = ev.object;
    }
  }
  std::map<std::string, Json> snapshot() const {
    std::lock_guard lk(mu_);
    return pods_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Json> pods_;
};

struct LocalPod {
  std::string ns, name, uid, dir, image;
  pid_t pid = -1;          // -1: not running
  int port = 0;
  int restarts = 0;
  bool ready = false;
  bool everStarted = false;
  std::optional<int> lastExitCode;
  std::string waitingReason, waitingMessage;
  std::chrono::steady_clock::time_point nextStart{};
  std::chrono::steady_clock::time_point nextProbe{};
  std::chrono::system_clock::time_point startedAt{};
  bool terminating = false;
  std::chrono::steady_clock::time_point killAt{};
  bool finished = false;   // restartPolicy says stay down
  std::string restartPolicy = "Always";
  Json lastReported;
};

class NodeAgent {
 public:
  NodeAgent(std::shared_ptr<kube::Client> client, std::string node, std::string worker,
            std::string root)
      : client_(std::move(client)), node_(std::move(node)), worker_(std::move(worker)),
        root_(std::move(root)) {}

  bool registerNode() {
    Json n = {{"apiVersion", "v1"},
              {"kind", "Node"},
              {"metadata",
               {{"name", node_},
                {"labels",
                 {{"kubernetes.io/hostname", node_},
                  {"kubernetes.io/os", "linux"},
                  {"shoal.dev/test-node-agent", "true"}}}}}};
    auto r = client_->create(kNodes, "", n);
    if (!r && !r.error().isAlreadyExists()) {
      shoal::log::error("node create failed", {{"error", r.error().describe()}});
      return false;
    }
    return heartbeat(true);
  }

  // Node status (Ready) and Lease renewal.
  bool heartbeat(bool full) {
    auto now = std::chrono::system_clock::now();
    auto cond = [&](const char* type, const char* status, const char* reason) {
      return Json{{"type", type},
                  {"status", status},
                  {"reason", reason},
                  {"message", "shoal-node-agent"},
                  {"lastHeartbeatTime", rfc3339(now)},
                  {"lastTransitionTime", rfc3339(startTime_)}};
    };
    Json status = {{"conditions",
                    {cond("Ready", "True", "KubeletReady"),
                     cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                     cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                     cond("PIDPressure", "False", "KubeletHasSufficientPID")}}};
    if (full) {
      Json cap = {{"cpu", "64"}, {"memory", "256Gi"}, {"pods", "110"},
                  {"ephemeral-storage", "100Gi"}};
      status["capacity"] = cap;
      status["allocatable"] = cap;
      status["addresses"] = Json::array({{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
                                         {{"type", "Hostname"}, {"address", node_}}});
      status["nodeInfo"] = {{"kubeletVersion", "v1.32.0-shoal"},
                            {"operatingSystem", "linux"},
                            {"architecture", "amd64"},
                            {"containerRuntimeVersion", "shoal-node-agent://0"},
                            {"machineID", ""}, {"systemUUID", ""}, {"bootID", ""},
                            {"kernelVersion", ""}, {"osImage", "local processes"},
                            {"kubeProxyVersion", ""}};
    }
    auto r = client_->mergePatch(kNodes, "", node_, Json{{"status", status}}, "status");
    if (!r) {
      shoal::log::warn("node status update failed", {{"error", r.error().describe()}});
      return false;
    }
    renewLease(now);
    return true;
  }

  void renewLease(std::chrono::system_clock::time_point now) {
    const kube::Resource leases = kube::Resource::leases();
    Json spec = {{"holderIdentity", node_}, {"leaseDurationSeconds", 40},
                 {"renewTime", rfc3339Micro(now)}};
    auto r = client_->mergePatch(leases, "kube-node-lease", node_, Json{{"spec", spec}});
    if (r) return;
    if (r.error().isNotFound()) {
      Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", node_}, {"namespace", "kube-node-lease"}}},
                    {"spec", spec}};
      auto c = client_->create(leases, "kube-node-lease", lease);
      if (!c && !c.error().isAlreadyExists()) {
        shoal::log::warn("lease create failed", {{"error", c.error().describe()}});
      }
    } else {
      shoal::log::warn("lease renew failed", {{"error", r.error().describe()}});
    }
  }

  void reconcile(const std::map<std::string, Json>& pods) {
    reap();
    auto now = std::chrono::steady_clock::now();
    for (const auto& [uid, pod] : pods) {
      std::string phase = strAt(pod, "/status/phase"_json_pointer);
      if (!locals_.count(uid) && (phase == "Succeeded" || phase == "Failed")) continue;
      auto& lp = locals_[uid];
      if (lp.uid.empty()) {
        lp.uid = uid;
        lp.ns = kube::namespaceOf(pod);
        lp.name = kube::nameOf(pod);
        lp.dir = root_ + "/" + lp.ns + "_" + lp.name + "_" + uid;
        lp.port = freeLoopbackPort();
      }
      if (!at(pod, "/metadata/deletionTimestamp"_json_pointer).is_null()) {
        terminate(lp, pod, now);
        continue;
      }
      if (lp.pid < 0 && !lp.finished && now >= lp.nextStart) start(lp, pod);
      if (lp.pid > 0 && now >= lp.nextProbe) {
        lp.ready = probe(lp);
        lp.nextProbe = now + std::chrono::milliseconds(500);
      }
      report(lp, pod);
    }
    // Pods that vanished without going through us (force-deleted): stop them.
    for (auto it = locals_.begin(); it != locals_.end();) {
      auto& lp = it->second;
      if (!pods.count(it->first)) {
        if (lp.pid > 0) {
          if (!lp.terminating) {
            ::kill(-lp.pid, SIGTERM);
            lp.terminating = true;
            lp.killAt = now + std::chrono::seconds(10);
          } else if (now >= lp.killAt) {
            ::kill(-lp.pid, SIGKILL);
          }
          ++it;
          continue;
        }
        std::error_code ec;
        fs::remove_all(lp.dir, ec);
        it = locals_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void shutdown() {
    for (auto& [uid, lp] : locals_) {
      if (lp.pid > 0) ::kill(-lp.pid, SIGTERM);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      reap();
      bool any = false;
      for (auto& [uid, lp] : locals_) any = any || lp.pid > 0;
      if (!any) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (auto& [uid, lp] : locals_) {
      if (lp.pid > 0) ::kill(-lp.pid, SIGKILL);
    }
    reap();
  }

 private:
  inline static const kube::Resource kNodes{"", "v1", "nodes", false, "Node"};

  std::optional<Json> lookup(const std::string& kind, const std::string& ns,
                             const std::string& name) {
    auto r = client_->get(kind == "Secret" ? kube::Resource::secrets()
                                           : kube::Resource::configMaps(),
                          ns, name);
    if (!r) return std::nullopt;
    return r.value();
  }

  void start(LocalPod& lp, const Json& pod) {
    shoal::e2e::LaunchSettings s{worker_, lp.dir, lp.port, node_};
    auto planned = shoal::e2e::planLaunch(
        pod, [this](const std::string& k, const std::string& n, const std::string& name) {
          return lookup(k, n, name);
        }, s);
    lp.image = strAt(pod, "/spec/containers/0/image"_json_pointer);
    if (auto* f = std::get_if<shoal::e2e::LaunchFailure>(&planned)) {
      lp.waitingReason = f->reason;
      lp.waitingMessage = f->message;
      lp.nextStart = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      return;
    }
    auto& plan = std::get<shoal::e2e::LaunchPlan>(planned);
    std::error_code ec;
    fs::create_directories(lp.dir, ec);
    for (const auto& d : plan.directories) fs::create_directories(d, ec);
    for (const auto& f : plan.files) {
      fs::create_directories(fs::path(f.path).parent_path(), ec);
      std::ofstream(f.path, std::ios::binary | std::ios::trunc) << f.content;
    }
    std::vector<std::string> envStrings;
    for (const auto& [k, v] : plan.env) envStrings.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& a : plan.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string logPath = lp.dir + "/container.log";

    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGTERM, SIG_DFL);
      ::signal(SIGINT, SIG_DFL);
      int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      if (::chdir(lp.dir.c_str()) != 0) _exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    if (pid < 0) {
      lp.waitingReason = "StartError";
      lp.waitingMessage = std::strerror(errno);
      lp.nextStart = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      return;
    }
    ::setpgid(pid, pid);
    lp.pid = pid;
    lp.ready = false;
    lp.everStarted = true;
    lp.waitingReason.clear();
    lp.startedAt = std::chrono::system_clock::now();
    lp.nextProbe = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    shoal::log::info("started pod process", {{"pod", lp.ns + "/" + lp.name},
                                             {"pid", pid},
                                             {"port", lp.port},
                                             {"log", logPath}});
  }

  bool probe(const LocalPod& lp) {
    httplib::Client cli("127.0.0.1", lp.port);
    cli.set_connection_timeout(0, 300000);
    cli.set_read_timeout(1, 0);
    auto res = cli.Get("/readyz");
    return res && res->status == 200;
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& [uid, lp] : locals_) {
        if (lp.pid != pid) continue;
        lp.pid = -1;
        lp.ready = false;
        lp.lastExitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        shoal::log::info("pod process exited",
                         {{"pod", lp.ns + "/" + lp.name}, {"code", *lp.lastExitCode}});
        if (!lp.terminating) {
          lp.restarts++;
          int backoff = std::min(10, 1 << std::min(lp.restarts - 1, 4));
          lp.nextStart = std::chrono::steady_clock::now() + std::chrono::seconds(backoff);
          restartPolicyCheck_.push_back(uid);
        }
      }
    }
    // restartPolicy Never / OnFailure with success: stay down.
    for (const auto& uid : restartPolicyCheck_) {
      auto& lp = locals_[uid];
      if (lp.restartPolicy == "Never" ||
          (lp.restartPolicy == "OnFailure" && lp.lastExitCode.value_or(1) == 0)) {
        lp.finished = true;
        lp.restarts--;
      }
    }
    restartPolicyCheck_.clear();
  }

  void terminate(LocalPod& lp, const Json& pod, std::chrono::steady_clock::time_point now) {
    if (lp.pid > 0 && !lp.terminating) {
      int64_t grace = 30;
      const Json& g = at(pod, "/metadata/deletionGracePeriodSeconds"_json_pointer);
      if (g.is_number_integer()) grace = g.get<int64_t>();
      lp.terminating = true;
      lp.killAt = now + std::chrono::seconds(std::max<int64_t>(grace, 0));
      ::kill(-lp.pid, SIGTERM);
      shoal::log::info("SIGTERM sent", {{"pod", lp.ns + "/" + lp.name},
                                        {"pid", lp.pid},
                                        {"graceSeconds", grace}});
      return;
    }
    if (lp.pid > 0) {
      if (now >= lp.killAt) {
        ::kill(-lp.pid, SIGKILL);
        shoal::log::warn("grace period over, SIGKILL", {{"pod", lp.ns + "/" + lp.name}});
      }
      return;
    }
    lp.terminating = true;
    lp.finished = true;
    kube::DeleteOptions o;
    o.gracePeriodSeconds = 0;
    o.preconditionUid = lp.uid;
    auto r = client_->remove(kube::Resource::pods(), lp.ns, lp.name, o);
    if (!r && !r.error().isNotFound() && r.error().code != 409) {
      shoal::log::warn("final pod delete failed",
                       {{"pod", lp.ns + "/" + lp.name}, {"error", r.error().describe()}});
    }
  }

  void report(LocalPod& lp, const Json& pod) {
    lp.restartPolicy = strAt(pod, "/spec/restartPolicy"_json_pointer, "Always");
    std::string phase = "Pending";
    if (lp.pid > 0 || (lp.everStarted && !lp.finished)) phase = "Running";
    if (lp.finished) phase = lp.lastExitCode.value_or(1) == 0 ? "Succeeded" : "Failed";
    bool ready = lp.pid > 0 && lp.ready;
    auto cond = [&](const char* type, bool ok) {
      return Json{{"type", type}, {"status", ok ? "True" : "False"}};
    };
    Json state;
    if (lp.pid > 0) {
      state = {{"running", {{"startedAt", rfc3339(lp.startedAt)}}}};
    } else if (lp.everStarted) {
      state = {{"terminated", {{"exitCode", lp.lastExitCode.value_or(0)},
                               {"reason", lp.lastExitCode.value_or(0) == 0 ? "Completed"
                                                                             : "Error"}}}};
      if (!lp.finished) state = {{"waiting", {{"reason", "CrashLoopBackOff"}}}};
    } else {
      std::string reason = lp.waitingReason.empty() ? "ContainerCreating" : lp.waitingReason;
      state = {{"waiting", {{"reason", reason}, {"message", lp.waitingMessage}}}};
    }
    std::string cname = strAt(pod, "/spec/containers/0/name"_json_pointer, "main");
    Json status = {
        {"phase", phase},
        {"hostIP", "127.0.0.1"},
        {"podIP", "127.0.0.1"},
        {"podIPs", {{{"ip", "127.0.0.1"}}}},
        {"conditions",
         {cond("PodScheduled", true), cond("Initialized", true),
          cond("ContainersReady", ready), cond("Ready", ready)}},
        {"containerStatuses",
         {{{"name", cname},
           {"image", lp.image},
           {"imageID", "local://" + worker_},
           {"ready", ready},
           {"started", lp.pid > 0},
           {"restartCount", lp.restarts},
           {"state", state}}}}};
    if (lp.everStarted) status["startTime"] = rfc3339(lp.startedAt);
    if (status == lp.lastReported) return;
    auto r = client_->mergePatch(kube::Resource::pods(), lp.ns, lp.name,
                                 Json{{"status", status}}, "status");
    if (r) {
      lp.lastReported = status;
    } else if (!r.error().isNotFound()) {
      shoal::log::warn("pod status update failed",
                       {{"pod", lp.ns + "/" + lp.name}, {"error", r.error().describe()}});
    }
  }

  std::shared_ptr<kube::Client> client_;
  std::string node_, worker_, root_;
  std::chrono::system_clock::time_point startTime_ = std::chrono::system_clock::now();
  std::map<std::string, LocalPod> locals_;
  std::vector<std::string> restartPolicyCheck_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, nodeName = "shoal-node", workerBinary, rootDir;
  CLI::App app{"shoal-node-agent: a test kubelet that runs Pods as local processes"};
  app.add_option("--kubeconfig", kubeconfig, "Admin kubeconfig")->required();
  app.add_option("--node-name", nodeName, "Name of the Node to register")->capture_default_str();
  app.add_option("--worker-binary", workerBinary,
                 "Local shoal-worker run for images containing 'shoal-worker'")
      ->required();
  app.add_option("--root-dir", rootDir, "Directory for pod working dirs and logs")->required();
  CLI11_PARSE(app, argc, argv);

  ::signal(SIGTERM, onSignal);
  ::signal(SIGINT, onSignal);
  ::signal(SIGPIPE, SIG_IGN);

  auto cfg = kube::loadKubeconfigFile(kubeconfig);
  if (!cfg) {
    std::cerr << "shoal-node-agent: " << cfg.error().message << "\n";
    return 2;
  }
  cfg.value().userAgent = "shoal-node-agent";
  auto client = kube::makeHttpClient(cfg.value());
  if (!client) {
    std::cerr << "shoal-node-agent: " << client.error().message << "\n";
    return 2;
  }
  std::error_code ec;
  fs::create_directories(rootDir, ec);
  NodeAgent agent(client.value(), nodeName, fs::absolute(workerBinary).string(),
                  fs::absolute(rootDir).string());
  while (!agent.registerNode()) {
    if (gStop) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  shoal::log::info("node registered", {{"node", nodeName}});

  PodView view;
  kube::WatcherOptions wo;
  wo.resource = kube::Resource::pods();
  wo.fieldSelector = "spec.nodeName=" + nodeName;
  wo.watchTimeoutSeconds = 60;
  kube::Watcher watcher(*client.value(), shoal::SystemClock::instance(), wo, view);
  std::jthread watchThread([&](std::stop_token st) { watcher.run(st); });

  auto nextBeat = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!gStop) {
    agent.reconcile(view.snapshot());
    if (std::chrono::steady_clock::now() >= nextBeat) {
      agent.heartbeat(false);
      nextBeat = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  watchThread.request_stop();
  agent.shutdown();
  return 0;
}
