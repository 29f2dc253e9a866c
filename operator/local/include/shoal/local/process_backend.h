// Local mode's WorkloadBackend: a WorkerPool's workers are `shoal-worker`
// processes on this machine instead of a Deployment's pods.
//
// Design note
// - Each worker gets the rendered config (written once per config hash into
//   the work directory), `--listen 127.0.0.1:<free port>`, the pool
//   template's plain env values, the Pipeline's Secret-backed env and a
//   consumer name `<pool>-<slot>`. The slot is the lowest one no live process
//   holds, so a crashed worker's replacement takes over its name and re-reads
//   its pending entries at once, and two live processes never share a name.
// - Convergence is a pure plan (planConvergence): start what is missing on
//   the current config hash; stop the newest surplus workers; keep workers of
//   an old hash only while the new ones are not ready yet (a surge rollout).
// - Stopping is SIGTERM (the worker stops reading, finishes, acknowledges and
//   exits with nothing pending), then SIGKILL once the pool's
//   terminationGracePeriodSeconds passed.
// - A worker that exits without being asked is a crash: it is replaced after
//   an exponential delay (RestartBackoff), reset once a worker started after
//   the last crash has stayed up for a while.
// - The OS side (fork/exec, signals, waitpid, GET /readyz) sits behind
//   ProcessRunner, so the logic runs on a fake and a ManualClock in tests.
// Thread-safe: every public method locks; readiness probes run unlocked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/controllers/interfaces.h"
#include "shoal/controllers/render.h"

namespace shoal::local {

/// What it takes to start one worker process.
struct WorkerLaunch {
  std::string binary;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // added to (and overriding) the parent's
  std::string logPath;                     // stdout and stderr go here
};

/// \brief The operating-system side of the backend. Not thread-safe; the
/// backend serializes calls (ready() may run concurrently with the others).
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual Result<pid_t> spawn(const WorkerLaunch& launch) = 0;
  virtual void signal(pid_t pid, int sig) = 0;
  /// nullopt while running; the waitpid status once it exited (reaped).
  virtual std::optional<int> poll(pid_t pid) = 0;
  /// Whether GET http://127.0.0.1:<port>/readyz answers 200.
  virtual bool ready(int port) = 0;
  /// A loopback port that was free a moment ago.
  virtual int freePort() = 0;
};

/// Real processes: fork/exec in their own process group (a Ctrl-C in the
/// terminal reaches shoal-local only, which then drains them), with
/// PR_SET_PDEATHSIG so they never outlive shoal-local.
std::unique_ptr<ProcessRunner> makeOsProcessRunner();

/// One worker process as the backend tracks it.
struct WorkerProcess {
  int64_t id = 0;   // start order within the pool: larger is newer
  int32_t slot = 0;
  pid_t pid = -1;
  int port = 0;
  std::string consumerName;
  std::string configHash;
  std::string logPath;
  MonoTime startedAt{};
  bool ready = false;
  bool stopping = false;
  MonoTime killAt{};  // SIGKILL after this when stopping
  bool killed = false;
};

/// What convergence must do now.
struct ConvergencePlan {
  int32_t start = 0;          // new workers on the current hash
  std::vector<int64_t> stop;  // worker ids to SIGTERM
};

/// Pure: the plan that brings `workers` to `desired` workers on `hash`.
/// Workers already stopping count for nothing. Surplus current workers: the
/// newest stop first. Old-hash workers stay only while current ready workers
/// fall short of `desired`; the newest of them stop first.
ConvergencePlan planConvergence(const std::vector<WorkerProcess>& workers, int32_t desired,
                                const std::string& hash);

/// The lowest slot no worker in `workers` holds.
int32_t lowestFreeSlot(const std::vector<WorkerProcess>& workers);

/// \brief Restart delays for a pool's crashing workers: base * 2^(n-1) after
/// the n-th consecutive crash, capped; the count resets once a worker started
/// after the last crash has run for `resetAfter`. Not thread-safe.
class RestartBackoff {
 public:
  RestartBackoff(Duration base, Duration max, Duration resetAfter)
      : base_(base), max_(max), resetAfter_(resetAfter) {}
  void recordCrash(MonoTime now);
  /// Call with each live worker's start time; resets after a stable run.
  void observeRunning(MonoTime workerStartedAt, MonoTime now);
  bool mayStart(MonoTime now) const { return !notBefore_ || now >= *notBefore_; }
  std::optional<MonoTime> notBefore() const { return notBefore_; }
  int consecutiveCrashes() const { return crashes_; }
  Duration delayAfter(int crashes) const;

