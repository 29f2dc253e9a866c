// The generic consumer loop: reads a Redis stream through a consumer group,
// batches entries, hands them to a BatchHandler, and acknowledges exactly what
// the handler confirmed. Pipeline types (logs, metrics) only implement
// BatchHandler; everything about the consumer group lives here, spoken
// through ConsumerGroupPort (consumer_group_port.h).
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
//  or claim: Redis 7 increments the counter on both (not on re-reading an
//  entry whose payload was deleted), so the value already includes the
//  current delivery.
//  Sketch (one thread runs run()):
//     ensure group (XGROUP CREATE MKSTREAM, BUSYGROUP ok)
//     phase "own pending": XREADGROUP ... 0, then from the last id, until empty
//     phase "new": XREADGROUP ... >, BLOCK blockMs for the first entry, then
//                  up to lingerMs for more, until batchSize / batchBytes
//     claimed entries (from the sweep thread's queue) join the next batch
//     per batch: triage (too big / too many deliveries: dead letter;
//                deleted: acknowledge) -> handler.handle() for the rest
//                -> one pipelined round trip: XADD dead letters + XACK delivered
//                -> XACK dead-lettered (only if there were any)
//  Read-ahead (run() only): a reader thread collects the next batch on the
//  loop's connection while this thread handles the current one and
//  acknowledges it on a connection of its own, so reading, transforming and
//  acknowledging overlap. At most one batch waits read-ahead (the ready slot); the
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
//  Parts (runtime/worker/src): BatchReader (reader.cpp: group, own pending,
//  new entries, batch bounds), triageBatch (batch_triage.h: what never reaches
//  the handler), Acknowledger (acknowledger.cpp: dead letters, then XACK),
//  ReclaimSweep (sweep.cpp: claims, idle refresh, gauges); this class wires
//  them and owns run(), the read-ahead hand-over and the drain. Each part
//  talks to the group through its own ConsumerGroupPort (one session each);
//  the plain constructor opens Redis ports (openRedisGroupPort: one server
//  or a Redis Cluster).
//  Time: all waits and backoffs go through the injected Clock, the sweep's
//  cadence too (see sweep.h). With claimIntervalMs == 0 the sweep thread
//  only refreshes the gauges; tests call sweepOnce().
#pragma once

#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/stream/batch_handler.h"
#include "shoal/stream/stream_entry.h"
#include "shoal/worker/config.h"
#include "shoal/worker/consumer_group_port.h"
#include "shoal/worker/loop_stats.h"
#include "shoal/worker/redis_group_port.h"

namespace shoal {

namespace worker_detail {
struct LoopContext;
class BatchReader;
class Acknowledger;
class ReclaimSweep;
}  // namespace worker_detail

/// \brief The consumer loop. run() on one thread; requestStop(), cancel(),
/// stats() and redisReachable() are thread-safe.
class ConsumerLoop {
 public:
  /// Opens one session on the group for each part: called three times.
  using PortFactory = std::function<std::unique_ptr<ConsumerGroupPort>()>;

  /// On the Redis stream of `config` (openRedisGroupPort).
  ConsumerLoop(const PipelineConfig& config, BatchHandler& handler, Clock& clock,
               prometheus::Registry& registry);
  /// On the ports `openPort` gives (reader, acknowledger, sweep).
  ConsumerLoop(const PipelineConfig& config, BatchHandler& handler, Clock& clock,
               prometheus::Registry& registry, const PortFactory& openPort);
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
  bool stopping() const;

  /// One reclaim pass (XAUTOCLAIM until the cursor wraps), queueing what it
  /// claims for the loop. Returns how many entries it claimed; does nothing
  /// until the loop has re-read its own pending list.
  Result<int64_t> sweepOnce();
  /// One iteration of the loop: collect a batch and process it. Returns the
  /// number of entries processed. For tests that drive the loop step by step.
  int64_t step();

  bool redisReachable() const;
  LoopStats stats() const;

 private:
  void process(std::vector<StreamEntry> batch);
  // `since`: when the batch was read (for the sweep's idle refresh).
  void process(std::shared_ptr<const std::vector<StreamEntry>> batch, MonoTime since);
  void readAhead();
  void drainHeld();

  PipelineConfig config_;
  BatchHandler& handler_;
  std::unique_ptr<ConsumerGroupPort> readerPort_, ackPort_, sweepPort_;
  std::unique_ptr<worker_detail::LoopContext> ctx_;
  std::unique_ptr<worker_detail::BatchReader> reader_;
  std::unique_ptr<worker_detail::Acknowledger> ack_;
  std::unique_ptr<worker_detail::ReclaimSweep> sweep_;
  std::thread readerThread_;
};

}  // namespace shoal
