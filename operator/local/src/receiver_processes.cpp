// Local mode's Receivers (see receiver_processes.h).
#include "shoal/local/receiver_processes.h"

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "shoal/common/log.h"
#include "shoal/controllers/receiver_render.h"
#include "shoal/local/file_store.h"

namespace shoal::local {

using nlohmann::json;

// ---------------------------------------------------------------- store

LocalReceiverStore::LocalReceiverStore(std::map<std::string, json> receivers, controllers::ResourceStore& secrets)
    : receivers_(std::move(receivers)), secrets_(secrets) {}

Result<std::optional<json>> LocalReceiverStore::getReceiver(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = receivers_.find(ns + "/" + name);
  if (it == receivers_.end()) return std::optional<json>();
  return std::optional<json>(it->second);
}

Result<std::optional<std::string>> LocalReceiverStore::getSecretValue(const std::string& ns,
                                                                      const api::SecretKeyRef& ref) {
  return secrets_.getSecretValue(ns, ref);
}

Result<void> LocalReceiverStore::writeReceiverStatus(const api::Receiver& r, const json& status) {
  std::lock_guard lock(mu_);
  auto it = receivers_.find(r.metadata.namespace_ + "/" + r.metadata.name);
  if (it != receivers_.end()) it->second["status"] = status;
  return {};
}

std::vector<std::pair<std::string, std::string>> LocalReceiverStore::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, obj] : receivers_)
    out.emplace_back(key.substr(0, key.find('/')), key.substr(key.find('/') + 1));
  return out;
}

json LocalReceiverStore::snapshot() const {
  std::lock_guard lock(mu_);
  json out = json::array();
  for (const auto& [key, obj] : receivers_) out.push_back(obj);
  return out;
}

// ---------------------------------------------------------------- backend

ReceiverProcessBackend::ReceiverProcessBackend(ReceiverProcessOptions opts, ProcessRunner& runner,
                                               controllers::ResourceStore& secrets, controllers::EventSink* events,
                                               Clock& clock)
    : opts_(std::move(opts)), runner_(runner), secrets_(secrets), events_(events), clock_(clock) {}

void ReceiverProcessBackend::event(const Proc& p, const std::string& type, const std::string& reason,
                                   const std::string& message) {
  if (events_ != nullptr) events_->record({api::kReceiverKind, p.ns, p.name, p.uid}, type, reason, message);
}

Result<controllers::WorkloadObservation> ReceiverProcessBackend::ensure(const controllers::ReceiverIntent& intent,
                                                                        bool* changed) {
  const api::Receiver& r = *intent.receiver;
  const std::string key = r.metadata.namespace_ + "/" + r.metadata.name;
  const std::string stem = api::fitName(r.metadata.namespace_ + "_" + r.metadata.name + "-receiver", 128);
  *changed = false;
  std::map<std::string, std::string> env;
  if (auto s = resolveSecrets(secrets_, r.metadata.namespace_, opts_.workDir, stem,
                              controllers::receiverSecretEnv(r), controllers::receiverSecretFiles(r), env);
      !s.ok())
    return s.error();
  const std::string configPath = opts_.workDir + "/" + stem + "-" + intent.configHash + ".yaml";
  if (!std::filesystem::exists(configPath)) {
    if (auto w = writeFileAtomically(configPath, intent.config); !w.ok()) return w.error();
  }

  std::lock_guard lock(mu_);
  auto& slot = procs_[key];
  if (!slot) slot = std::make_unique<Proc>(opts_);
  Proc& p = *slot;
  p.key = key;
  p.ns = r.metadata.namespace_;
  p.name = r.metadata.name;
  p.uid = r.metadata.uid;
  p.wanted = r.spec.replicas > 0;
  p.configHash = intent.configHash;
  p.configPath = configPath;
  p.env = std::move(env);
  p.metricsPort = r.spec.metricsPort;
  p.logPath = opts_.workDir + "/" + stem + ".log";
  if (r.spec.replicas > 1 && !p.warnedReplicas) {
    p.warnedReplicas = true;
    event(p, "Warning", "ReplicasLimited",
          "local mode runs one shoal-receiver per Receiver (its ports cannot be bound twice); spec.replicas is " +
              std::to_string(r.spec.replicas));
  }
  const pid_t before = p.pid;
  const bool stoppingBefore = p.stopping;
  converge(p);
  *changed = p.pid != before || p.stopping != stoppingBefore;

  controllers::WorkloadObservation o;
  o.exists = true;
  o.specReplicas = p.wanted ? 1 : 0;
  const bool running = p.pid > 0;
  o.replicas = running ? 1 : 0;
  o.readyReplicas = running && p.ready && !p.stopping ? 1 : 0;
  o.updatedReplicas = running && p.runningHash == p.configHash ? 1 : 0;
  o.rolloutComplete = !running || p.runningHash == p.configHash;
  o.configHash = p.runningHash;
  o.replicaLimit = 1;
  o.replicaLimitReason = "local mode runs one shoal-receiver per Receiver";
  return o;
}

