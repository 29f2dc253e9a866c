// What local mode remembers of a run: one sample per WorkerPool reconcile
// (backlog, rates, replicas), as CSV for tools, summarized (peak replicas,
// replica-seconds, time to drain) and drawn as an SVG chart of backlog and
// replicas over time. Pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shoal::local {

struct HistorySample {
  double t = 0;      // seconds since local mode started
  std::string pool;  // ns/name
  std::optional<int64_t> lag;
  std::optional<int64_t> pending;
  std::optional<int64_t> backlog;  // lag + pending when both known
  std::optional<double> arrivalRate;
  std::optional<double> consumptionRate;
  int32_t desired = 0;
  int32_t replicas = 0;
  int32_t ready = 0;
};

/// "t_seconds,pool,lag,pending,backlog,arrival_per_s,consumption_per_s,desired,replicas,ready"
std::string historyCsvHeader();
/// One CSV line (no newline); unknown values are empty fields.
std::string historyCsvLine(const HistorySample& s);

struct RunSummary {
  int32_t peakReplicas = 0;
  int32_t peakDesired = 0;
  int64_t peakBacklog = 0;
  /// Sum of running replicas over time (each sample holds until the next).
  double replicaSeconds = 0;
  /// From the first sample with a backlog to the first one after the peak
  /// where it is zero again; nullopt if it never got there.
  std::optional<double> drainSeconds;
  std::optional<double> burstSeenAt;  // t of the first sample with a backlog
  double durationSeconds = 0;
};

/// Summary of one pool's samples (ordered by t).
RunSummary summarize(const std::vector<HistorySample>& samples);

/// An SVG line chart: backlog (left axis) and running/desired replicas
/// (right axis) over time, for one pool's samples.
std::string renderChartSvg(const std::vector<HistorySample>& samples, const std::string& title);

}  // namespace shoal::local
