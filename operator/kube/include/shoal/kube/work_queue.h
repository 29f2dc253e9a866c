// Work queue of object keys for controllers (client-go's workqueue semantics):
// - dedup: a key queued twice is processed once;
// - never two reconciles of one key at once: a key added while it is being
//   processed is marked dirty and queued again only after done(key);
// - per-key exponential backoff (addRateLimited / forget) and delayed
//   requeue (addAfter), both timed on the injected Clock;
// - shutdown wakes every blocked get().
// Helpers turn informer notifications into keys, including mapping owned
// objects (a Deployment) to the key of their controller owner (a WorkerPool).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/kube/informer.h"

namespace shoal::kube {

/// \brief Deduplicating, per-key serialized, rate-limited queue. Thread-safe.
class WorkQueue {
 public:
  explicit WorkQueue(Clock& clock, Duration baseDelay = millis(5),
                     Duration maxDelay = seconds(300));
  ~WorkQueue();

  /// Queue now (no-op if already queued; deferred if being processed).
  void add(const std::string& key);
  /// Queue once d has passed on the clock (an earlier pending time wins).
  void addAfter(const std::string& key, Duration d);
  /// Queue after this key's next backoff delay: base * 2^failures, capped.
  void addRateLimited(const std::string& key);
  /// Clear the key's failure count (call after a successful reconcile).
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  /// Blocks for the next ready key; nullopt once shut down (or stop fired).
  std::optional<std::string> get(std::stop_token stop = {});
  /// Non-blocking: a ready key (due delayed keys are promoted first) or nullopt.
  std::optional<std::string> tryGet();
  /// Marks processing of key finished; re-queues it if it was added meanwhile.
  void done(const std::string& key);

  void shutdown();
  bool shuttingDown() const;
  /// Keys ready to be handed out.
  size_t len() const;
  /// Keys waiting for their delay.
  size_t delayedLen() const;
  /// Next time a delayed key becomes due, if any.
  std::optional<MonoTime> nextDue() const;

 private:
  void addLocked(const std::string& key);
  void promoteDueLocked();

  Clock& clock_;
  Duration base_, max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_;       // in queue_ (dirty set)
  std::set<std::string> processing_;
  std::set<std::string> dirtyWhileProcessing_;
  std::map<std::string, MonoTime> delayed_;  // key -> due time
  std::map<std::string, int> failures_;
  bool shutdown_ = false;
};

/// Handler that enqueues the key of the changed object.
InformerHandler enqueueHandler(WorkQueue& q);
/// Handler that enqueues "ns/ownerName" of the changed object's controller
/// owner when that owner's kind (and apiVersion group, if given) matches.
InformerHandler enqueueOwnerHandler(WorkQueue& q, const std::string& ownerKind,
                                    const std::string& ownerApiGroup = "");

/// What a reconcile asks for next.
struct ReconcileOutcome {
  bool ok = true;                          // false: requeue with per-key backoff
  std::optional<Duration> requeueAfter;    // ok with a delay: revisit later
  static ReconcileOutcome done() { return {}; }
  static ReconcileOutcome after(Duration d) { return {true, d}; }
  static ReconcileOutcome failed() { return {false, std::nullopt}; }
};

/// \brief Runs `workers` threads taking keys from the queue and calling
/// reconcile(key), applying the outcome (forget / addAfter / addRateLimited).
class ReconcileWorkers {
 public:
  using Reconcile = std::function<ReconcileOutcome(const std::string& key)>;
  ReconcileWorkers(WorkQueue& q, Reconcile fn, int workers = 2);
  ~ReconcileWorkers();
  /// Shuts the queue down and joins the workers.
  void stop();

 private:
  WorkQueue& q_;
  Reconcile fn_;
  std::vector<std::jthread> threads_;
};

}  // namespace shoal::kube
