// A model of today's standard for lag-based scaling, KEDA's Redis Streams
// scaler (lag mode) driving a Kubernetes HPA v2, used as the baseline Shoal's
// policy is measured against (bench/sim) and pinned rule by rule in
// tests/unit/policy. Pure functions over a small state; no I/O, explicit time.
//
// What is modelled (from KEDA's and Kubernetes' documented behaviour):
// KEDA, every pollingInterval (30 s):
//   - reads the group's lag; a nil lag is read as -1; a failed read changes
//     nothing;
//   - active  <=> lag > activationLagCount; when active, remember the time;
//   - at 0 replicas and active: scale to max(1, minReplicaCount);
//   - with minReplicaCount 0, more than 0 replicas, inactive and the last
//     active time older than cooldownPeriod (300 s): scale to 0.
// HPA, every sync period (15 s), only while the target has > 0 replicas:
//   - external metric, AverageValue target lagCount: with current replicas c
//     and metric m (the lag, -1 when nil), ratio = m / (lagCount * c); if
//     |ratio - 1| <= tolerance (0.1) keep c, else ceil(m / lagCount);
//   - outside [minReplicas = max(1, minReplicaCount), maxReplicaCount]: clamp
//     first (the HPA's own rule for out-of-range targets);
//   - behavior unset: the recommendation is the largest of the last 300 s
//     (this one included), capped by max(2 * c, 4) and by min/max;
//   - explicit default behavior: scale-up window 0 s (min over window) with
//     policies 4 pods / 15 s and 100 % / 15 s (selectPolicy Max, counted
//     from the period's starting count), scale-down window 300 s (max over
//     window) with 100 % / 15 s.
// Not modelled: metric caching options, fallback, custom HPA tolerances per
// direction, readiness delays on resource metrics (not used by external metrics).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "shoal/common/clock.h"

namespace shoal::sim {

enum class HpaBehavior {
  kUnset,           ///< spec.behavior absent: legacy normalization
  kExplicitDefault  ///< spec.behavior set to the documented default values
};

struct KedaHpaConfig {
  // ScaledObject
  double pollingIntervalSeconds = 30;
  double cooldownPeriodSeconds = 300;
  int32_t minReplicaCount = 0;
  int32_t maxReplicaCount = 100;
  // redis-streams trigger, lag mode
  int64_t lagCount = 5;
  int64_t activationLagCount = 0;
  // HPA (kube-controller-manager defaults)
  double hpaSyncPeriodSeconds = 15;
  double tolerance = 0.1;
  double downscaleStabilizationSeconds = 300;
  HpaBehavior behavior = HpaBehavior::kUnset;
};

/// One reading of the consumer group as KEDA's scaler sees it.
struct KedaReading {
  bool readOk = true;
  std::optional<int64_t> lag;  ///< nullopt: Redis reported nil
};

/// The metric KEDA hands to the HPA: the lag, or -1 for a nil lag.
int64_t kedaLagMetric(const KedaReading& r);

/// The HPA's replica count for an AverageValue external metric before
/// stabilization and limits: `current` within tolerance, else
/// ceil(metric / target) (never negative).
int32_t hpaReplicasForAverageValue(double metric, double targetAverageValue, int32_t current,
                                   double tolerance);

struct KedaHpaState {
  struct Recommendation {
    MonoTime at;
    int32_t replicas = 0;
  };
  struct ScaleEvent {
    MonoTime at;
    int32_t change = 0;  ///< pods added (scale-up list) or removed (scale-down list)
  };
  std::optional<MonoTime> lastActiveAt;
  bool active = false;
  std::deque<Recommendation> recommendations;
  std::deque<ScaleEvent> scaleUpEvents;
  std::deque<ScaleEvent> scaleDownEvents;
};

/// KEDA's poll: returns the replica count after KEDA's own 0 <-> n actions.
int32_t kedaPoll(const KedaHpaConfig& cfg, KedaHpaState& st, const KedaReading& reading,
                 int32_t currentReplicas, MonoTime now);

/// One HPA sync: returns the replica count the HPA sets (== current when it
/// does nothing, including at 0 replicas).
int32_t hpaSync(const KedaHpaConfig& cfg, KedaHpaState& st, const KedaReading& reading,
                int32_t currentReplicas, MonoTime now);

/// Drives kedaPoll and hpaSync on their own periods. Not thread-safe.
class KedaHpaModel {
 public:
  /// The first KEDA poll happens at start + pollPhase, the first HPA sync at
  /// start + syncPhase (real controllers start at arbitrary phases).
  KedaHpaModel(KedaHpaConfig cfg, MonoTime start, Duration pollPhase = Duration::zero(),
               Duration syncPhase = Duration::zero());
  /// When the next poll or sync is due.
  MonoTime nextEventAt() const;
  /// Runs every poll and sync due at or before `now` (KEDA first) against
  /// `reading` and returns the resulting replica count.
  int32_t advance(MonoTime now, const KedaReading& reading, int32_t currentReplicas);
  const KedaHpaConfig& config() const { return cfg_; }
  const KedaHpaState& state() const { return st_; }

 private:
  KedaHpaConfig cfg_;
  KedaHpaState st_;
  MonoTime nextPoll_;
  MonoTime nextSync_;
};

}  // namespace shoal::sim
