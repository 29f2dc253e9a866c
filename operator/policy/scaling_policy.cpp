// Shoal's scaling policy (see the design note in scaling_policy.h).
#include "shoal/policy/scaling_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace shoal::policy {
namespace {

// Smoothing time constants (seconds) of the measured rates. Arrivals: short
// enough to follow a step within a few polls, long enough to damp ±20 % noise.
// Throughput: longer, since it is a property of the workers, not the load.
constexpr double kArrivalTau = 6.0;
constexpr size_t kArrivalMedianSamples = 5;
constexpr double kConsumptionTau = 10.0;
constexpr double kThroughputTau = 20.0;
// A throughput sample further than this factor from the prior is discarded as
// a measurement artefact (counter reset, clock jump).
constexpr double kThroughputSanityFactor = 50.0;
// Bound on the remembered recommendations (windows are also bounded by time).
constexpr size_t kMaxRecommendations = 512;

double finiteOr(double v, double fallback) {
  return std::isfinite(v) ? v : fallback;
}

// A copy of the spec with every number forced into its valid range, so a bad
// CR degrades to sensible behaviour instead of NaNs or crashes.
ScalingSpec sanitized(const ScalingSpec& in) {
  ScalingSpec s = in;
  s.minReplicas = std::max(0, s.minReplicas);
  s.maxReplicas = std::max(s.minReplicas, std::max(0, s.maxReplicas));
  auto& p = s.scaling;
  p.drainSeconds = std::max(1.0, finiteOr(p.drainSeconds, 60));
  p.targetBacklogPerReplica = std::max<int64_t>(1, p.targetBacklogPerReplica);
  p.perReplicaThroughput = finiteOr(p.perReplicaThroughput, 500);
  if (p.perReplicaThroughput <= 0) p.perReplicaThroughput = 500;
  p.headroom = std::clamp(finiteOr(p.headroom, 1.2), 1.0, 100.0);
  p.podStartupSeconds = std::clamp(finiteOr(p.podStartupSeconds, 10), 0.0, 3600.0);
  p.pollIntervalSeconds = std::clamp(finiteOr(p.pollIntervalSeconds, 2), 0.1, 3600.0);
  p.activationBacklog = std::max<int64_t>(0, p.activationBacklog);
  p.idleSeconds = std::max(0.0, finiteOr(p.idleSeconds, 30));
  p.scaleUp.stabilizationSeconds =
      std::clamp(finiteOr(p.scaleUp.stabilizationSeconds, 0), 0.0, 3600.0);
  p.scaleDown.stabilizationSeconds =
      std::clamp(finiteOr(p.scaleDown.stabilizationSeconds, 30), 0.0, 3600.0);
  p.scaleDown.maxPodsPerStep = std::max(0, p.scaleDown.maxPodsPerStep);
  p.scaleDown.percent = std::clamp(p.scaleDown.percent, 0, 100);
  p.scaleDown.periodSeconds = std::clamp(finiteOr(p.scaleDown.periodSeconds, 10), 0.0, 3600.0);
  p.deadBand = std::clamp(finiteOr(p.deadBand, 0.1), 0.0, 0.9);
  if (p.fallbackReplicas) p.fallbackReplicas = std::max(0, *p.fallbackReplicas);
  p.failuresBeforeFallback = std::max(1, p.failuresBeforeFallback);
  return s;
}

double ewma(std::optional<double> prev, double sample, double dt, double tau) {
  if (!prev) return sample;
  double alpha = 1.0 - std::exp(-dt / tau);
  return *prev + alpha * (sample - *prev);
}

// ceil that ignores floating-point dust (3.0000000001 -> 3).
int64_t ceilReplicas(double v) {
  if (!(v > 0)) return 0;
  if (v > 1e9) return 1'000'000'000;
  return static_cast<int64_t>(std::ceil(v - 1e-9));
}

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

std::string describeRates(const Decision& d) {
  std::string s;
  if (d.backlog) s += "backlog " + std::to_string(*d.backlog);
  if (d.arrivalRate) s += ", arrivals " + fmt("%.1f/s", *d.arrivalRate);
  s += ", per-replica throughput " + fmt("%.1f/s", d.perReplicaThroughput) +
       (d.throughputMeasured ? " (measured)" : " (prior)");
  return s;
}

}  // namespace