void ReceiverProcessBackend::converge(Proc& p) {
  const MonoTime now = clock_.now();
  const bool wanted = p.wanted && !shuttingDown_;
  if (p.pid > 0) {
    if (!p.stopping && (!wanted || p.runningHash != p.configHash)) {
      runner_.signal(p.pid, SIGTERM);
      p.stopping = true;
      p.killAt = now + opts_.grace;
    }
    return;  // a replacement starts once this one exited (the ports)
  }
  if (!wanted || !p.backoff.mayStart(now)) return;
  WorkerLaunch launch;
  launch.binary = opts_.receiverBinary;
  launch.args = {"--config", p.configPath, "--log-level", opts_.logLevel};
  launch.env = p.env;
  launch.logPath = p.logPath;
  auto pid = runner_.spawn(launch);
  if (!pid.ok()) {
    p.backoff.recordCrash(now);
    event(p, "Warning", "ReceiverStartFailed", pid.error().message);
    return;
  }
  p.pid = pid.value();
  p.runningHash = p.configHash;
  p.ready = false;
  p.stopping = false;
  p.killed = false;
  p.startedAt = now;
  log::info("receiver started", {{"receiver", p.key}, {"pid", static_cast<int64_t>(p.pid)}, {"log", p.logPath}});
}

void ReceiverProcessBackend::reap(Proc& p) {
  if (p.pid <= 0) return;
  const MonoTime now = clock_.now();
  if (auto status = runner_.poll(p.pid)) {
    if (!p.stopping && !shuttingDown_) {
      ++p.restarts;
      p.backoff.recordCrash(now);
      event(p, "Warning", "ReceiverCrashed",
            "shoal-receiver exited unasked (status " + std::to_string(*status) + "); see " + p.logPath);
    }
    p.pid = -1;
    p.ready = false;
    p.stopping = false;
    return;
  }
  p.backoff.observeRunning(p.startedAt, now);
  if (p.stopping && !p.killed && now >= p.killAt) {
    runner_.signal(p.pid, SIGKILL);
    p.killed = true;
  }
  // Without a metrics port there is no /readyz: running counts as ready.
  p.ready = p.metricsPort == 0 ? true : runner_.ready(p.metricsPort);
}

void ReceiverProcessBackend::tick() {
  std::lock_guard lock(mu_);
  for (auto& [key, p] : procs_) {
    reap(*p);
    converge(*p);
  }
}

void ReceiverProcessBackend::shutdown() {
  {
    std::lock_guard lock(mu_);
    shuttingDown_ = true;
    for (auto& [key, p] : procs_) converge(*p);
  }
  const MonoTime deadline = clock_.now() + opts_.grace + std::chrono::seconds(5);
  while (!idle() && clock_.now() < deadline) {
    {
      std::lock_guard lock(mu_);
      for (auto& [key, p] : procs_) reap(*p);
    }
    if (idle()) break;
    clock_.sleepFor(std::chrono::milliseconds(50));
  }
}

bool ReceiverProcessBackend::idle() const {
  std::lock_guard lock(mu_);
  for (const auto& [key, p] : procs_)
    if (p->pid > 0) return false;
  return true;
}

json ReceiverProcessBackend::snapshot() const {
  std::lock_guard lock(mu_);
  json out = json::array();
  for (const auto& [key, p] : procs_) {
    out.push_back({{"key", key},
                   {"pid", p->pid > 0 ? json(p->pid) : json(nullptr)},
                   {"ready", p->ready},
                   {"configHash", p->runningHash},
                   {"restarts", p->restarts},
                   {"log", p->logPath}});
  }
  return out;
}

}  // namespace shoal::local
