// The KEDA Redis Streams scaler + HPA v2 baseline (see keda_hpa_model.h).
#include "shoal/sim/keda_hpa_model.h"

#include <algorithm>
#include <cmath>

namespace shoal::sim {
namespace {

constexpr double kHpaScaleUpLimitFactor = 2.0;
constexpr int32_t kHpaScaleUpLimitMinimum = 4;
// The documented default behavior's policies.
constexpr int32_t kDefaultUpPods = 4;
constexpr double kDefaultUpPercent = 100;
constexpr double kDefaultUpPeriod = 15;
constexpr double kDefaultDownPercent = 100;
constexpr double kDefaultDownPeriod = 15;
constexpr double kDefaultUpWindow = 0;

Duration secs(double s) {
  return seconds(s);
}

int32_t hpaMinReplicas(const KedaHpaConfig& cfg) {
  return std::max(1, cfg.minReplicaCount);
}

int32_t changeWithin(const std::deque<KedaHpaState::ScaleEvent>& events, MonoTime now,
                     double period) {
  int32_t sum = 0;
  for (const auto& e : events)
    if (e.at > now - secs(period)) sum += e.change;
  return sum;
}

void pruneEvents(std::deque<KedaHpaState::ScaleEvent>& events, MonoTime now, double period) {
  while (!events.empty() && events.front().at <= now - secs(period)) events.pop_front();
}

}  // namespace

int64_t kedaLagMetric(const KedaReading& r) {
  return r.lag ? *r.lag : -1;
}

int32_t hpaReplicasForAverageValue(double metric, double target, int32_t current,
                                   double tolerance) {
  if (!(target > 0)) return current;
  if (current > 0) {
    double ratio = metric / (target * current);
    if (std::abs(1.0 - ratio) <= tolerance) return current;
  }
  double n = std::ceil(metric / target);
  if (!(n > 0)) return 0;
  if (n > 1e9) return 1'000'000'000;
  return static_cast<int32_t>(n);
}

int32_t kedaPoll(const KedaHpaConfig& cfg, KedaHpaState& st, const KedaReading& reading,
                 int32_t current, MonoTime now) {
  if (!reading.readOk) return current;  // scaler error, no fallback configured: no change
  st.active = kedaLagMetric(reading) > cfg.activationLagCount;
  if (st.active) {
    st.lastActiveAt = now;
    if (current == 0) return std::max(1, cfg.minReplicaCount);
    return current;
  }
  if (cfg.minReplicaCount == 0 && current > 0) {
    bool cooledDown = !st.lastActiveAt || now - *st.lastActiveAt >= secs(cfg.cooldownPeriodSeconds);
    if (cooledDown) return 0;
  }
  return current;
}

int32_t hpaSync(const KedaHpaConfig& cfg, KedaHpaState& st, const KedaReading& reading,
                int32_t current, MonoTime now) {
  const int32_t minR = hpaMinReplicas(cfg);
  const int32_t maxR = std::max(minR, cfg.maxReplicaCount);
  if (current == 0) return 0;  // scaling disabled at zero; KEDA owns 0 <-> 1
  if (current > maxR) return maxR;
  if (current < minR) return minR;
  if (!reading.readOk) return current;  // metric unavailable: ScalingActive False, no change

  const int32_t proposed =
      hpaReplicasForAverageValue(static_cast<double>(kedaLagMetric(reading)),
                                 static_cast<double>(cfg.lagCount), current, cfg.tolerance);
  int32_t desired = current;
  if (cfg.behavior == HpaBehavior::kUnset) {
    // Largest recommendation of the window, this one included.
    const MonoTime cutoff = now - secs(cfg.downscaleStabilizationSeconds);
    while (!st.recommendations.empty() && st.recommendations.front().at < cutoff)
      st.recommendations.pop_front();
    int32_t stabilized = proposed;
    for (const auto& r : st.recommendations) stabilized = std::max(stabilized, r.replicas);
    st.recommendations.push_back({now, proposed});
    int32_t upLimit =
        std::max(static_cast<int32_t>(kHpaScaleUpLimitFactor * current), kHpaScaleUpLimitMinimum);
    int32_t maxAllowed = std::min(maxR, upLimit);
    desired = std::clamp(stabilized, minR, std::max(minR, maxAllowed));
  } else {
    const double upWindow = kDefaultUpWindow;
    const double downWindow = cfg.downscaleStabilizationSeconds;
    const bool upward = proposed >= current;
    const MonoTime cutoff = now - secs(upward ? upWindow : downWindow);
    int32_t stabilized = proposed;
    for (const auto& r : st.recommendations) {
      if (r.at > cutoff)
        stabilized = upward ? std::min(stabilized, r.replicas) : std::max(stabilized, r.replicas);
    }
    const MonoTime obsolete = now - secs(std::max(upWindow, downWindow));
    while (!st.recommendations.empty() && st.recommendations.front().at < obsolete)
      st.recommendations.pop_front();
    st.recommendations.push_back({now, proposed});

    desired = stabilized;
    if (desired > current) {
      int32_t startUp = current - changeWithin(st.scaleUpEvents, now, kDefaultUpPeriod);
      int32_t byPods = startUp + kDefaultUpPods;
      int32_t byPercent = static_cast<int32_t>(std::ceil(startUp * (1 + kDefaultUpPercent / 100)));
      int32_t limit = std::max(std::max(byPods, byPercent), current);
      desired = std::min(desired, std::min(maxR, limit));
    } else if (desired < current) {
      int32_t startDown = current + changeWithin(st.scaleDownEvents, now, kDefaultDownPeriod);
      int32_t limit = static_cast<int32_t>(startDown * (1 - kDefaultDownPercent / 100));
      limit = std::min(limit, current);
      desired = std::max(desired, std::max(minR, limit));
    }
    desired = std::clamp(desired, minR, maxR);
    pruneEvents(st.scaleUpEvents, now, kDefaultUpPeriod);
    pruneEvents(st.scaleDownEvents, now, kDefaultDownPeriod);
    if (desired > current) st.scaleUpEvents.push_back({now, desired - current});
    if (desired < current) st.scaleDownEvents.push_back({now, current - desired});
  }
  return desired;
}

KedaHpaModel::KedaHpaModel(KedaHpaConfig cfg, MonoTime start, Duration pollPhase,
                           Duration syncPhase)
    : cfg_(cfg), nextPoll_(start + pollPhase), nextSync_(start + syncPhase) {
  // A ScaledObject starts out as if just active, so a fresh deployment is
  // not scaled to zero before its first cooldown.
  st_.lastActiveAt = start;
}

MonoTime KedaHpaModel::nextEventAt() const {
  return std::min(nextPoll_, nextSync_);
}

int32_t KedaHpaModel::advance(MonoTime now, const KedaReading& reading, int32_t current) {
  const Duration pollEvery = secs(std::max(0.1, cfg_.pollingIntervalSeconds));
  const Duration syncEvery = secs(std::max(0.1, cfg_.hpaSyncPeriodSeconds));
  while (nextPoll_ <= now || nextSync_ <= now) {
    if (nextPoll_ <= nextSync_) {
      current = kedaPoll(cfg_, st_, reading, current, nextPoll_);
      nextPoll_ += pollEvery;
    } else {
      current = hpaSync(cfg_, st_, reading, current, nextSync_);
      nextSync_ += syncEvery;
    }
  }
  return current;
}

}  // namespace shoal::sim
