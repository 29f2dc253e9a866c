// The process backend: planning (pure), supervision, and the OS runner.
#include "shoal/local/process_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "shoal/common/log.h"
#include "shoal/controllers/render.h"
#include "shoal/local/file_store.h"

extern char** environ;

namespace shoal::local {

namespace {

// What names a pool's files under workDir (config, secrets directory, worker
// logs). "<namespace>_<name>" as long as it is short, so a 253-character pool
// name (or an unchecked namespace) cannot push a file name past NAME_MAX.
std::string fileStem(const std::string& ns, const std::string& name) {
  constexpr size_t kMaxStem = 128;
  return api::fitName(ns + "_" + name, kMaxStem);
}

std::string describeExit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

class OsProcessRunner final : public ProcessRunner {
 public:
  Result<pid_t> spawn(const WorkerLaunch& launch) override {
    if (::access(launch.binary.c_str(), X_OK) != 0) {
      return makeError(Errc::kNotFound, launch.binary + ": not an executable (" +
                                            std::strerror(errno) + ")");
    }
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::vector<std::string> argvStore;
    argvStore.push_back(launch.binary);
    argvStore.insert(argvStore.end(), launch.args.begin(), launch.args.end());
    std::vector<char*> argv;
    for (auto& a : argvStore) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::map<std::string, std::string> envMap;
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      envMap[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : launch.env) envMap[k] = v;
    std::vector<std::string> envStore;
    for (const auto& [k, v] : envMap) envStore.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : envStore) envp.push_back(e.data());
    envp.push_back(nullptr);

    int logFd = ::open(launch.logPath.empty() ? "/dev/null" : launch.logPath.c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logFd < 0) {
      return makeError(Errc::kIo, launch.logPath + ": cannot open (" + std::strerror(errno) + ")");
    }
    int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      ::close(logFd);
      if (nullFd >= 0) ::close(nullFd);
      return makeError(Errc::kIo, std::string("fork failed: ") + std::strerror(err));
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      ::sigaction(SIGPIPE, &dfl, nullptr);
      if (nullFd >= 0) ::dup2(nullFd, 0);
      ::dup2(logFd, 1);
      ::dup2(logFd, 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(logFd);
    if (nullFd >= 0) ::close(nullFd);
    return pid;
  }

  void signal(pid_t pid, int sig) override {
    if (pid > 0) ::kill(pid, sig);
  }

  std::optional<int> poll(pid_t pid) override {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == 0) return std::nullopt;
    if (r == pid) return status;
    if (r < 0 && errno == EINTR) return std::nullopt;
    return 0;  // not our child any more: gone
  }

  bool ready(int port) override {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(0, 300 * 1000);
    c.set_read_timeout(0, 500 * 1000);
    auto r = c.Get("/readyz");
    return r && r->status == 200;
  }

  int freePort() override {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      socklen_t len = sizeof addr;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
      }
    }
    ::close(fd);
    return port;
  }
};

}  // namespace

std::unique_ptr<ProcessRunner> makeOsProcessRunner() { return std::make_unique<OsProcessRunner>(); }

ConvergencePlan planConvergence(const std::vector<WorkerProcess>& workers, int32_t desired,
                                const std::string& hash) {
  desired = std::max(desired, 0);
  std::vector<const WorkerProcess*> current, stale;
  for (const auto& w : workers) {
    if (w.stopping) continue;
    (w.configHash == hash ? current : stale).push_back(&w);
  }
  auto newestFirst = [](const WorkerProcess* a, const WorkerProcess* b) { return a->id > b->id; };
  std::sort(current.begin(), current.end(), newestFirst);
  std::sort(stale.begin(), stale.end(), newestFirst);

  ConvergencePlan plan;
  const auto have = static_cast<int32_t>(current.size());
  int32_t readyKept = 0;
  for (int32_t i = 0; i < have; ++i) {
    if (i < have - desired) {
      plan.stop.push_back(current[static_cast<size_t>(i)]->id);  // surplus, newest first
    } else if (current[static_cast<size_t>(i)]->ready) {
      ++readyKept;
    }
  }
  plan.start = std::max(0, desired - have);
  const auto keepStale = static_cast<size_t>(std::max(0, desired - readyKept));
  for (size_t i = 0; i + keepStale < stale.size(); ++i) plan.stop.push_back(stale[i]->id);
  return plan;
}

int32_t lowestFreeSlot(const std::vector<WorkerProcess>& workers) {
  int32_t slot = 0;
  while (std::any_of(workers.begin(), workers.end(),
                     [&](const WorkerProcess& w) { return w.slot == slot; })) {
    ++slot;
  }
  return slot;
}

