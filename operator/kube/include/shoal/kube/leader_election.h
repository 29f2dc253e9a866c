// Leader election on a coordination.k8s.io/v1 Lease, the client-go protocol:
// holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions.
//
// Invariants
// - Expiry is judged on OUR monotonic clock (the injected Clock), never by
//   comparing the lease's renewTime with our wall clock: we remember when we
//   last saw the lease record change, and consider it expired once
//   leaseDuration has passed on our clock without a change.
// - All writes are optimistic (update with the resourceVersion we read), so
//   two candidates can never both win the same term: one gets 409.
// - The leader renews every retryPeriod; if it has not renewed successfully
//   for renewDeadline (< leaseDuration) it steps down and calls onStoppedLeading
//   before anyone else can consider the lease expired.
// - release() (on shutdown) empties holderIdentity so a successor takes over
//   at once instead of after leaseDuration.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "shoal/common/clock.h"
#include "shoal/kube/client.h"

namespace shoal::kube {

struct LeaderElectionConfig {
  std::string ns = "default";
  std::string name;      // the Lease's name
  std::string identity;  // unique per process (e.g. pod name + random suffix)
  Duration leaseDuration = seconds(15);
  Duration renewDeadline = seconds(10);
  Duration retryPeriod = seconds(2);
};

struct LeaderCallbacks {
  std::function<void()> onStartedLeading;
  std::function<void()> onStoppedLeading;                        // leadership lost or released
  std::function<void(const std::string& identity)> onNewLeader;  // observed holder changed
};

/// \brief Lease-based elector. run() on one thread; accessors thread-safe.
class LeaderElector {
 public:
  LeaderElector(Client& client, Clock& clock, LeaderElectionConfig cfg, LeaderCallbacks cb = {});

  /// One attempt to acquire (if free or expired) or renew (if ours).
  /// Returns whether we hold the lease afterwards. Does not call callbacks
  /// about leading; run() does.
  bool tryAcquireOrRenew();
  /// Blocks: acquires (retrying every retryPeriod), calls onStartedLeading,
  /// renews every retryPeriod until the renew deadline is missed or stop
  /// fires, then calls onStoppedLeading (after releasing the lease if stop
  /// fired while leading). Returns true if it stopped because of `stop`.
  bool run(std::stop_token stop);
  /// Gives the lease up if we hold it (holderIdentity "" and a 1 s duration).
  ApiResult<void> release();

  bool isLeader() const { return leader_.load(); }
  /// True while we lead AND our last successful renewal is less than
  /// renewDeadline old on our clock. Controllers check this before acting:
  /// a process that was paused (SIGSTOP, a stalled node) past its lease wakes
  /// up still believing it leads until run() notices; this says no at once,
  /// so it cannot scale what its successor already scaled.
  bool leadingNow() const;
  std::string observedHolder() const;
  const LeaderElectionConfig& config() const { return cfg_; }

 private:
  Json buildSpec(const Json* old, bool acquiring) const;
  bool sleepInterruptibleOn(const std::stop_token& stop, Duration d);
  void observe(const Json& lease);

  Client& client_;
  Clock& clock_;
  LeaderElectionConfig cfg_;
  LeaderCallbacks cb_;
  std::atomic<bool> leader_{false};
  mutable std::mutex mu_;
  std::string observedHolder_;
  std::string observedRecord_;   // serialized spec we last saw
  MonoTime observedAt_{};        // our clock when observedRecord_ last changed
  bool observedAny_ = false;
  std::optional<MonoTime> lastRenew_;  // our clock at the last successful write as leader (mu_)
};

/// RFC 3339 with microseconds ("2024-01-02T03:04:05.000000Z"), the MicroTime format.
std::string formatMicroTime(WallTime t);
/// RFC 3339 seconds ("2024-01-02T03:04:05Z"), the metav1.Time format.
std::string formatTime(WallTime t);

}  // namespace shoal::kube
