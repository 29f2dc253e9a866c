// Local mode's Receivers: the Receiver reconciler's seams on this machine.
// LocalReceiverStore holds the Receivers of the resource files with their
// status in memory; ReceiverProcessBackend runs one `shoal-receiver --config
// <rendered file>` process per Receiver instead of a Deployment.
//
// Design note
// - One process per Receiver whatever spec.replicas says (0 stops it): the
//   listeners' ports can be bound only once on one machine. The observation
//   says so (replicaLimit 1), so status.replicas is 1 and Ready is True once
//   that one process is ready, its message naming spec.replicas and the
//   limit; a Warning event (ReplicasLimited, also a log line) says it once.
// - A config change stops the process (SIGTERM, SIGKILL after 30 s) and
//   starts the new one only after the old one exited: both need the ports.
// - A process that exits unasked is a crash, restarted after RestartBackoff.
// - Secrets: the same env and files as on Kubernetes (receiverSecretEnv,
//   receiverSecretFiles), resolved by resolveSecrets.
// Thread-safe: every public method locks.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shoal/controllers/receiver_controller.h"
#include "shoal/local/process_backend.h"

namespace shoal::local {

class LocalReceiverStore final : public controllers::ReceiverStore {
 public:
  /// `receivers` as ResourceSet::receivers holds them; Secrets come from `secrets`.
  LocalReceiverStore(std::map<std::string, nlohmann::json> receivers, controllers::ResourceStore& secrets);
  Result<std::optional<nlohmann::json>> getReceiver(const std::string& ns, const std::string& name) override;
  Result<std::optional<std::string>> getSecretValue(const std::string& ns, const api::SecretKeyRef& ref) override;
  Result<void> writeReceiverStatus(const api::Receiver& receiver, const nlohmann::json& status) override;
  /// (namespace, name) of every Receiver, sorted.
  std::vector<std::pair<std::string, std::string>> keys() const;
  /// The objects with their status.
  nlohmann::json snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> receivers_;
  controllers::ResourceStore& secrets_;
};

struct ReceiverProcessOptions {
  std::string receiverBinary = "shoal-receiver";
  std::string workDir;  // rendered configs, secrets and logs
  std::string logLevel = "info";
  Duration grace = std::chrono::seconds(30);  // SIGTERM to SIGKILL
  Duration restartBase = std::chrono::seconds(1);
  Duration restartMax = std::chrono::seconds(30);
  Duration restartResetAfter = std::chrono::seconds(10);
};

class ReceiverProcessBackend final : public controllers::ReceiverBackend {
 public:
  /// `secrets` resolves the Secret-backed env; `events` may be null.
  ReceiverProcessBackend(ReceiverProcessOptions opts, ProcessRunner& runner, controllers::ResourceStore& secrets,
                         controllers::EventSink* events, Clock& clock);
  Result<controllers::WorkloadObservation> ensure(const controllers::ReceiverIntent& intent, bool* changed) override;
  /// Reaps exited processes (crashes restart after their backoff), refreshes
  /// readiness (GET /readyz on metricsPort), SIGKILLs past the grace period.
  void tick();
  /// Stops every receiver and waits (at most the grace period and 5 s) until
  /// all exited. No restarts afterwards.
  void shutdown();
  bool idle() const;
  /// Per Receiver: pid, ready, config hash, restarts, log file.
  nlohmann::json snapshot() const;

 private:
  struct Proc {
    std::string key, ns, name, uid;
    bool wanted = false;      // spec.replicas > 0
    std::string configHash;   // what should run
    std::string configPath;
    std::map<std::string, std::string> env;
    int metricsPort = 0;
    pid_t pid = -1;           // -1: none running
    std::string runningHash;
    bool ready = false;
    bool stopping = false;
    MonoTime startedAt{}, killAt{};
    bool killed = false;
    int64_t restarts = 0;
    bool warnedReplicas = false;
    RestartBackoff backoff;
    std::string logPath;
    explicit Proc(const ReceiverProcessOptions& o) : backoff(o.restartBase, o.restartMax, o.restartResetAfter) {}
  };
  void converge(Proc& p);
  void reap(Proc& p);
  void event(const Proc& p, const std::string& type, const std::string& reason, const std::string& message);

  ReceiverProcessOptions opts_;
  ProcessRunner& runner_;
  controllers::ResourceStore& secrets_;
  controllers::EventSink* events_;
  Clock& clock_;
  mutable std::mutex mu_;
  bool shuttingDown_ = false;
  std::map<std::string, std::unique_ptr<Proc>> procs_;
};

}  // namespace shoal::local