std::string_view policyKindName(ScalingPolicyKind k) {
  switch (k) {
    case ScalingPolicyKind::kDrainTime:
      return "drainTime";
    case ScalingPolicyKind::kTargetBacklogPerReplica:
      return "targetBacklogPerReplica";
  }
  return "drainTime";
}

std::optional<ScalingPolicyKind> parsePolicyKind(std::string_view s) {
  if (s == "drainTime") return ScalingPolicyKind::kDrainTime;
  if (s == "targetBacklogPerReplica") return ScalingPolicyKind::kTargetBacklogPerReplica;
  return std::nullopt;
}

std::string_view idleScaleDownName(IdleScaleDown m) {
  return m == IdleScaleDown::kDamped ? "damped" : "immediate";
}

std::optional<IdleScaleDown> parseIdleScaleDown(std::string_view s) {
  if (s == "immediate") return IdleScaleDown::kImmediate;
  if (s == "damped") return IdleScaleDown::kDamped;
  return std::nullopt;
}

std::string_view reasonName(DecisionReason r) {
  switch (r) {
    case DecisionReason::kScalingPaused:
      return "ScalingPaused";
    case DecisionReason::kScaledUpForBacklog:
      return "ScaledUpForBacklog";
    case DecisionReason::kScaledUpFromZero:
      return "ScaledUpFromZero";
    case DecisionReason::kScaledDown:
      return "ScaledDown";
    case DecisionReason::kAtDesiredReplicas:
      return "AtDesiredReplicas";
    case DecisionReason::kWithinDeadBand:
      return "WithinDeadBand";
    case DecisionReason::kStabilizingScaleDown:
      return "StabilizingScaleDown";
    case DecisionReason::kScaleDownRateLimited:
      return "ScaleDownRateLimited";
    case DecisionReason::kHoldingBacklogUnknown:
      return "HoldingBacklogUnknown";
    case DecisionReason::kFallbackReplicas:
      return "FallbackReplicas";
    case DecisionReason::kScaledToZeroIdle:
      return "ScaledToZeroIdle";
    case DecisionReason::kIdleAtZero:
      return "IdleAtZero";
    case DecisionReason::kWaitingForIdle:
      return "WaitingForIdle";
    case DecisionReason::kLimitedByMaxReplicas:
      return "LimitedByMaxReplicas";
    case DecisionReason::kLimitedByMinReplicas:
      return "LimitedByMinReplicas";
  }
  return "Unknown";
}

std::vector<std::string> validateScalingSpec(const ScalingSpec& s) {
  std::vector<std::string> out;
  const auto& p = s.scaling;
  auto bad = [&](bool cond, const char* msg) {
    if (cond) out.emplace_back(msg);
  };
  bad(s.minReplicas < 0, "minReplicas must be >= 0");
  bad(s.maxReplicas < 1, "maxReplicas must be >= 1");
  bad(s.maxReplicas < s.minReplicas, "maxReplicas must be >= minReplicas");
  bad(!(p.drainSeconds >= 1), "scaling.drainSeconds must be >= 1");
  bad(p.targetBacklogPerReplica < 1, "scaling.targetBacklogPerReplica must be >= 1");
  bad(!(p.perReplicaThroughput > 0) || !std::isfinite(p.perReplicaThroughput),
      "scaling.perReplicaThroughput must be > 0");
  bad(!(p.headroom >= 1) || !std::isfinite(p.headroom), "scaling.headroom must be >= 1");
  bad(!(p.podStartupSeconds >= 0), "scaling.podStartupSeconds must be >= 0");
  bad(!(p.pollIntervalSeconds >= 0.1), "scaling.pollIntervalSeconds must be >= 0.1");
  bad(p.activationBacklog < 0, "scaling.activationBacklog must be >= 0");
  bad(!(p.idleSeconds >= 0), "scaling.idleSeconds must be >= 0");
  bad(!(p.scaleUp.stabilizationSeconds >= 0), "scaling.scaleUp.stabilizationSeconds must be >= 0");
  bad(!(p.scaleDown.stabilizationSeconds >= 0),
      "scaling.scaleDown.stabilizationSeconds must be >= 0");
  bad(p.scaleDown.maxPodsPerStep < 0, "scaling.scaleDown.maxPodsPerStep must be >= 0");
  bad(p.scaleDown.percent < 0 || p.scaleDown.percent > 100,
      "scaling.scaleDown.percent must be in [0, 100]");
  bad(!(p.scaleDown.periodSeconds >= 0), "scaling.scaleDown.periodSeconds must be >= 0");
  bad(!(p.deadBand >= 0 && p.deadBand <= 0.9), "scaling.deadBand must be in [0, 0.9]");
  bad(p.fallbackReplicas && *p.fallbackReplicas < 0, "scaling.fallbackReplicas must be >= 0");
  bad(p.failuresBeforeFallback < 1, "scaling.failuresBeforeFallback must be >= 1");
  return out;
}

