// The scaler's memory across operator processes. The policy's ScalingState
// lives in the leader's memory on the monotonic clock; a new leader (after a
// failover or a restart) that started from nothing would read an inherited
// backlog as just formed, forget the per-replica throughput it had learned
// and find the stabilization window empty, and so could scale a busy pool
// down within a second of taking over. The WorkerPool's status.scaler keeps
// what a successor needs, in wall time:
//   - when the backlog being drained formed (drainTime's deadline),
//   - since when the stream has been idle,
//   - the last scale-up and scale-down times (rate limits),
//   - the learned per-replica throughput,
//   - the recommendations of the longest stabilization window, one per run
//     of equal values (a steady pool writes nothing new).
// restoreScaling also holds every scale-down for one scale-down
// stabilization window: a successor removes no pod before it has watched a
// full window itself. Monotonic times become wall times through one fixed
// pairing of the two clocks per process (ClockPairing), so the same instant
// always gives the same text and a steady pool's status does not change.
// Pure functions; thread-compatible.
#pragma once

#include "shoal/api/worker_pool.h"
#include "shoal/common/clock.h"
#include "shoal/policy/scaling_policy.h"

namespace shoal::controllers {

/// One reading of both clocks, taken once, for converting between them.
struct ClockPairing {
  MonoTime mono{};
  WallTime wall{};
  static ClockPairing of(const Clock& c) { return {c.now(), c.wallNow()}; }
  WallTime toWall(MonoTime m) const {
    return wall + std::chrono::duration_cast<WallTime::duration>(m - mono);
  }
  MonoTime toMono(WallTime w) const {
    return mono + std::chrono::duration_cast<MonoTime::duration>(w - wall);
  }
};

/// What of `state` a successor needs, as status.scaler.
api::ScalerMemory rememberScaling(const policy::ScalingState& state, const ClockPairing& clocks);

/// A state for a pool this process has not scaled before: what `status`
/// carried over (rates are measured afresh), with every time
/// clamped to `now` at the latest (another node's clock may run ahead), and
/// scale-down held until one scale-down stabilization window from `now`.
policy::ScalingState restoreScaling(const api::WorkerPoolStatus& status,
                                    const policy::ScalingSpec& spec, MonoTime now,
                                    const ClockPairing& clocks);

}  // namespace shoal::controllers