 private:
  Duration base_, max_, resetAfter_;
  int crashes_ = 0;
  std::optional<MonoTime> lastCrash_;
  std::optional<MonoTime> notBefore_;
};

/// Fills `env` with the Secret-backed env of a process: each SecretEnv's
/// value, and each SecretFile written (0600, only when its value changed)
/// under <workDir>/secrets/<stem>/<volume>/, its *_FILE variable naming it.
/// Errors name the missing Secret key and the env var that may supply it.
Result<void> resolveSecrets(controllers::ResourceStore& secrets, const std::string& ns, const std::string& workDir,
                            const std::string& stem, const std::vector<controllers::SecretEnv>& secretEnv,
                            const std::vector<controllers::SecretFile>& secretFiles,
                            std::map<std::string, std::string>& env);

struct ProcessBackendOptions {
  std::string workerBinary = "shoal-worker";
  std::string workDir;  // rendered configs and worker logs
  std::string listenHost = "127.0.0.1";
  std::string logLevel = "info";  // the workers' --log-level
  Duration restartBase = std::chrono::seconds(1);
  Duration restartMax = std::chrono::seconds(30);
  Duration restartResetAfter = std::chrono::seconds(10);
};

/// A pool's workers, for the live view and the status file.
struct PoolWorkers {
  std::string key;  // ns/name
  int32_t desired = 0;
  std::string configHash;
  std::vector<WorkerProcess> workers;
  int64_t restarts = 0;  // crashes replaced so far
  int consecutiveCrashes = 0;
  std::optional<double> restartInSeconds;  // while a restart waits for its backoff
};

class ProcessBackend final : public controllers::WorkloadBackend {
 public:
  /// `secrets` resolves the Pipeline's Secret-backed env; `events` may be null.
  ProcessBackend(ProcessBackendOptions opts, ProcessRunner& runner,
                 controllers::ResourceStore& secrets, controllers::EventSink* events,
                 Clock& clock);
  ~ProcessBackend() override;

  Result<controllers::WorkloadObservation> observe(const api::WorkerPool& pool) override;
  Result<controllers::WorkloadObservation> ensure(const controllers::WorkloadIntent& intent,
                                                  bool* changed) override;

  /// Reaps exited workers (crashes are restarted after their backoff),
  /// refreshes readiness, SIGKILLs workers past their grace period. Call
  /// every few hundred milliseconds.
  void tick();
  /// Stops every worker (SIGTERM, SIGKILL after each pool's grace period)
  /// and waits until all exited. No restarts afterwards.
  void shutdown();
  /// Whether no worker process is left.
  bool idle() const;

  std::vector<PoolWorkers> pools() const;

 private:
  struct Pool {
    std::string key, name, ns, uid;
    int32_t desired = 0;
    std::string configHash;
    std::string configPath;
    std::map<std::string, std::string> env;
    Duration grace = std::chrono::seconds(30);
    std::vector<WorkerProcess> workers;
    RestartBackoff backoff;
    int64_t nextId = 1;
    int64_t restarts = 0;
    std::string lastError;
    explicit Pool(RestartBackoff b) : backoff(b) {}
  };

  Result<void> converge(Pool& p, bool* changed);
  Result<void> startWorker(Pool& p);
  void reap(Pool& p);
  controllers::WorkloadObservation observationOf(const Pool& p) const;
  Result<std::map<std::string, std::string>> envFor(const controllers::WorkloadIntent& intent);
  void event(const Pool& p, const std::string& type, const std::string& reason,
             const std::string& message);

  ProcessBackendOptions opts_;
  ProcessRunner& runner_;
  controllers::ResourceStore& secrets_;
  controllers::EventSink* events_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;
  bool shuttingDown_ = false;
};

}  // namespace shoal::local
