// The generic consumer loop: reads a Redis stream through a consumer group,
// batches entries, hands them to a BatchHandler, and acknowledges exactly what
// the handler confirmed. Pipeline types (logs, metrics) only implement
// BatchHandler; everything about Redis lives here.
//
// Design note
//  Problem: at-least-once from Redis with nothing lost across crashes, dead
//  consumers and poison entries, and a clean drain on SIGTERM.
//  Invariants:
//   - An entry is XACKed only after the handler returned kDelivered for it, or
//     after its dead-letter copy was XADDed successfully (XADD strictly before
//     XACK; a failed XADD leaves the entry pending, to be redelivered).
//   - An entry whose delivery count exceeds maxDeliveries, or whose size
//     exceeds maxEntryBytes, is dead-lettered without reaching the handler.
//   - kRetry entries stay pending (never acknowledged): the reclaim sweep or a
//     restart delivers them again.
//  Delivery counts: entries read with ">" are first deliveries (1). Entries
//  re-read from our own pending list ("0", "<last id>") and entries claimed
//  with XAUTOCLAIM get the group's counter from XPENDING right after the read
//  or claim: Redis 7 increments the counter on both, so the value already
//  includes the current delivery.
//  Sketch (one thread runs run()):
//     ensure group (XGROUP CREATE MKSTREAM, BUSYGROUP ok)
//     phase "own pending": XREADGROUP ... 0, then from the last id, until empty
//     phase "new": XREADGROUP ... >, BLOCK blockMs for the first entry, then
//                  up to lingerMs for more, until batchSize / batchBytes
//     claimed entries (from the sweep thread's queue) join the next batch
//     per batch: split (too big / too many deliveries) -> handler.handle()
//                -> one pipelined round trip: XADD dead letters + XACK delivered
//                -> XACK dead-lettered (only if there were any)
//  Read-ahead (run() only): a reader thread collects the next batch on the
//  loop's connection while this thread handles the current one and
//  acknowledges it on a connection of its own, so reading, transforming and
//  acknowledging overlap. At most one batch waits read-ahead (`ready_`); the
//  reader does not read again until it has been taken. Only the handled
//  batch is ever acknowledged, so read-ahead changes nothing about what is
//  acknowledged when; a read-ahead batch counts as held (in flight) for the
//  sweep and for shutdown. step() stays serial (collect, then process).
//  The reclaim sweep (its own thread and Redis connection) runs XAUTOCLAIM
//  every claimIntervalMs for entries idle > claimMinIdleMs and queues them for
//  the loop; entries already in flight here are skipped. While a batch sits
//  in handle() longer than claimMinIdleMs/2 (a sink outage), the sweep keeps
//  its entries fresh with XCLAIM ... JUSTID (which resets idle time without
//  counting a delivery), so an outage does not turn into redeliveries and
//  then dead letters. It also refreshes the group's pending and lag gauges.
//  Shutdown: requestStop() stops reading new entries; the in-flight batch
//  finishes and is acknowledged, then what this consumer already holds
//  (leftovers, queued claims, its own pending list) is drained, and run()
//  returns. cancel() (at the hard deadline) makes handle() give up; what it
//  did not deliver stays pending.
//  Time: all waits and backoffs go through the injected Clock. With
//  claimIntervalMs == 0 no sweep thread runs; tests call sweepOnce().
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shoal/common/backoff.h"
#include "shoal/common/clock.h"
#include "shoal/redis/client.h"
#include "shoal/stream/batch_handler.h"
#include "shoal/worker/config.h"
#include "shoal/stream/stream_entry.h"