namespace {

// decide() in stages: what is known (backlog, rates), what the policy would
// like (the fractional recommendation), and what the pool gets (idle rule,
// clamping, dead band, stabilization, rate limits). Each stage reads and
// writes the same round of state.

/// The backlog: known only when the read worked and lag is a real count. A
/// negative lag is what a nil lag becomes in some clients (KEDA reads -1): it
/// is treated as unknown, never as "no backlog".
struct BacklogReading {
  std::optional<int64_t> backlog;
  bool pendingKnown = false;
};

BacklogReading readBacklog(const Observation& obs) {
  BacklogReading r;
  if (obs.readOk && obs.lag && *obs.lag >= 0) {
    int64_t pending = 0;
    if (obs.pending && *obs.pending >= 0) {
      pending = *obs.pending;
      r.pendingKnown = true;
    }
    // Saturating: absurd counts from a broken server must not overflow.
    const int64_t room = std::numeric_limits<int64_t>::max() - *obs.lag;
    r.backlog = pending > room ? std::numeric_limits<int64_t>::max() : *obs.lag + pending;
  }
  return r;
}

/// Rates from the counters (also while lag is unknown: entries-added is still
/// meaningful then). Returns the entries added since the last sample, if known.
std::optional<uint64_t> updateRates(const ScalingParameters& p, ScalingState& st, const Observation& obs,
                                    const std::optional<int64_t>& backlog, int32_t ready, MonoTime now) {
  std::optional<double> dt;
  if (st.lastSampleAt && now > *st.lastSampleAt) dt = toSeconds(now - *st.lastSampleAt);
  std::optional<uint64_t> addedDelta;
  if (obs.readOk && dt) {
    if (obs.entriesAdded && st.lastEntriesAdded && *obs.entriesAdded >= *st.lastEntriesAdded) {
      addedDelta = *obs.entriesAdded - *st.lastEntriesAdded;
      // Median of the last few interval rates, then smoothed: a burst that
      // lands in one interval is already in the backlog and must not also be
      // read as a lasting arrival rate; a real step passes after a few polls.
      st.recentArrivalRates.push_back(static_cast<double>(*addedDelta) / *dt);
      while (st.recentArrivalRates.size() > kArrivalMedianSamples) st.recentArrivalRates.pop_front();
      std::vector<double> sorted(st.recentArrivalRates.begin(), st.recentArrivalRates.end());
      std::sort(sorted.begin(), sorted.end());
      double median = sorted[sorted.size() / 2];
      if (sorted.size() % 2 == 0) median = (median + sorted[sorted.size() / 2 - 1]) / 2;
      st.arrivalRate = ewma(st.arrivalRate, median, *dt, kArrivalTau);
    }
    if (obs.entriesRead && st.lastEntriesRead && *obs.entriesRead >= *st.lastEntriesRead) {
      double consumed = static_cast<double>(*obs.entriesRead - *st.lastEntriesRead) / *dt;
      st.consumptionRate = ewma(st.consumptionRate, consumed, *dt, kConsumptionTau);
      // Workers were busy the whole interval if there was backlog at both
      // ends, at least a second's worth at the end, and the pool did not
      // change size (new pods would dilute the sample).
      double mu = st.learnedThroughput.value_or(p.perReplicaThroughput);
      bool busy = ready > 0 && st.lastBacklog && *st.lastBacklog > 0 && backlog &&
                  static_cast<double>(*backlog) >= mu * ready * 1.0 && st.lastReadyReplicas == ready &&
                  consumed > 0;
      if (busy) {
        double sample = consumed / ready;
        if (sample < p.perReplicaThroughput * kThroughputSanityFactor &&
            sample > p.perReplicaThroughput / kThroughputSanityFactor) {
          st.learnedThroughput = ewma(st.learnedThroughput, sample, *dt, kThroughputTau);
        }
      }
    }
  }
  if (obs.readOk) {
    if (obs.entriesAdded) st.lastEntriesAdded = obs.entriesAdded;
    if (obs.entriesRead) st.lastEntriesRead = obs.entriesRead;
    st.lastSampleAt = now;
  }
  st.lastBacklog = backlog;
  st.lastReadyReplicas = ready;
  return addedDelta;
}

/// The policy's recommendation in fractional replicas for a known backlog B.
double recommend(const ScalingParameters& p, ScalingState& st, double B, double lambda, double mu,
                 int32_t ready, MonoTime now) {
  if (p.policy == ScalingPolicyKind::kTargetBacklogPerReplica)
    return B / static_cast<double>(p.targetBacklogPerReplica);
  // Pod-seconds of work due within T: the backlog plus T of arrivals, with
  // headroom. Ready pods give T each; pods still starting (and new ones)
  // give only T - S (at least T/2, so a long start-up cannot ask for
  // unbounded pods).
  // The deadline runs from when the backlog formed (more than a second of
  // the pool's work, or two polls of arrivals), not from now: otherwise a
  // re-evaluation mid-drain would grant a fresh T every poll. Once late,
  // aim to finish within T/4.
  const double present = std::max(2.0 * p.pollIntervalSeconds * lambda, mu * std::max(ready, 1));
  if (B > present) {
    if (!st.backlogSince) st.backlogSince = now;
  } else {
    st.backlogSince.reset();
  }
  const double age = st.backlogSince ? toSeconds(now - *st.backlogSince) : 0.0;
  const double T = std::max(p.drainSeconds - age, p.drainSeconds / 4);
  const double S = p.podStartupSeconds;
  const double work = p.headroom * (B + lambda * T) / mu;
  const double readyCapacity = ready * T;
  if (work <= readyCapacity) return work / T;
  return ready + (work - readyCapacity) / std::max(T - S, T / 2);
}

/// One round of decide(): the inputs every stage reads, and finish(), which
/// every stage ends with.
class Round {
 public:
  Round(const ScalingSpec& spec, ScalingState& st, const Observation& obs, MonoTime now)
      : spec_(spec),
        p_(spec_.scaling),
        st_(st),
        obs_(obs),
        now_(now),
        current_(std::max(0, obs.currentReplicas)),
        ready_(std::clamp(obs.readyReplicas, 0, std::max(current_, obs.readyReplicas))) {}

