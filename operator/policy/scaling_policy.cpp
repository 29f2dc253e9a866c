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

Decision decide(const ScalingSpec& rawSpec, ScalingState& st, const Observation& obs,
                MonoTime now) {
  const ScalingSpec spec = sanitized(rawSpec);
  const ScalingParameters& p = spec.scaling;
  const int32_t current = std::max(0, obs.currentReplicas);
  const int32_t ready = std::clamp(obs.readyReplicas, 0, std::max(current, obs.readyReplicas));

  // --- The backlog: known only when the read worked and lag is a real count.
  // A negative lag is what a nil lag becomes in some clients (KEDA reads -1):
  // it is treated as unknown, never as "no backlog".
  std::optional<int64_t> backlog;
  bool pendingKnown = false;
  if (obs.readOk && obs.lag && *obs.lag >= 0) {
    int64_t pending = 0;
    if (obs.pending && *obs.pending >= 0) {
      pending = *obs.pending;
      pendingKnown = true;
    }
    // Saturating: absurd counts from a broken server must not overflow.
    const int64_t room = std::numeric_limits<int64_t>::max() - *obs.lag;
    backlog = pending > room ? std::numeric_limits<int64_t>::max() : *obs.lag + pending;
  }

  // --- Rates from the counters (also while lag is unknown: entries-added is
  // still meaningful then).
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
      while (st.recentArrivalRates.size() > kArrivalMedianSamples)
        st.recentArrivalRates.pop_front();
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
                  static_cast<double>(*backlog) >= mu * ready * 1.0 &&
                  st.lastReadyReplicas == ready && consumed > 0;
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

  Decision d;
  d.backlog = backlog;
  d.arrivalRate = st.arrivalRate;
  d.consumptionRate = st.consumptionRate;
  d.throughputMeasured = st.learnedThroughput.has_value();
  d.perReplicaThroughput = st.learnedThroughput.value_or(p.perReplicaThroughput);
  const double mu = std::max(1e-9, d.perReplicaThroughput);
  const double lambda = std::max(0.0, st.arrivalRate.value_or(0.0));

  auto estimateDrain = [&](int32_t replicas) -> std::optional<double> {
    if (!backlog) return std::nullopt;
    if (*backlog == 0) return 0.0;
    double net = replicas * mu - lambda;
    if (net <= 0) return std::nullopt;
    return static_cast<double>(*backlog) / net;
  };
  auto finish = [&](int32_t desired, DecisionReason reason, std::string message) {
    d.desiredReplicas = desired;
    d.reason = reason;
    d.message = std::move(message);
    d.estimatedDrainSeconds = estimateDrain(desired);
    if (desired > current) st.lastScaleUpAt = now;
    if (desired < current) st.lastScaleDownAt = now;
    return d;
  };

  if (p.paused) {
    d.scalingActive = false;
    return finish(current, DecisionReason::kScalingPaused,
                  "scaling is paused; keeping " + std::to_string(current) + " replicas");
  }

  // --- Unknown backlog: never down, never to zero.
  if (!backlog) {
    st.consecutiveFailures = std::min(st.consecutiveFailures + 1, 1'000'000);
    st.idleSince.reset();
    d.scalingActive = false;
    d.fallback = true;
    std::string why =
        !obs.readOk ? "the backlog read failed" : "the consumer group's lag is unknown (nil)";
    if (!obs.error.empty()) why += ": " + obs.error;
    if (p.fallbackReplicas && st.consecutiveFailures >= p.failuresBeforeFallback) {
      int32_t target = std::max(current, std::min(*p.fallbackReplicas, spec.maxReplicas));
      return finish(target, DecisionReason::kFallbackReplicas,
                    why + " " + std::to_string(st.consecutiveFailures) +
                        " times in a row; running " + std::to_string(target) +
                        " replicas (fallbackReplicas " + std::to_string(*p.fallbackReplicas) +
                        ", never fewer than current)");
    }
    int32_t target = current;
    if (target < spec.minReplicas) target = spec.minReplicas;
    bool evidenceOfWork =
        (obs.readOk && obs.pending && *obs.pending > 0) || (addedDelta && *addedDelta > 0);
    if (target == 0 && evidenceOfWork && spec.maxReplicas > 0) target = 1;
    return finish(target, DecisionReason::kHoldingBacklogUnknown,
                  why + "; holding " + std::to_string(target) +
                      " replicas (never scaling down on an unknown backlog)");
  }
  st.consecutiveFailures = 0;

  // --- The policy's recommendation (fractional replicas).
  const double B = static_cast<double>(*backlog);
  double raw = 0;
  if (p.policy == ScalingPolicyKind::kTargetBacklogPerReplica) {
    raw = B / static_cast<double>(p.targetBacklogPerReplica);
  } else {
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
    if (work <= readyCapacity) {
      raw = work / T;
    } else {
      raw = ready + (work - readyCapacity) / std::max(T - S, T / 2);
    }
  }
  d.recommendedReplicas = raw;
  d.scalingActive = true;

  // --- Idle and scale to zero (only with minReplicas 0).
  const bool arrivalsZero = addedDelta && *addedDelta == 0;
  const bool idleNow = *backlog == 0 && arrivalsZero && pendingKnown;
  if (idleNow) {
    if (!st.idleSince) st.idleSince = now;
  } else {
    st.idleSince.reset();
  }
  // A controller that took the pool over has not yet watched a full window:
  // whatever it would remove, it holds.
  const bool downHeld = st.scaleDownHeldUntil && now < *st.scaleDownHeldUntil;
  auto heldMessage = [&] {
    return "taken over recently: no scale-down from " + std::to_string(current) +
           " before a full stabilization window has been observed (" +
           fmt("%.0f", toSeconds(*st.scaleDownHeldUntil - now)) + "s to go); " + describeRates(d);
  };
  if (spec.minReplicas == 0) {
    if (current == 0) {
      if (*backlog <= p.activationBacklog || spec.maxReplicas == 0) {
        return finish(0, DecisionReason::kIdleAtZero,
                      "idle at zero replicas: backlog " + std::to_string(*backlog) +
                          " <= activationBacklog " + std::to_string(p.activationBacklog));
      }
    } else if (idleNow && toSeconds(now - *st.idleSince) >= p.idleSeconds) {
      if (downHeld) return finish(current, DecisionReason::kStabilizingScaleDown, heldMessage());
      st.recommendations.clear();
      return finish(0, DecisionReason::kScaledToZeroIdle,
                    "no backlog and no arrivals for " +
                        fmt("%.0f", toSeconds(now - *st.idleSince)) + "s (idleSeconds " +
                        fmt("%.0f", p.idleSeconds) + "); scaling to zero");
    }
  }

  // --- Clamp to [lower, max]; zero is only reachable through the idle rule.
  const int64_t wanted = ceilReplicas(raw);
  const int32_t lower = std::max(spec.minReplicas, 1);
  int32_t target = static_cast<int32_t>(std::clamp<int64_t>(wanted, lower, spec.maxReplicas));
  const bool limitedByMax = wanted > spec.maxReplicas;
  const bool limitedByMin = wanted < spec.minReplicas;
  d.scalingLimited = limitedByMax || limitedByMin;

  // Dead band (the HPA's tolerance, in replicas): no change while the
  // recommendation is within ±deadBand of the current count. Only when the
  // current count is itself within [lower, max] (a changed spec is obeyed).
  int32_t rec = target;
  const bool inRange = current >= lower && current <= spec.maxReplicas;
  if (inRange && target != current && raw >= current * (1.0 - p.deadBand) &&
      raw <= current * (1.0 + p.deadBand)) {
    rec = current;
  }
  // Scaling in keeps half the dead band as spare: only down to a count that
  // covers the recommendation plus deadBand/2 of it. Without it a need that sits on a
  // whole number (6.0 with noise) alternates between 6 and 7, and the count
  // settles whenever the noise happens to allow, minutes after the load
  // changed.
  bool heldForSpare = false;
  if (inRange && rec < current) {
    const int64_t spare = ceilReplicas(raw * (1.0 + p.deadBand / 2));
    rec = static_cast<int32_t>(std::clamp<int64_t>(std::max<int64_t>(rec, spare), lower, current));
    heldForSpare = rec == current;
  }
  const MonoTime runSince = !st.recommendations.empty() && st.recommendations.back().replicas == rec
                                ? st.recommendations.back().runSince
                                : now;
  st.recommendations.push_back({now, rec, raw, runSince});
  const double keep = std::max(
      {p.scaleUp.stabilizationSeconds, p.scaleDown.stabilizationSeconds, p.pollIntervalSeconds});
  while (!st.recommendations.empty() && (toSeconds(now - st.recommendations.front().at) > keep ||
                                         st.recommendations.size() > kMaxRecommendations)) {
    st.recommendations.pop_front();
  }
  auto windowExtreme = [&](double windowSeconds, bool wantMax) {
    int32_t v = rec;
    for (const auto& r : st.recommendations) {
      if (toSeconds(now - r.at) > windowSeconds) continue;
      v = wantMax ? std::max(v, r.replicas) : std::min(v, r.replicas);
    }
    return v;
  };

  const std::string rates = describeRates(d);
  const std::string limitNote =
      limitedByMax ? " (wanted " + std::to_string(wanted) + ", limited by maxReplicas " +
                         std::to_string(spec.maxReplicas) + ")"
      : limitedByMin ? " (minReplicas " + std::to_string(spec.minReplicas) + ")"
                     : "";
  const DecisionReason limitReason =
      limitedByMax ? DecisionReason::kLimitedByMaxReplicas : DecisionReason::kLimitedByMinReplicas;

  if (rec > current) {
    int32_t up = p.scaleUp.stabilizationSeconds > 0
                     ? windowExtreme(p.scaleUp.stabilizationSeconds, false)
                     : rec;
    if (up > current) {
      return finish(
          up,
          current == 0 ? DecisionReason::kScaledUpFromZero : DecisionReason::kScaledUpForBacklog,
          "scaling up from " + std::to_string(current) + " to " + std::to_string(up) +
              " replicas: " + rates + limitNote);
    }
    return finish(
        current, d.scalingLimited ? limitReason : DecisionReason::kAtDesiredReplicas,
        "holding " + std::to_string(current) + " replicas (scale-up stabilization): " + rates);
  }
  if (rec == current) {
    if (heldForSpare) {
      return finish(current, DecisionReason::kWithinDeadBand,
                    "holding " + std::to_string(current) + " replicas: the policy wants " +
                        fmt("%.2f", raw) + ", and " + std::to_string(current - 1) +
                        " would leave less than " + fmt("%.0f%%", p.deadBand * 50) + " spare; " +
                        rates);
    }
    if (target != current) {
      return finish(current, DecisionReason::kWithinDeadBand,
                    "holding " + std::to_string(current) + " replicas: the policy wants " +
                        fmt("%.2f", raw) + ", within the dead band of " +
                        fmt("%.0f%%", p.deadBand * 100) + "; " + rates);
    }
    if (spec.minReplicas == 0 && idleNow) {
      return finish(current, DecisionReason::kWaitingForIdle,
                    "no backlog and no arrivals for " +
                        fmt("%.0f", toSeconds(now - *st.idleSince)) + "s; scaling to zero after " +
                        fmt("%.0f", p.idleSeconds) + "s");
    }
    return finish(current, d.scalingLimited ? limitReason : DecisionReason::kAtDesiredReplicas,
                  "at " + std::to_string(current) + " replicas: " + rates + limitNote);
  }
  // rec < current: scale down, damped.
  if (p.policy == ScalingPolicyKind::kDrainTime && !st.arrivalRate && obs.entriesAdded) {
    // Without a measured arrival rate an empty backlog may just mean the pool
    // is keeping up; wait one poll for the rate before removing anything.
    return finish(
        current, DecisionReason::kStabilizingScaleDown,
        "waiting for a measured arrival rate before scaling down from " + std::to_string(current));
  }
  if (!pendingKnown) {
    return finish(current, DecisionReason::kHoldingBacklogUnknown,
                  "pending count unknown, backlog is only a lower bound; not scaling down from " +
                      std::to_string(current));
  }
  if (downHeld) return finish(current, DecisionReason::kStabilizingScaleDown, heldMessage());
  if (idleNow && p.scaleDown.whenIdle == IdleScaleDown::kImmediate) {
    // Nothing to stabilize against: no backlog and no arrivals. Go to the
    // floor at once (scaleDown.whenIdle: immediate); zero still waits for
    // idleSeconds.
    return finish(rec, DecisionReason::kScaledDown,
                  "stream idle (no backlog, no arrivals): scaling down from " +
                      std::to_string(current) + " to " + std::to_string(rec) + " replicas");
  }
  const int32_t down = windowExtreme(p.scaleDown.stabilizationSeconds, true);
  if (down >= current) {
    return finish(current, DecisionReason::kStabilizingScaleDown,
                  "recommendation " + std::to_string(rec) + " is below " + std::to_string(current) +
                      " but the last " + fmt("%.0f", p.scaleDown.stabilizationSeconds) +
                      "s wanted more; holding. " + rates);
  }
  if (st.lastScaleDownAt && toSeconds(now - *st.lastScaleDownAt) < p.scaleDown.periodSeconds) {
    return finish(current, DecisionReason::kScaleDownRateLimited,
                  "scale-down to " + std::to_string(down) +
                      " waits for the rate limit (one step per " +
                      fmt("%.0f", p.scaleDown.periodSeconds) + "s)");
  }
  int32_t step = std::max({1, p.scaleDown.maxPodsPerStep,
                           static_cast<int32_t>(std::ceil(current * p.scaleDown.percent / 100.0))});
  int32_t desired = std::max(down, current - step);
  return finish(desired, DecisionReason::kScaledDown,
                "scaling down from " + std::to_string(current) + " to " + std::to_string(desired) +
                    " replicas: " + rates + limitNote);
}

}  // namespace shoal::policy