namespace shoal {

/// Redis connection options from the worker config.
redis::ConnectionOptions redisOptions(const RedisSourceConfig& c);

/// \brief Counters of what the loop did (also exported as Prometheus metrics).
/// A snapshot; thread-safe to obtain through ConsumerLoop::stats().
struct LoopStats {
  int64_t read = 0;
  int64_t delivered = 0;
  int64_t deadLettered = 0;
  int64_t retried = 0;
  int64_t claimed = 0;
  int64_t batches = 0;
};

/// \brief The consumer loop. run() on one thread; requestStop(), cancel(),
/// stats() and redisReachable() are thread-safe.
class ConsumerLoop {
 public:
  ConsumerLoop(const PipelineConfig& config, BatchHandler& handler, Clock& clock,
               prometheus::Registry& registry);
  ~ConsumerLoop();
  ConsumerLoop(const ConsumerLoop&) = delete;
  ConsumerLoop& operator=(const ConsumerLoop&) = delete;

  /// Runs until requestStop() and the drain are done. Returns 0 on a clean
  /// drain, 1 if the drain was cut short by cancel().
  int run();
  /// Stop reading new entries; finish and acknowledge what is held.
  void requestStop();
  /// The hard deadline passed: make the handler give up.
  void cancel();
  bool stopping() const { return stop_.load(); }

  /// One reclaim pass (XAUTOCLAIM until the cursor wraps), queueing what it
  /// claims for the loop. Returns how many entries it claimed; does nothing
  /// until the loop has re-read its own pending list.
  Result<int64_t> sweepOnce();
  /// One iteration of the loop: collect a batch and process it. Returns the
  /// number of entries processed. For tests that drive the loop step by step.
  int64_t step();

  bool redisReachable() const { return reachable_.load(); }
  LoopStats stats() const;

 private:
  struct Metrics;
  std::vector<StreamEntry> collect();
  void process(std::vector<StreamEntry> batch);
  void process(std::shared_ptr<const std::vector<StreamEntry>> batch, MonoTime since);
  void readAhead();
  Backoff& backoffFor(const redis::Client& client);
  bool deliverOutcomes(const std::vector<StreamEntry>& batch, const std::vector<EntryResult>& results);
  bool ensureGroup();
  void fillDeliveries(std::vector<StreamEntry>& entries);
  void drainHeld();
  void onRedisError(const Error& e, const char* what);
  void markReachable();
  void waitBeforeRetry(redis::Client& client);
  void sweepThread();
  void refreshGroupGauges(redis::Client& client);
  bool takeBytes(std::vector<StreamEntry>& batch, size_t& bytes, std::deque<StreamEntry>& from);

  PipelineConfig config_;
  BatchHandler& handler_;
  Clock& clock_;
  redis::Client client_;        // the loop's connection
  redis::Client sweepClient_;   // the sweep's connection
  redis::Client ackClient_;     // acknowledgements and dead letters (process())
  Backoff errorBackoff_;        // reads (client_)
  Backoff sweepBackoff_;        // sweepClient_
  Backoff ackBackoff_;          // ackClient_
  CancelToken cancel_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reachable_{false};
  std::atomic<bool> warnedDown_{false};  // the current outage was logged at warn
  std::atomic<bool> groupReady_{false};
  std::atomic<bool> ownPendingDone_{false};
  std::string pendingCursor_ = "0";
  std::deque<StreamEntry> leftover_;  // read but not yet batched (batchBytes)

  mutable std::mutex mu_;  // guards claimed_, inFlight_, inFlightSince_, ready_, readySince_, stats_
  std::deque<StreamEntry> claimed_;
  std::shared_ptr<const std::vector<StreamEntry>> inFlight_;  // the batch in handle()
  MonoTime inFlightSince_{};
  std::shared_ptr<const std::vector<StreamEntry>> ready_;  // read ahead, not yet handled
  MonoTime readySince_{};
  std::condition_variable readyCv_;  // ready_ filled or emptied, or stop
  LoopStats stats_;

  std::unique_ptr<Metrics> metrics_;
  std::mutex sweepMu_;
  std::condition_variable sweepCv_;
  std::thread sweeper_;
  std::thread reader_;
};

}  // namespace shoal