  Decision run() {
    const BacklogReading reading = readBacklog(obs_);
    backlog_ = reading.backlog;
    pendingKnown_ = reading.pendingKnown;
    addedDelta_ = updateRates(p_, st_, obs_, backlog_, ready_, now_);
    d_.backlog = backlog_;
    d_.arrivalRate = st_.arrivalRate;
    d_.consumptionRate = st_.consumptionRate;
    d_.throughputMeasured = st_.learnedThroughput.has_value();
    d_.perReplicaThroughput = st_.learnedThroughput.value_or(p_.perReplicaThroughput);
    mu_ = std::max(1e-9, d_.perReplicaThroughput);
    lambda_ = std::max(0.0, st_.arrivalRate.value_or(0.0));

    if (p_.paused) {
      d_.scalingActive = false;
      return finish(current_, DecisionReason::kScalingPaused,
                    "scaling is paused; keeping " + std::to_string(current_) + " replicas");
    }
    if (!backlog_) return unknownBacklog();
    st_.consecutiveFailures = 0;
    raw_ = recommend(p_, st_, static_cast<double>(*backlog_), lambda_, mu_, ready_, now_);
    d_.recommendedReplicas = raw_;
    d_.scalingActive = true;
    if (auto idle = idleRule()) return *idle;
    clampAndDamp();
    if (rec_ > current_) return scaleUp();
    if (rec_ == current_) return hold();
    return scaleDown();
  }

 private:
  std::optional<double> estimateDrain(int32_t replicas) const {
    if (!backlog_) return std::nullopt;
    if (*backlog_ == 0) return 0.0;
    double net = replicas * mu_ - lambda_;
    if (net <= 0) return std::nullopt;
    return static_cast<double>(*backlog_) / net;
  }

