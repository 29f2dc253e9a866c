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
// Operator pods (images containing "shoal-operator", --operator-binary) run
// like a container: in a private mount namespace (unshare + bind mounts of
// their volumes onto the mountPaths, so the service-account token, ca.crt and
// namespace are at /var/run/secrets/kubernetes.io/serviceaccount), as the
// securityContext's user, with KUBERNETES_SERVICE_HOST/PORT naming the API
// server, and its hostname is the pod's (own UTS namespace). Mount namespaces need root
// (CAP_SYS_ADMIN); without them such pods stay waiting with reason RunContainerError and a message
// saying so.
//
// Single reconcile thread (every 200 ms) over a snapshot of the watched Pods;
// the watcher runs on its own thread. Children are in their own process
// groups, so signals reach the whole pod.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <CLI/CLI.hpp>

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
void onSignal(int) {
  gStop = true;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
std::string rfc3339Micro(std::chrono::system_clock::time_point t) {
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  std::string s = rfc3339(t);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us));
  return s.substr(0, s.size() - 1) + frac + "Z";
}

// Writes msg and errno to fd 2 and exits; only async-signal-safe calls (used
// in the forked child).
[[noreturn]] void childFail(const char* msg) {
  int err = errno;
  char num[16];
  int n = 0;
  do {
    num[sizeof num - 1 - n++] = static_cast<char>('0' + err % 10);
    err /= 10;
  } while (err > 0 && n < 15);
  const char* prefix = "shoal-node-agent: ";
  (void)!::write(2, prefix, std::strlen(prefix));
  (void)!::write(2, msg, std::strlen(msg));
  (void)!::write(2, " (errno ", 8);
  (void)!::write(2, num + sizeof num - n, n);
  (void)!::write(2, ")\n", 2);
  _exit(126);
}

// "/proc/self/fd/<fd>" into out (32 bytes); async-signal-safe.
void procFdPath(int fd, char* out) {
  const char* prefix = "/proc/self/fd/";
  size_t n = std::strlen(prefix);
  std::memcpy(out, prefix, n);
  char digits[12];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0 && d < 11);
  while (d > 0) out[n++] = digits[--d];
  out[n] = '\0';
}

// Whether this process may create a private mount namespace (root, or
// CAP_SYS_ADMIN): tried once in a child at startup.
bool mountNamespacesAvailable() {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) _exit(1);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(2);
    _exit(0);
  }
  if (pid < 0) return false;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// "https://host:port" -> host and port ("" / 0 when it does not parse).
std::pair<std::string, int> hostPortOf(const std::string& server) {
  std::string rest = server;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  if (auto p = rest.find('/'); p != std::string::npos) rest = rest.substr(0, p);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return {rest, 443};
  std::string host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    return {host, std::stoi(rest.substr(colon + 1))};
  } catch (const std::exception&) {
    return {host, 0};
  }
}

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, closed).
int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
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
  std::string ns, name, uid, dir, image, binary;
  std::string readinessPath;  // "" = ready while running
  int readinessPort = 0;
  pid_t pid = -1;  // -1: not running
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
  bool finished = false;  // restartPolicy says stay down
  std::string restartPolicy = "Always";
  Json lastReported;
};

