// The scaling simulator: a Redis stream with an arrival trace, a consumer
// group, worker pods that start after a delay and then consume at a per-pod
// rate with noise, and a scaling policy (Shoal's, or the KEDA+HPA model)
// deciding on its own period. Discrete 100 ms steps, deterministic given a
// seed: the same seed gives the same arrivals, pod speeds and start-up delays
// to every policy, and the same numbers on every run.
//
// Stream model: lag = entries added but not yet read by the group; pending =
// read (delivered) but not yet acknowledged. A ready pod reads a batch (up to
// 100 entries) when it has nothing in flight and acknowledges at its rate. A
// pod being removed stops reading and finishes its batch (Shoal's worker does
// this on SIGTERM), counting towards replica-seconds until it exits. Pods
// removed first: not-ready ones, then the newest.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "shoal/sim/keda_hpa_model.h"
#include "shoal/policy/scaling_policy.h"

namespace shoal::sim {

/// An arrival trace: a mean rate over time, multiplicative noise, and
/// instantaneous bursts. `events` mark the moments drain metrics are taken
/// from (bursts, spikes, rate steps).
struct Trace {
  std::string name;
  std::string description;
  double durationSeconds = 600;
  /// Mean arrival rate (entries/s) at time t; the noise is applied on top.
  std::vector<std::pair<double, double>> rateSteps;  ///< (from time, rate), piecewise constant
  double sineAmplitude = 0;  ///< added to the step rate: amplitude * sin(2π t / sinePeriod)
  double sinePeriodSeconds = 0;
  double noiseFraction = 0;  ///< each second's rate is multiplied by U[1-f, 1+f]
  struct Burst {
    double at = 0;
    double entries = 0;
    double overSeconds = 1;
  };
  std::vector<Burst> bursts;
  struct Event {
    double at = 0;
    std::string label;
  };
  std::vector<Event> events;
  /// While [nilFrom, nilUntil) the group's lag reads nil (after XDEL/trim).
  std::optional<double> nilLagFrom;
  double nilLagUntil = 1e18;

  /// The mean (noise-free) rate at t.
  double meanRate(double t) const;
};

/// The workload every policy faces.
struct Workload {
  double perPodThroughput = 200;  ///< mean entries/s of one ready pod
  double podSpeedNoise = 0.1;     ///< each pod-second's speed is U[1-f, 1+f] times the mean
  double podStartupSeconds = 10;  ///< mean; each pod draws U[0.8, 1.2] times this
  int32_t batchSize = 100;
  int32_t minReplicas = 0;
  int32_t maxReplicas = 20;
  double drainSeconds = 60;
  /// Shoal's spec.scaling; the workload-tied fields (drainSeconds,
  /// perReplicaThroughput, podStartupSeconds) are overwritten from above.
  policy::ScalingParameters shoalScaling;
};

enum class PolicyKind {
  kShoal,                ///< Shoal's drainTime policy with default spec values
  kKedaCareful,          ///< KEDA lagCount = μ × drainSeconds, HPA behavior unset
  kKedaCarefulBehavior,  ///< the same with the HPA's explicit default behavior
  kKedaDefault,          ///< KEDA's documented defaults (lagCount 5), behavior unset
};
std::string policyName(PolicyKind k);
const std::vector<PolicyKind>& allPolicies();

/// The Shoal spec the simulator uses: defaults, plus the workload's min/max,
/// drain deadline, start-up time and a prior equal to the mean pod speed.
policy::ScalingSpec shoalSpecFor(const Workload& w);
/// The KEDA configuration for a policy kind (careful or default).
KedaHpaConfig kedaConfigFor(const Workload& w, PolicyKind k);

/// Per-event figures (a burst, a spike or a rate step).
struct EventResult {
  std::string label;
  double at = 0;
  double sizeEntries = 0;              ///< entries that arrived in the burst (0 for steps)
  std::optional<double> drainSeconds;  ///< from the event until lag is back under the threshold
  bool backlogFormed = false;          ///< lag went above the threshold after the event
  bool feasible = false;               ///< maxReplicas could meet the deadline at all
  std::optional<double>
      settleAfterDrainSeconds;  ///< drain to the last replica change of the window
};

/// Whole-run figures for one policy on one trace.
struct RunResult {
  std::string trace;
  PolicyKind policy = PolicyKind::kShoal;
  double durationSeconds = 0;
  double replicaSeconds = 0;
  double maxBacklog = 0;  ///< lag + pending
  int32_t reversals = 0;
  double reversalsPerHour = 0;
  int32_t falseScaleDowns = 0;
  int32_t falseScaleToZero = 0;
  int32_t scaleChanges = 0;
  double meanBacklog = 0;  ///< time average of lag + pending
  /// Mean time an entry waits (Little's law: mean backlog / mean arrival
  /// rate); the drain figure for traces without events (diurnal).
  double meanWaitSeconds() const;
  double entriesAdded = 0;
  double entriesAcked = 0;
  std::vector<EventResult> events;
  /// Downsampled series for charts: time (s), backlog (max in bucket), replicas.
  std::vector<double> seriesTime;
  std::vector<double> seriesBacklog;
  std::vector<double> seriesReplicas;

  std::optional<double> meanDrainSeconds() const;
  std::optional<double> maxDrainSeconds() const;
  std::optional<double> maxSettleSeconds() const;
  int32_t deadlineMet(double drainSeconds) const;  ///< among feasible events with a backlog
  int32_t deadlineEvents() const;                  ///< feasible events with a backlog
};

struct SimOptions {
  double stepSeconds = 0.1;
  uint64_t seed = 1;
  double chartPoints = 1200;         ///< about this many points per series
  std::FILE* decisionLog = nullptr;  ///< when set, every Shoal decision is printed here
};

/// Runs one policy against one trace. Deterministic in (trace, workload, seed).
RunResult simulate(const Trace& trace, const Workload& w, PolicyKind policy, const SimOptions& opt);

/// The standard traces (names: burst_10k, burst_100k, step, diurnal, spikes,
/// nil_lag). `seed` draws the random parts (burst jitter, spike times/sizes).
std::vector<Trace> standardTraces(uint64_t seed);

/// Markdown table of all results.
std::string renderTable(const std::vector<RunResult>& results, const Workload& w);
/// A hand-written SVG chart: backlog (top) and replicas (bottom) over time,
/// one line per policy.
std::string renderSvg(const Trace& trace, const std::vector<RunResult>& results);

}  // namespace shoal::sim