  Decision finish(int32_t desired, DecisionReason reason, std::string message) {
    d_.desiredReplicas = desired;
    d_.reason = reason;
    d_.message = std::move(message);
    d_.estimatedDrainSeconds = estimateDrain(desired);
    if (desired > current_) st_.lastScaleUpAt = now_;
    if (desired < current_) st_.lastScaleDownAt = now_;
    return d_;
  }

  /// Unknown backlog: never down, never to zero.
  Decision unknownBacklog() {
    st_.consecutiveFailures = std::min(st_.consecutiveFailures + 1, 1'000'000);
    st_.idleSince.reset();
    d_.scalingActive = false;
    d_.fallback = true;
    std::string why = !obs_.readOk ? "the backlog read failed" : "the consumer group's lag is unknown (nil)";
    if (!obs_.error.empty()) why += ": " + obs_.error;
    if (p_.fallbackReplicas && st_.consecutiveFailures >= p_.failuresBeforeFallback) {
      int32_t target = std::max(current_, std::min(*p_.fallbackReplicas, spec_.maxReplicas));
      return finish(target, DecisionReason::kFallbackReplicas,
                    why + " " + std::to_string(st_.consecutiveFailures) + " times in a row; running " +
                        std::to_string(target) + " replicas (fallbackReplicas " +
                        std::to_string(*p_.fallbackReplicas) + ", never fewer than current)");
    }
    int32_t target = current_;
    if (target < spec_.minReplicas) target = spec_.minReplicas;
    bool evidenceOfWork = (obs_.readOk && obs_.pending && *obs_.pending > 0) || (addedDelta_ && *addedDelta_ > 0);
    if (target == 0 && evidenceOfWork && spec_.maxReplicas > 0) target = 1;
    return finish(target, DecisionReason::kHoldingBacklogUnknown,
                  why + "; holding " + std::to_string(target) +
                      " replicas (never scaling down on an unknown backlog)");
  }

  bool downHeld() const { return st_.scaleDownHeldUntil && now_ < *st_.scaleDownHeldUntil; }

  // A controller that took the pool over has not yet watched a full window:
  // whatever it would remove, it holds.
  std::string heldMessage() const {
    return "taken over recently: no scale-down from " + std::to_string(current_) +
           " before a full stabilization window has been observed (" +
           fmt("%.0f", toSeconds(*st_.scaleDownHeldUntil - now_)) + "s to go); " + describeRates(d_);
  }

  /// Idle and scale to zero (only with minReplicas 0).
  std::optional<Decision> idleRule() {
    const bool arrivalsZero = addedDelta_ && *addedDelta_ == 0;
    idleNow_ = *backlog_ == 0 && arrivalsZero && pendingKnown_;
    if (idleNow_) {
      if (!st_.idleSince) st_.idleSince = now_;
    } else {
      st_.idleSince.reset();
    }
    if (spec_.minReplicas != 0) return std::nullopt;
    if (current_ == 0) {
      if (*backlog_ <= p_.activationBacklog || spec_.maxReplicas == 0) {
        return finish(0, DecisionReason::kIdleAtZero,
                      "idle at zero replicas: backlog " + std::to_string(*backlog_) + " <= activationBacklog " +
                          std::to_string(p_.activationBacklog));
      }
    } else if (idleNow_ && toSeconds(now_ - *st_.idleSince) >= p_.idleSeconds) {
      if (downHeld()) return finish(current_, DecisionReason::kStabilizingScaleDown, heldMessage());
      st_.recommendations.clear();
      return finish(0, DecisionReason::kScaledToZeroIdle,
                    "no backlog and no arrivals for " + fmt("%.0f", toSeconds(now_ - *st_.idleSince)) +
                        "s (idleSeconds " + fmt("%.0f", p_.idleSeconds) + "); scaling to zero");
    }
    return std::nullopt;
  }