class NodeAgent {
 public:
  struct Settings {
    std::string node, workerBinary, operatorBinary, rootDir;
    std::string apiServerHost;
    int apiServerPort = 0;
    bool mountNamespaces = false;
  };
  NodeAgent(std::shared_ptr<kube::Client> client, Settings s)
      : client_(std::move(client)),
        node_(s.node),
        worker_(s.workerBinary),
        operator_(s.operatorBinary),
        root_(s.rootDir),
        apiServerHost_(s.apiServerHost),
        apiServerPort_(s.apiServerPort),
        mountNamespaces_(s.mountNamespaces) {}

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
      Json cap = {
          {"cpu", "64"}, {"memory", "256Gi"}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}};
      status["capacity"] = cap;
      status["allocatable"] = cap;
      status["addresses"] = Json::array({{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
                                         {{"type", "Hostname"}, {"address", node_}}});
      status["nodeInfo"] = {{"kubeletVersion", "v1.32.0-shoal"},
                            {"operatingSystem", "linux"},
                            {"architecture", "amd64"},
                            {"containerRuntimeVersion", "shoal-node-agent://0"},
                            {"machineID", ""},
                            {"systemUUID", ""},
                            {"bootID", ""},
                            {"kernelVersion", ""},
                            {"osImage", "local processes"},
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
    Json spec = {
        {"holderIdentity", node_}, {"leaseDurationSeconds", 40}, {"renewTime", rfc3339Micro(now)}};
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
    auto r = client_->get(
        kind == "Secret" ? kube::Resource::secrets() : kube::Resource::configMaps(), ns, name);
    if (!r) return std::nullopt;
    return r.value();
  }

  // TokenRequest for the pod's ServiceAccount, bound to the pod (what the
  // kubelet does for a serviceAccountToken projection).
  shoal::e2e::IssuedToken requestToken(const shoal::e2e::TokenRequestSpec& req) {
    if (req.serviceAccount.empty() || req.serviceAccount.find('/') != std::string::npos) {
      return {"", "invalid serviceAccountName '" + req.serviceAccount + "'"};
    }
    // POST .../serviceaccounts/<name>/token: the client has no create on a
    // subresource, so the subresource rides in the plural.
    kube::Resource tokenRequests{"", "v1", "serviceaccounts/" + req.serviceAccount + "/token", true,
                                 "TokenRequest"};
    Json spec = {
        {"expirationSeconds", std::max<int64_t>(req.expirationSeconds, 600)},
        {"boundObjectRef",
         {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", req.podName}, {"uid", req.podUid}}}};
    if (!req.audience.empty()) spec["audiences"] = Json::array({req.audience});
    Json body = {
        {"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}};
    auto r = client_->create(tokenRequests, req.ns, body);
    if (!r) return {"", r.error().describe()};
    std::string token = strAt(r.value(), "/status/token"_json_pointer);
    if (token.empty()) return {"", "TokenRequest answered without status.token"};
    return {token, ""};
  }

  void start(LocalPod& lp, const Json& pod) {
    shoal::e2e::LaunchSettings s{worker_, lp.dir, lp.port, node_};
    s.operatorBinary = operator_;
    s.apiServerHost = apiServerHost_;
    s.apiServerPort = apiServerPort_;
    s.allocatePort = [] { return freeLoopbackPort(); };
    auto planned = shoal::e2e::planLaunch(
        pod,
        [this](const std::string& k, const std::string& n, const std::string& name) {
          return lookup(k, n, name);
        },
        s, [this](const shoal::e2e::TokenRequestSpec& req) { return requestToken(req); });
    lp.image = strAt(pod, "/spec/containers/0/image"_json_pointer);
    if (auto* f = std::get_if<shoal::e2e::LaunchFailure>(&planned)) {
      lp.waitingReason = f->reason;
      lp.waitingMessage = f->message;
      lp.nextStart = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      return;
    }
    auto& plan = std::get<shoal::e2e::LaunchPlan>(planned);
    if (plan.privateMountNamespace && !mountNamespaces_) {
      lp.waitingReason = "RunContainerError";
      lp.waitingMessage =
          "mount namespaces are unavailable (the agent needs root / CAP_SYS_ADMIN to mount "
          "the pod's volumes at their mountPaths)";
      lp.nextStart = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      return;
    }
    std::error_code ec;
    fs::create_directories(lp.dir, ec);
    // Modes are set explicitly (not left to the umask): a pod running as
    // another user must be able to read its token.
    for (const auto& d : plan.directories) {
      fs::create_directories(d, ec);
      fs::permissions(d, static_cast<fs::perms>(0755), ec);
    }
    for (const auto& d : plan.writableDirectories) {
      fs::create_directories(d, ec);
      fs::permissions(d, fs::perms::all, ec);  // emptyDir is 0777 like the kubelet's
    }
    for (const auto& f : plan.files) {
      fs::create_directories(fs::path(f.path).parent_path(), ec);
      std::ofstream(f.path, std::ios::binary | std::ios::trunc) << f.content;
      fs::permissions(f.path, static_cast<fs::perms>(f.mode), ec);
    }
    // Mount points are created on the host when missing. In the child, every
    // source is opened (O_PATH, inside the new namespace: a bind from another
    // namespace's mount is refused) before the first mount, so mounting one
    // target cannot hide another's source (an emptyDir on /tmp over a pod dir
    // below /tmp).
    std::vector<std::string> sources, targets;
    std::vector<bool> readOnly;
    for (const auto& m : plan.bindMounts) {
      sources.push_back(m.source);
      targets.push_back(m.target);
      readOnly.push_back(m.readOnly);
      if (fs::is_directory(m.source, ec)) {
        fs::create_directories(m.target, ec);
      } else if (!fs::exists(m.target, ec)) {
        fs::create_directories(fs::path(m.target).parent_path(), ec);
        std::ofstream(m.target, std::ios::app);
      }
    }
    std::vector<gid_t> groups;
    for (int64_t g : plan.identity.supplementalGroups) groups.push_back(static_cast<gid_t>(g));
    const bool privateMounts = plan.privateMountNamespace;
    const std::string hostname = plan.hostname;
    const std::optional<int64_t> runUid = plan.identity.uid, runGid = plan.identity.gid;
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
      if (::chdir(lp.dir.c_str()) != 0) childFail("chdir to the pod directory failed");
      // The program is opened before any volume is mounted: an emptyDir on
      // /tmp would otherwise hide a binary built below /tmp (a clone there).
      const int exeFd = ::open(argv[0], O_PATH | O_CLOEXEC);
      if (exeFd < 0) childFail("opening the program failed");
      if (privateMounts) {
        if (::unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) childFail("unshare failed");
        if (!hostname.empty() && ::sethostname(hostname.data(), hostname.size()) != 0) {
          childFail("sethostname failed");
        }
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
          childFail("making / private failed");
        }
        int sourceFds[64];
        char fdPaths[64][32];
        if (targets.size() > 64) childFail("more than 64 volume mounts");
        for (size_t i = 0; i < targets.size(); ++i) {
          sourceFds[i] = ::open(sources[i].c_str(), O_PATH | O_CLOEXEC);
          if (sourceFds[i] < 0) childFail("opening a volume directory failed");
          procFdPath(sourceFds[i], fdPaths[i]);
        }
        for (size_t i = 0; i < targets.size(); ++i) {
          if (::mount(fdPaths[i], targets[i].c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
            childFail("bind mount of a volume failed");
          }
          if (readOnly[i] && ::mount(nullptr, targets[i].c_str(), nullptr,
                                     MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
            childFail("read-only remount of a volume failed");
          }
        }
        if (!groups.empty() && ::setgroups(groups.size(), groups.data()) != 0) {
          childFail("setgroups failed");
        }
        if (runGid && ::setgid(static_cast<gid_t>(*runGid)) != 0) childFail("setgid failed");
        if (runUid && ::setuid(static_cast<uid_t>(*runUid)) != 0) childFail("setuid failed");
      }
      ::syscall(SYS_execveat, exeFd, "", argv.data(), envp.data(), AT_EMPTY_PATH);
      childFail("execve failed");
    }
    if (pid < 0) {
      lp.waitingReason = "StartError";
      lp.waitingMessage = std::strerror(errno);
      lp.nextStart = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      return;
    }
    ::setpgid(pid, pid);
    lp.pid = pid;
    lp.binary = plan.argv[0];
    lp.readinessPath = plan.readinessPath;
    lp.readinessPort = plan.readinessPort;
    lp.ready = false;
    lp.everStarted = true;
    lp.waitingReason.clear();
    lp.startedAt = std::chrono::system_clock::now();
    lp.nextProbe = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    shoal::log::info("started pod process",
                     {{"pod", lp.ns + "/" + lp.name},
                      {"pid", pid},
                      {"port", lp.port},
                      {"privateMounts", privateMounts},
                      {"readiness", plan.readinessPath.empty()
                                        ? std::string("running")
                                        : std::to_string(plan.readinessPort) + plan.readinessPath},
                      {"log", logPath}});
  }

  bool probe(const LocalPod& lp) {
    if (lp.readinessPath.empty()) return true;
    httplib::Client cli("127.0.0.1", lp.readinessPort);
    cli.set_connection_timeout(0, 300000);
    cli.set_read_timeout(1, 0);
    auto res = cli.Get(lp.readinessPath);
    return res && res->status >= 200 && res->status < 400;  // the kubelet's success range
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
      shoal::log::info("SIGTERM sent",
                       {{"pod", lp.ns + "/" + lp.name}, {"pid", lp.pid}, {"graceSeconds", grace}});
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
      state = {{"terminated",
                {{"exitCode", lp.lastExitCode.value_or(0)},
                 {"reason", lp.lastExitCode.value_or(0) == 0 ? "Completed" : "Error"}}}};
      if (!lp.finished) state = {{"waiting", {{"reason", "CrashLoopBackOff"}}}};
    } else {
      std::string reason = lp.waitingReason.empty() ? "ContainerCreating" : lp.waitingReason;
      state = {{"waiting", {{"reason", reason}, {"message", lp.waitingMessage}}}};
    }
    std::string cname = strAt(pod, "/spec/containers/0/name"_json_pointer, "main");
    Json status = {{"phase", phase},
                   {"hostIP", "127.0.0.1"},
                   {"podIP", "127.0.0.1"},
                   {"podIPs", {{{"ip", "127.0.0.1"}}}},
                   {"conditions",
                    {cond("PodScheduled", true), cond("Initialized", true),
                     cond("ContainersReady", ready), cond("Ready", ready)}},
                   {"containerStatuses",
                    {{{"name", cname},
                      {"image", lp.image},
                      {"imageID", "local://" + lp.binary},
                      {"ready", ready},
                      {"started", lp.pid > 0},
                      {"restartCount", lp.restarts},
                      {"state", state}}}}};
    if (lp.everStarted) status["startTime"] = rfc3339(lp.startedAt);
    if (status == lp.lastReported) return;
    auto r = client_->mergePatch(kube::Resource::pods(), lp.ns, lp.name, Json{{"status", status}},
                                 "status");
    if (r) {
      lp.lastReported = status;
    } else if (!r.error().isNotFound()) {
      shoal::log::warn("pod status update failed",
                       {{"pod", lp.ns + "/" + lp.name}, {"error", r.error().describe()}});
    }
  }

  std::shared_ptr<kube::Client> client_;
  std::string node_, worker_, operator_, root_;
  std::string apiServerHost_;
  int apiServerPort_ = 0;
  bool mountNamespaces_ = false;
  std::chrono::system_clock::time_point startTime_ = std::chrono::system_clock::now();
  std::map<std::string, LocalPod> locals_;
  std::vector<std::string> restartPolicyCheck_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, nodeName = "shoal-node", workerBinary, operatorBinary, rootDir;
  std::string apiServerHost;
  int apiServerPort = 0;
  CLI::App app{"shoal-node-agent: a test kubelet that runs Pods as local processes"};
  app.add_option("--kubeconfig", kubeconfig, "Admin kubeconfig")->required();
  app.add_option("--node-name", nodeName, "Name of the Node to register")->capture_default_str();
  app.add_option("--worker-binary", workerBinary,
                 "Local shoal-worker run for images containing 'shoal-worker'")
      ->required();
  app.add_option("--operator-binary", operatorBinary,
                 "Local shoal-operator run for images containing 'shoal-operator' (in a private "
                 "mount namespace; needs root)");
  app.add_option("--apiserver-host", apiServerHost,
                 "KUBERNETES_SERVICE_HOST given to pods (default: the kubeconfig server's host)");
  app.add_option("--apiserver-port", apiServerPort,
                 "KUBERNETES_SERVICE_PORT given to pods (default: the kubeconfig server's port)");
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
  NodeAgent::Settings settings;
  settings.node = nodeName;
  settings.workerBinary = fs::absolute(workerBinary).string();
  if (!operatorBinary.empty()) settings.operatorBinary = fs::absolute(operatorBinary).string();
  settings.rootDir = fs::absolute(rootDir).string();
  auto [serverHost, serverPort] = hostPortOf(cfg.value().server);
  settings.apiServerHost = apiServerHost.empty() ? serverHost : apiServerHost;
  settings.apiServerPort = apiServerPort > 0 ? apiServerPort : serverPort;
  settings.mountNamespaces = mountNamespacesAvailable();
  if (!settings.operatorBinary.empty() && !settings.mountNamespaces) {
    shoal::log::warn("mount namespaces unavailable: operator pods will not start",
                     {{"hint", "run the agent as root"}});
  }
  NodeAgent agent(client.value(), settings);
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