void RestartBackoff::recordCrash(MonoTime now) {
  ++crashes_;
  lastCrash_ = now;
  notBefore_ = now + delayAfter(crashes_);
}

void RestartBackoff::observeRunning(MonoTime workerStartedAt, MonoTime now) {
  if (crashes_ == 0 || !lastCrash_) return;
  if (workerStartedAt >= *lastCrash_ && now - workerStartedAt >= resetAfter_) {
    crashes_ = 0;
    notBefore_.reset();
  }
}

Duration RestartBackoff::delayAfter(int crashes) const {
  if (crashes <= 0) return Duration::zero();
  Duration d = base_;
  for (int i = 1; i < crashes && d < max_; ++i) d *= 2;
  return std::min(d, max_);
}

ProcessBackend::ProcessBackend(ProcessBackendOptions opts, ProcessRunner& runner,
                               controllers::ResourceStore& secrets,
                               controllers::EventSink* events, Clock& clock)
    : opts_(std::move(opts)), runner_(runner), secrets_(secrets), events_(events), clock_(clock) {}

ProcessBackend::~ProcessBackend() { shutdown(); }

void ProcessBackend::event(const Pool& p, const std::string& type, const std::string& reason,
                           const std::string& message) {
  if (events_ != nullptr) {
    events_->record(controllers::EventTarget{api::kWorkerPoolKind, p.ns, p.name, p.uid}, type,
                    reason, message);
  }
}

controllers::WorkloadObservation ProcessBackend::observationOf(const Pool& p) const {
  controllers::WorkloadObservation o;
  o.exists = true;
  o.specReplicas = p.desired;
  o.configHash = p.configHash;
  bool staleLeft = false;
  for (const auto& w : p.workers) {
    if (w.stopping) continue;
    ++o.replicas;
    if (w.ready) ++o.readyReplicas;
    if (w.configHash == p.configHash) {
      ++o.updatedReplicas;
    } else {
      staleLeft = true;
    }
  }
  o.rolloutComplete = !staleLeft;
  return o;
}

