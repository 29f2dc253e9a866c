// Shoal's scaling policy: a pure function from (spec, persisted state, one
// observation of the stream, the time) to a desired replica count, a reason
// and the measured rates. No I/O, no clock reads: the caller passes `now`, so
// the WorkerPool controller, the unit tests (ManualClock) and the simulator
// (bench/sim) all run the very same code.
//
// Design note
// -----------
// Problem: KEDA's Redis Streams scaler + the HPA size a pool by the *size* of
// the backlog (ceil(lag / lagCount)), poll slowly (30 s + 15 s), keep burst
// replicas for 300 s, and read a nil lag as -1, which can scale a backlogged
// stream to zero. Shoal sizes by *time to drain* at the measured per-replica
// throughput, reacts on its own poll (2 s), releases replicas soon after the
// backlog is gone, and never scales down on a backlog it cannot measure.
//
// drainTime (default). Let B = lag + pending, λ = arrival rate (entries/s,
// from the growth of the stream's entries-added; the median of the last 5
// interval rates, smoothed, so a burst already in B is not also read as a
// lasting rate), μ = per-replica throughput (learned from the growth of the
// group's entries-read while workers are busy, smoothed; the configured prior
// until measured), r = ready replicas, S = podStartupSeconds,
// T = drainSeconds less the age of the backlog (the deadline runs from when
// the backlog formed, at least T/4 remains), h = headroom. The work due
// within T is
//     W = h * (B + λT) / μ   pod-seconds.
// Ready pods each give T; pods still starting, and new ones, give only
// T' = max(T - S, T/2). So
//     n = W / T                 if W <= r T   (the ready pods suffice)
//     n = r + (W - r T) / T'    otherwise.
// targetBacklogPerReplica: n = B / targetBacklogPerReplica (KEDA's terms).
//
// Common rules, in order (each outcome carries a DecisionReason):
//   paused                      -> keep the current count (ScalingPaused)
//   read failed / lag unknown   -> never down, never to zero: hold the current
//                                  count (HoldingBacklogUnknown); after
//                                  failuresBeforeFallback consecutive failures
//                                  and if fallbackReplicas is set, go to
//                                  max(current, fallbackReplicas) (FallbackReplicas).
//                                  At zero replicas with evidence of work
//                                  (pending > 0 or arrivals) activate to 1.
//   idle (minReplicas == 0)     -> zero only after idleSeconds of zero backlog
//                                  AND zero measured arrivals (ScaledToZeroIdle);
//                                  from zero, activate once B > activationBacklog.
//   dead band                   -> no change while the wanted (fractional)
//                                  count is within ±deadBand of the current
//                                  count (WithinDeadBand), like the HPA's
//                                  tolerance; and scale-in only to a count
//                                  that covers the wanted count plus
//                                  deadBand/2 (a need on a whole number holds
//                                  instead of flapping or settling late).
//   scale up                    -> at once to the computed size (no ladder).
//   scale down                  -> (drainTime: once an arrival rate is
//                                  measured) to the largest recommendation of
//                                  the last scaleDown.stabilizationSeconds
//                                  (StabilizingScaleDown), at most
//                                  max(maxPodsPerStep, percent% of current) pods
//                                  per scaleDown.periodSeconds (ScaleDownRateLimited).
//                                  With zero backlog and zero arrivals,
//                                  scaleDown.whenIdle decides: `immediate`
//                                  (default) goes to the floor at once, as
//                                  there is nothing to damp against;
//                                  `damped` applies the window and rate
//                                  limit as for any scale-down.
//                                  (ScaledDown in both cases.)
//   taken over                  -> no scale-down of any kind (idle or to zero
//                                  included) before state.scaleDownHeldUntil:
//                                  a controller that starts with state it did
//                                  not build itself (new leader, restart) sets
//                                  it one stabilization window ahead, so it
//                                  has watched a full window before removing
//                                  a pod (StabilizingScaleDown).
//   min/max                     -> clamp; ScalingLimited flag and reason
//                                  LimitedByMaxReplicas / LimitedByMinReplicas.
// Invariants: the result is always within [0, max(maxReplicas, current)];
// it goes from above zero to zero only via the idle rule; it is below the
// current count only when the backlog was read successfully this tick and
// both lag and pending are known.
//
// clang-format off
// WorkerPool spec fields (for crds/; camelCase as in the CRD)
// -----------------------------------------------------------
// | field                                 | type    | default     | description |
// |---------------------------------------|---------|-------------|-------------|
// | minReplicas                           | int32   | 1           | Fewest workers; 0 allows scale to zero after scaling.idleSeconds idle. |
// | maxReplicas                           | int32   | 10          | Most workers the scaler will ever ask for. |
// | scaling.policy                        | string  | drainTime   | `drainTime` (size by time to drain at measured throughput) or `targetBacklogPerReplica` (ceil(backlog/target), KEDA-like). |
// | scaling.drainSeconds                  | number  | 60          | drainTime: clear any backlog within this many seconds (from when it formed) while keeping up with arrivals. |
// | scaling.targetBacklogPerReplica       | int64   | 1000        | targetBacklogPerReplica: backlog entries one replica is responsible for. |
// | scaling.perReplicaThroughput          | number  | 500         | Prior entries/s one worker clears, used until measured from entries-read. |
// | scaling.headroom                      | number  | 1.2         | Multiplier (>= 1) on the work to do, covering noise and poll delay. |
// | scaling.podStartupSeconds             | number  | 10          | Seconds from scale-up to a worker consuming; backlog grows meanwhile. |
// | scaling.pollIntervalSeconds           | number  | 2           | Seconds between backlog reads and scaling decisions. |
// | scaling.activationBacklog             | int64   | 0           | From zero replicas, scale up only when the backlog exceeds this. |
// | scaling.idleSeconds                   | number  | 30          | With minReplicas 0: scale to zero after this long with zero backlog and zero arrivals. |
// | scaling.scaleUp.stabilizationSeconds  | number  | 0           | Scale up to the smallest recommendation of this window (0: at once). |
// | scaling.scaleDown.stabilizationSeconds| number  | 30          | Scale down only to the largest recommendation of this window. |
// | scaling.scaleDown.maxPodsPerStep      | int32   | 4           | A scale-down step may remove this many pods ... |
// | scaling.scaleDown.percent             | int32   | 50          | ... or this percent of the current count, whichever is more. |
// | scaling.scaleDown.periodSeconds       | number  | 10          | At most one scale-down step per this many seconds. |
// | scaling.scaleDown.whenIdle            | string  | immediate   | No backlog and no arrivals: `immediate` goes to the floor at once; `damped` steps down like any scale-down. |
// | scaling.deadBand                      | number  | 0.1         | Fraction in [0, 0.9]: no change while the wanted count is within ± this of the current count. |
// | scaling.fallbackReplicas              | int32   | unset       | After failuresBeforeFallback failed reads, run max(current, this); unset: hold. |
// | scaling.failuresBeforeFallback        | int32   | 3           | Consecutive failed/unknown backlog reads before fallbackReplicas applies. |
// | scaling.paused                        | bool    | false       | Stop scaling; the current replica count is kept and may be set by hand. |
// clang-format on
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/clock.h"

