// ReclaimSweep: the consumer loop's reclaim sweep, on its own thread and
// port. Every claimIntervalMs it claims (XAUTOCLAIM) entries idle longer than
// claimMinIdleMs in anyone's pending list and queues them for the loop,
// skipping entries this loop already holds; before that it keeps held
// batches that have waited longer than claimMinIdleMs/2 fresh (touch, which
// counts no delivery), so a slow sink does not turn into redeliveries. Each
// wake-up also refreshes the group's pending and lag gauges.
//
// Cadence, all on the injected Clock: the thread wakes at start and then
// gaugeEvery = min(claimIntervalMs, 5 s) (5 s with no claiming) after the
// previous wake-up's work; it claims on a wake-up at least claimIntervalMs
// after the previous claim (the first: after start). With claimIntervalMs
// above 5 s, claims therefore land on the 5 s grid (12 s: every 15 s). The
// thread looks at the clock at least every kPollSlice of real time, and a stop
// wakes it at once; on a ManualClock it acts when the clock is advanced.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "loop_context.h"

namespace shoal::worker_detail {

class ReclaimSweep {
 public:
  ReclaimSweep(LoopContext& ctx, ConsumerGroupPort& port);
  ~ReclaimSweep();
  ReclaimSweep(const ReclaimSweep&) = delete;
  ReclaimSweep& operator=(const ReclaimSweep&) = delete;

  /// One reclaim pass (see ConsumerLoop::sweepOnce()).
  Result<int64_t> sweepOnce();
  /// What the thread does on one wake-up: refresh the gauges, claim if due.
  /// Returns when the next wake-up is due.
  MonoTime tick();

  /// Starts the thread (once); the first claim is due claimIntervalMs from now.
  void start();
  /// Wakes the thread to see ctx.stop (call after setting it).
  void wake();
  /// Joins the thread (after ctx.stop was set and wake() called).
  void join();

  /// The longest real-time wait between two looks at the clock.
  static constexpr std::chrono::milliseconds kPollSlice{50};

 private:
  void run();
  void refreshGauges();
  void keepHeldFresh();

  LoopContext& ctx_;
  ConsumerGroupPort& port_;
  Duration gaugeEvery_;
  MonoTime lastClaim_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace shoal::worker_detail