Result<void> resolveSecrets(controllers::ResourceStore& secrets, const std::string& ns, const std::string& workDir,
                            const std::string& stem, const std::vector<controllers::SecretEnv>& secretEnv,
                            const std::vector<controllers::SecretFile>& secretFiles,
                            std::map<std::string, std::string>& env) {
  auto secretValue = [&](const api::SecretKeyRef& ref) -> Result<std::string> {
    auto v = secrets.getSecretValue(ns, ref);
    if (!v.ok()) return v.error();
    if (!v.value()) {
      return makeError(Errc::kNotFound, "Secret " + ref.name + " has no key " + ref.key +
                                            " (define the Secret in a file, or set " +
                                            secretEnvName(ref.name, ref.key) + ")");
    }
    return *v.value();
  };
  for (const auto& s : secretEnv) {
    auto v = secretValue(s.ref);
    if (!v.ok()) return v.error();
    env[s.name] = v.value();
  }
  // TLS material: what a Secret volume holds on Kubernetes becomes a file of
  // our own (0600, under workDir) and the worker's *_FILE variable names it.
  for (const auto& f : secretFiles) {
    auto v = secretValue(f.ref);
    if (!v.ok()) return v.error();
    const std::string dir = workDir + "/secrets/" + stem + "/" + f.volumeName;
    const std::string path = dir + "/" + f.fileName;
    env[f.envName] = path;
    // ensure() runs every poll: write only when the Secret's value changed.
    {
      std::ifstream in(path, std::ios::binary);
      std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (in.is_open() && current == v.value()) continue;
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return makeError(Errc::kIo, "creating " + dir + ": " + ec.message());
    std::filesystem::permissions(workDir + "/secrets", std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    if (auto w = writeFileAtomically(path, v.value()); !w.ok()) return w.error();
    std::filesystem::permissions(path,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
  }
  return {};
}

Result<controllers::WorkloadObservation> ProcessBackend::observe(const api::WorkerPool& pool) {
  std::lock_guard lock(mu_);
  auto it = pools_.find(pool.metadata.namespace_ + "/" + pool.metadata.name);
  if (it == pools_.end()) return controllers::WorkloadObservation{};
  return observationOf(*it->second);
}

Result<std::map<std::string, std::string>> ProcessBackend::envFor(
    const controllers::WorkloadIntent& intent) {
  std::map<std::string, std::string> env;
  const nlohmann::json& tmplEnv = intent.pool->spec.template_.env;
  if (tmplEnv.is_array()) {
    for (const auto& e : tmplEnv) {
      const std::string name = api::stringAt(e, "name");
      if (!name.empty() && e.contains("value") && e["value"].is_string()) {
        env[name] = e["value"].get<std::string>();
      }
    }
  }
  if (auto r = resolveSecrets(secrets_, intent.pipeline->metadata.namespace_, opts_.workDir,
                              fileStem(intent.pool->metadata.namespace_, intent.pool->metadata.name),
                              controllers::workerSecretEnv(*intent.pipeline),
                              controllers::workerSecretFiles(*intent.pipeline), env);
      !r.ok())
    return r.error();
  return env;
}

Result<controllers::WorkloadObservation> ProcessBackend::ensure(
    const controllers::WorkloadIntent& intent, bool* changed) {
  if (changed) *changed = false;
  const api::WorkerPool& pool = *intent.pool;
  const std::string key = pool.metadata.namespace_ + "/" + pool.metadata.name;
  auto env = envFor(intent);  // outside our lock: it reads the store

  std::lock_guard lock(mu_);
  auto& slot = pools_[key];
  if (!slot) {
    slot = std::make_unique<Pool>(
        RestartBackoff(opts_.restartBase, opts_.restartMax, opts_.restartResetAfter));
    slot->key = key;
    slot->name = pool.metadata.name;
    slot->ns = pool.metadata.namespace_;
    if (changed) *changed = true;
  }
  Pool& p = *slot;
  p.uid = pool.metadata.uid;
  p.grace = std::chrono::seconds(std::max<int64_t>(pool.spec.terminationGracePeriodSeconds, 1));
  if (!env.ok()) {
    p.lastError = env.error().message;
    return env.error();
  }
  p.env = std::move(env.value());
  if (p.desired != intent.replicas && changed) *changed = true;
  p.desired = intent.replicas;
  if (p.configHash != intent.configHash) {
    const std::string path =
        opts_.workDir + "/" + fileStem(p.ns, p.name) + "-" + intent.configHash + ".yaml";
    if (auto w = writeFileAtomically(path, intent.config); !w.ok()) {
      p.lastError = w.error().message;
      return w.error();
    }
    if (!p.configHash.empty()) {
      log::info("worker config changed: rolling the workers",
                {{"pool", key}, {"from", p.configHash}, {"to", intent.configHash}});
    }
    p.configHash = intent.configHash;
    p.configPath = path;
    if (changed) *changed = true;
  }
  bool did = false;
  auto r = converge(p, &did);
  if (did && changed) *changed = true;
  if (!r.ok()) return r.error();
  return observationOf(p);
}

Result<void> ProcessBackend::startWorker(Pool& p) {
  WorkerProcess w;
  w.id = p.nextId++;
  w.slot = lowestFreeSlot(p.workers);
  w.port = runner_.freePort();
  if (w.port <= 0) return makeError(Errc::kIo, "no free loopback port for a worker");
  w.consumerName = p.name + "-" + std::to_string(w.slot);
  w.configHash = p.configHash;
  w.logPath = opts_.workDir + "/" + fileStem(p.ns, p.name) + "-" + std::to_string(w.slot) + ".log";
  WorkerLaunch launch;
  launch.binary = opts_.workerBinary;
  launch.args = {"--config", p.configPath, "--listen",
                 opts_.listenHost + ":" + std::to_string(w.port), "--log-level", opts_.logLevel};
  launch.env = p.env;
  launch.env["SHOAL_CONSUMER_NAME"] = w.consumerName;
  launch.logPath = w.logPath;
  auto pid = runner_.spawn(launch);
  if (!pid.ok()) return pid.error();
  w.pid = pid.value();
  w.startedAt = clock_.now();
  log::info("started worker", {{"pool", p.key},
                               {"consumer", w.consumerName},
                               {"pid", w.pid},
                               {"port", w.port},
                               {"log", w.logPath}});
  p.workers.push_back(std::move(w));
  return {};
}

Result<void> ProcessBackend::converge(Pool& p, bool* changed) {
  const MonoTime now = clock_.now();
  const int32_t desired = shuttingDown_ ? 0 : p.desired;
  ConvergencePlan plan = planConvergence(p.workers, desired, p.configHash);
  for (int64_t id : plan.stop) {
    auto it = std::find_if(p.workers.begin(), p.workers.end(),
                           [&](const WorkerProcess& w) { return w.id == id; });
    if (it == p.workers.end()) continue;
    runner_.signal(it->pid, SIGTERM);
    it->stopping = true;
    it->ready = false;
    it->killAt = now + p.grace;
    if (changed) *changed = true;
    log::info("stopping worker (SIGTERM: drain and exit)",
              {{"pool", p.key}, {"consumer", it->consumerName}, {"pid", it->pid}});
  }
  if (plan.start <= 0 || shuttingDown_ || p.configPath.empty()) return {};
  if (!p.backoff.mayStart(now)) return {};
  for (int32_t i = 0; i < plan.start; ++i) {
    auto r = startWorker(p);
    if (!r.ok()) {
      p.lastError = r.error().message;
      p.backoff.recordCrash(now);
      event(p, "Warning", "WorkerStartFailed", "Cannot start shoal-worker: " + r.error().message);
      return r;
    }
    if (changed) *changed = true;
  }
  return {};
}

void ProcessBackend::reap(Pool& p) {
  const MonoTime now = clock_.now();
  for (auto it = p.workers.begin(); it != p.workers.end();) {
    auto status = runner_.poll(it->pid);
    if (!status) {
      ++it;
      continue;
    }
    if (!it->stopping) {
      ++p.restarts;
      p.backoff.recordCrash(now);
      const double in = toSeconds(p.backoff.delayAfter(p.backoff.consecutiveCrashes()));
      const std::string msg = "Worker " + it->consumerName + " (pid " + std::to_string(it->pid) +
                              ") exited unexpectedly (" + describeExit(*status) +
                              "); restarting in " + std::to_string(static_cast<int>(in + 0.5)) +
                              " s. Log: " + it->logPath;
      log::warn("worker crashed", {{"pool", p.key}, {"consumer", it->consumerName},
                                   {"pid", it->pid}, {"exit", describeExit(*status)}});
      event(p, "Warning", "WorkerCrashed", msg);
    } else if (it->killed) {
      event(p, "Warning", "WorkerKilled",
            "Worker " + it->consumerName + " did not exit within the grace period; killed.");
    } else {
      log::info("worker stopped", {{"pool", p.key}, {"consumer", it->consumerName},
                                   {"pid", it->pid}, {"exit", describeExit(*status)}});
    }
    it = p.workers.erase(it);
  }
  for (auto& w : p.workers) {
    if (w.stopping && !w.killed && now >= w.killAt) {
      log::warn("worker still running after its grace period: SIGKILL",
                {{"pool", p.key}, {"consumer", w.consumerName}, {"pid", w.pid}});
      runner_.signal(w.pid, SIGKILL);
      w.killed = true;
    }
    if (!w.stopping && w.ready) p.backoff.observeRunning(w.startedAt, now);
  }
}

void ProcessBackend::tick() {
  struct Probe {
    std::string pool;
    int64_t id;
    int port;
    bool ready = false;
  };
  std::vector<Probe> probes;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, p] : pools_) {
      reap(*p);
      for (const auto& w : p->workers) {
        if (!w.stopping) probes.push_back({key, w.id, w.port});
      }
    }
  }
  for (auto& pr : probes) pr.ready = runner_.ready(pr.port);
  std::lock_guard lock(mu_);
  for (const auto& pr : probes) {
    auto it = pools_.find(pr.pool);
    if (it == pools_.end()) continue;
    for (auto& w : it->second->workers) {
      if (w.id == pr.id && !w.stopping) w.ready = pr.ready;
    }
  }
  for (auto& [key, p] : pools_) {
    auto r = converge(*p, nullptr);
    if (!r.ok()) log::warn("cannot converge workers", {{"pool", key}, {"error", r.error().message}});
  }
}