namespace shoal::policy {

enum class ScalingPolicyKind { kDrainTime, kTargetBacklogPerReplica };

/// CRD spelling: "drainTime" / "targetBacklogPerReplica".
std::string_view policyKindName(ScalingPolicyKind k);
/// Parses the CRD spelling; nullopt for anything else.
std::optional<ScalingPolicyKind> parsePolicyKind(std::string_view s);

/// WorkerPool spec.scaling.scaleUp.
struct ScaleUpSpec {
  double stabilizationSeconds = 0;
};

/// WorkerPool spec.scaling.scaleDown.
/// What scale-down does once the stream is idle (no backlog, no arrivals).
enum class IdleScaleDown {
  kImmediate,  ///< to the floor in one step: the fewest replica-seconds
  kDamped,     ///< the stabilization window and rate limit, as any scale-down
};
/// CRD spelling: "immediate" / "damped".
std::string_view idleScaleDownName(IdleScaleDown m);
/// Parses the CRD spelling; nullopt for anything else.
std::optional<IdleScaleDown> parseIdleScaleDown(std::string_view s);

struct ScaleDownSpec {
  double stabilizationSeconds = 30;
  int32_t maxPodsPerStep = 4;
  int32_t percent = 50;
  double periodSeconds = 10;
  IdleScaleDown whenIdle = IdleScaleDown::kImmediate;
};

/// WorkerPool spec.scaling (see the table above for meaning and defaults).
struct ScalingParameters {
  ScalingPolicyKind policy = ScalingPolicyKind::kDrainTime;
  double drainSeconds = 60;
  int64_t targetBacklogPerReplica = 1000;
  double perReplicaThroughput = 500;
  double headroom = 1.2;
  double podStartupSeconds = 10;
  double pollIntervalSeconds = 2;
  int64_t activationBacklog = 0;
  double idleSeconds = 30;
  ScaleUpSpec scaleUp;
  ScaleDownSpec scaleDown;
  double deadBand = 0.1;
  std::optional<int32_t> fallbackReplicas;
  int32_t failuresBeforeFallback = 3;
  bool paused = false;
};

/// The scaling-related part of a WorkerPool spec.
struct ScalingSpec {
  int32_t minReplicas = 1;
  int32_t maxReplicas = 10;
  ScalingParameters scaling;
};

/// Returns one human-readable problem per invalid field (empty when valid),
/// e.g. "scaling.headroom must be >= 1". decide() also tolerates invalid specs
/// (it clamps), so a bad CR never crashes the controller.
std::vector<std::string> validateScalingSpec(const ScalingSpec& spec);

/// One reading of the stream and the pool, taken just before decide().
struct Observation {
  /// False when the read failed (Redis down, group missing, timeout): every
  /// other stream field is then ignored.
  bool readOk = true;
  /// The group's `lag` from XINFO GROUPS; nullopt when Redis reports nil.
  std::optional<int64_t> lag;
  /// The group's `pending` (delivered, unacknowledged).
  std::optional<int64_t> pending;
  /// The stream's `entries-added` counter (XINFO STREAM).
  std::optional<uint64_t> entriesAdded;
  /// The group's `entries-read` counter (XINFO GROUPS).
  std::optional<uint64_t> entriesRead;
  /// Replicas the Deployment has (spec.replicas as last set) and ready ones.
  int32_t currentReplicas = 0;
  int32_t readyReplicas = 0;
  /// Optional short text about a failed read, copied into the message.
  std::string error;
};

/// Why decide() chose what it chose. CamelCase names (reasonName) are used for
/// condition reasons and Events.
enum class DecisionReason {
  kScalingPaused,
  kScaledUpForBacklog,
  kScaledUpFromZero,
  kScaledDown,
  kAtDesiredReplicas,
  kWithinDeadBand,
  kStabilizingScaleDown,
  kScaleDownRateLimited,
  kHoldingBacklogUnknown,
  kFallbackReplicas,
  kScaledToZeroIdle,
  kIdleAtZero,
  kWaitingForIdle,
  kLimitedByMaxReplicas,
  kLimitedByMinReplicas,
};

/// CamelCase name of a reason, e.g. "ScaledUpForBacklog".
std::string_view reasonName(DecisionReason r);

/// What the controller must keep between ticks. Start with a
/// default-constructed state. MonoTime values are only meaningful within one
/// process: what a successor needs (windows, learned throughput, when the
/// backlog formed) is carried over in the WorkerPool's status by the
/// controller (controllers/scaler_memory.h), converted through wall time.
struct ScalingState {
  struct Recommendation {
    MonoTime at;
    int32_t replicas = 0;
    double raw = 0;  ///< the fractional recommendation behind it
    /// When the run of equal recommendations this one belongs to began
    /// (kept when older entries of the run leave the window).
    MonoTime runSince;
  };
  /// The previous tick's stream counters, for rates.
  std::optional<MonoTime> lastSampleAt;
  std::optional<uint64_t> lastEntriesAdded;
  std::optional<uint64_t> lastEntriesRead;
  std::optional<int64_t> lastBacklog;
  /// Since when a real backlog has existed (drainTime's deadline runs from here).
  std::optional<MonoTime> backlogSince;
  int32_t lastReadyReplicas = 0;
  /// The last few per-interval arrival rates (at most 5), for the median.
  std::deque<double> recentArrivalRates;
  /// Smoothed rates (entries/s); nullopt until measured.
  std::optional<double> arrivalRate;
  std::optional<double> consumptionRate;
  std::optional<double> learnedThroughput;  ///< per ready replica
  /// Consecutive ticks whose backlog could not be measured.
  int32_t consecutiveFailures = 0;
  /// Since when backlog and arrivals have been zero (nullopt: not idle).
  std::optional<MonoTime> idleSince;
  std::optional<MonoTime> lastScaleUpAt;
  std::optional<MonoTime> lastScaleDownAt;
  /// Recent recommendations (bounded), for the stabilization windows.
  std::deque<Recommendation> recommendations;
  /// No scale-down of any kind before this time (set by a controller that
  /// took over a pool; unset: no hold).
  std::optional<MonoTime> scaleDownHeldUntil;
};

/// The outcome of one tick.
struct Decision {
  int32_t desiredReplicas = 0;
  DecisionReason reason = DecisionReason::kAtDesiredReplicas;
  std::string message;
  /// Condition ScalingActive: the scaler is measuring and deciding (false when
  /// paused or the backlog is unknown).
  bool scalingActive = false;
  /// Condition ScalingLimited: the wanted count was cut by min/max replicas.
  bool scalingLimited = false;
  /// Condition Fallback: the backlog could not be measured and the count is
  /// held or set to fallbackReplicas.
  bool fallback = false;
  /// What the policy wanted before min/max and damping (fractional replicas).
  double recommendedReplicas = 0;
  /// For status: the backlog used (lag + pending) and the measured figures.
  std::optional<int64_t> backlog;
  std::optional<double> arrivalRate;      ///< entries/s
  std::optional<double> consumptionRate;  ///< entries/s, whole pool
  double perReplicaThroughput = 0;        ///< estimate in use (learned or prior)
  bool throughputMeasured = false;        ///< false while the prior is in use
  std::optional<double>
      estimatedDrainSeconds;  ///< at the desired count; nullopt if it never drains
};

/// Decides the desired replica count for one tick. `state` is updated in
/// place; call once per poll with monotonically increasing `now`.
/// Thread-compatible (no shared state); never throws on any input.
Decision decide(const ScalingSpec& spec, ScalingState& state, const Observation& obs, MonoTime now);

}  // namespace shoal::policy