  /// Clamp to [lower, max] (zero is only reachable through the idle rule),
  /// apply the dead band and the scale-in spare, and remember the
  /// recommendation for the stabilization windows.
  void clampAndDamp() {
    wanted_ = ceilReplicas(raw_);
    const int32_t lower = std::max(spec_.minReplicas, 1);
    target_ = static_cast<int32_t>(std::clamp<int64_t>(wanted_, lower, spec_.maxReplicas));
    limitedByMax_ = wanted_ > spec_.maxReplicas;
    limitedByMin_ = wanted_ < spec_.minReplicas;
    d_.scalingLimited = limitedByMax_ || limitedByMin_;

    // Dead band (the HPA's tolerance, in replicas): no change while the
    // recommendation is within ±deadBand of the current count. Only when the
    // current count is itself within [lower, max] (a changed spec is obeyed).
    rec_ = target_;
    const bool inRange = current_ >= lower && current_ <= spec_.maxReplicas;
    if (inRange && target_ != current_ && raw_ >= current_ * (1.0 - p_.deadBand) &&
        raw_ <= current_ * (1.0 + p_.deadBand)) {
      rec_ = current_;
    }
    // Scaling in keeps half the dead band as spare: only down to a count that
    // covers the recommendation plus deadBand/2 of it. Without it a need that sits on a
    // whole number (6.0 with noise) alternates between 6 and 7, and the count
    // settles whenever the noise happens to allow, minutes after the load
    // changed.
    if (inRange && rec_ < current_) {
      const int64_t spare = ceilReplicas(raw_ * (1.0 + p_.deadBand / 2));
      rec_ = static_cast<int32_t>(std::clamp<int64_t>(std::max<int64_t>(rec_, spare), lower, current_));
      heldForSpare_ = rec_ == current_;
    }
    const MonoTime runSince = !st_.recommendations.empty() && st_.recommendations.back().replicas == rec_
                                  ? st_.recommendations.back().runSince
                                  : now_;
    st_.recommendations.push_back({now_, rec_, raw_, runSince});
    const double keep =
        std::max({p_.scaleUp.stabilizationSeconds, p_.scaleDown.stabilizationSeconds, p_.pollIntervalSeconds});
    while (!st_.recommendations.empty() && (toSeconds(now_ - st_.recommendations.front().at) > keep ||
                                            st_.recommendations.size() > kMaxRecommendations)) {
      st_.recommendations.pop_front();
    }
    rates_ = describeRates(d_);
    limitNote_ = limitedByMax_ ? " (wanted " + std::to_string(wanted_) + ", limited by maxReplicas " +
                                     std::to_string(spec_.maxReplicas) + ")"
                 : limitedByMin_ ? " (minReplicas " + std::to_string(spec_.minReplicas) + ")"
                                 : "";
    limitReason_ = limitedByMax_ ? DecisionReason::kLimitedByMaxReplicas : DecisionReason::kLimitedByMinReplicas;
  }

  /// The largest (wantMax) or smallest recommendation within the window.
  int32_t windowExtreme(double windowSeconds, bool wantMax) const {
    int32_t v = rec_;
    for (const auto& r : st_.recommendations) {
      if (toSeconds(now_ - r.at) > windowSeconds) continue;
      v = wantMax ? std::max(v, r.replicas) : std::min(v, r.replicas);
    }
    return v;
  }

  Decision scaleUp() {
    int32_t up = p_.scaleUp.stabilizationSeconds > 0 ? windowExtreme(p_.scaleUp.stabilizationSeconds, false) : rec_;
    if (up > current_) {
      return finish(up, current_ == 0 ? DecisionReason::kScaledUpFromZero : DecisionReason::kScaledUpForBacklog,
                    "scaling up from " + std::to_string(current_) + " to " + std::to_string(up) +
                        " replicas: " + rates_ + limitNote_);
    }
    return finish(current_, d_.scalingLimited ? limitReason_ : DecisionReason::kAtDesiredReplicas,
                  "holding " + std::to_string(current_) + " replicas (scale-up stabilization): " + rates_);
  }