bool ProcessBackend::idle() const {
  std::lock_guard lock(mu_);
  for (const auto& [key, p] : pools_) {
    if (!p->workers.empty()) return false;
  }
  return true;
}

void ProcessBackend::shutdown() {
  Duration longestGrace = std::chrono::seconds(1);
  {
    std::lock_guard lock(mu_);
    shuttingDown_ = true;
    for (auto& [key, p] : pools_) {
      longestGrace = std::max(longestGrace, p->grace);
      (void)converge(*p, nullptr);
    }
  }
  // Workers get their grace period, then SIGKILL (in reap); a little more
  // for the kernel to deliver it.
  const MonoTime deadline = clock_.now() + longestGrace + std::chrono::seconds(5);
  while (!idle() && clock_.now() < deadline) {
    {
      std::lock_guard lock(mu_);
      for (auto& [key, p] : pools_) reap(*p);
    }
    if (idle()) break;
    clock_.sleepFor(std::chrono::milliseconds(50));
  }
}

std::vector<PoolWorkers> ProcessBackend::pools() const {
  std::lock_guard lock(mu_);
  const MonoTime now = clock_.now();
  std::vector<PoolWorkers> out;
  for (const auto& [key, p] : pools_) {
    PoolWorkers v;
    v.key = key;
    v.desired = p->desired;
    v.configHash = p->configHash;
    v.workers = p->workers;
    v.restarts = p->restarts;
    v.consecutiveCrashes = p->backoff.consecutiveCrashes();
    if (auto nb = p->backoff.notBefore(); nb && now < *nb) v.restartInSeconds = toSeconds(*nb - now);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace shoal::local