  Decision hold() {
    if (heldForSpare_) {
      return finish(current_, DecisionReason::kWithinDeadBand,
                    "holding " + std::to_string(current_) + " replicas: the policy wants " + fmt("%.2f", raw_) +
                        ", and " + std::to_string(current_ - 1) + " would leave less than " +
                        fmt("%.0f%%", p_.deadBand * 50) + " spare; " + rates_);
    }
    if (target_ != current_) {
      return finish(current_, DecisionReason::kWithinDeadBand,
                    "holding " + std::to_string(current_) + " replicas: the policy wants " + fmt("%.2f", raw_) +
                        ", within the dead band of " + fmt("%.0f%%", p_.deadBand * 100) + "; " + rates_);
    }
    if (spec_.minReplicas == 0 && idleNow_) {
      return finish(current_, DecisionReason::kWaitingForIdle,
                    "no backlog and no arrivals for " + fmt("%.0f", toSeconds(now_ - *st_.idleSince)) +
                        "s; scaling to zero after " + fmt("%.0f", p_.idleSeconds) + "s");
    }
    return finish(current_, d_.scalingLimited ? limitReason_ : DecisionReason::kAtDesiredReplicas,
                  "at " + std::to_string(current_) + " replicas: " + rates_ + limitNote_);
  }

  /// rec < current: scale down, damped.
  Decision scaleDown() {
    if (p_.policy == ScalingPolicyKind::kDrainTime && !st_.arrivalRate && obs_.entriesAdded) {
      // Without a measured arrival rate an empty backlog may just mean the pool
      // is keeping up; wait one poll for the rate before removing anything.
      return finish(current_, DecisionReason::kStabilizingScaleDown,
                    "waiting for a measured arrival rate before scaling down from " + std::to_string(current_));
    }
    if (!pendingKnown_) {
      return finish(current_, DecisionReason::kHoldingBacklogUnknown,
                    "pending count unknown, backlog is only a lower bound; not scaling down from " +
                        std::to_string(current_));
    }
    if (downHeld()) return finish(current_, DecisionReason::kStabilizingScaleDown, heldMessage());
    if (idleNow_ && p_.scaleDown.whenIdle == IdleScaleDown::kImmediate) {
      // Nothing to stabilize against: no backlog and no arrivals. Go to the
      // floor at once (scaleDown.whenIdle: immediate); zero still waits for
      // idleSeconds.
      return finish(rec_, DecisionReason::kScaledDown,
                    "stream idle (no backlog, no arrivals): scaling down from " + std::to_string(current_) + " to " +
                        std::to_string(rec_) + " replicas");
    }
    const int32_t down = windowExtreme(p_.scaleDown.stabilizationSeconds, true);
    if (down >= current_) {
      return finish(current_, DecisionReason::kStabilizingScaleDown,
                    "recommendation " + std::to_string(rec_) + " is below " + std::to_string(current_) +
                        " but the last " + fmt("%.0f", p_.scaleDown.stabilizationSeconds) +
                        "s wanted more; holding. " + rates_);
    }
    if (st_.lastScaleDownAt && toSeconds(now_ - *st_.lastScaleDownAt) < p_.scaleDown.periodSeconds) {
      return finish(current_, DecisionReason::kScaleDownRateLimited,
                    "scale-down to " + std::to_string(down) + " waits for the rate limit (one step per " +
                        fmt("%.0f", p_.scaleDown.periodSeconds) + "s)");
    }
    int32_t step = std::max({1, p_.scaleDown.maxPodsPerStep,
                             static_cast<int32_t>(std::ceil(current_ * p_.scaleDown.percent / 100.0))});
    int32_t desired = std::max(down, current_ - step);
    return finish(desired, DecisionReason::kScaledDown,
                  "scaling down from " + std::to_string(current_) + " to " + std::to_string(desired) +
                      " replicas: " + rates_ + limitNote_);
  }

  const ScalingSpec spec_;  // sanitized
  const ScalingParameters& p_;
  ScalingState& st_;
  const Observation& obs_;
  const MonoTime now_;
  const int32_t current_;
  const int32_t ready_;
  Decision d_;
  std::optional<int64_t> backlog_;
  bool pendingKnown_ = false;
  std::optional<uint64_t> addedDelta_;
  double mu_ = 1e-9, lambda_ = 0;
  double raw_ = 0;
  bool idleNow_ = false;
  int64_t wanted_ = 0;
  int32_t target_ = 0, rec_ = 0;
  bool limitedByMax_ = false, limitedByMin_ = false, heldForSpare_ = false;
  std::string rates_, limitNote_;
  DecisionReason limitReason_ = DecisionReason::kLimitedByMaxReplicas;
};

}  // namespace

Decision decide(const ScalingSpec& rawSpec, ScalingState& st, const Observation& obs, MonoTime now) {
  return Round(sanitized(rawSpec), st, obs, now).run();
}

}  // namespace shoal::policy
