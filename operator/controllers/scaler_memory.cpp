// status.scaler: the scaling state a successor needs (see scaler_memory.h).
#include "shoal/controllers/scaler_memory.h"

#include <algorithm>
#include <cmath>

namespace shoal::controllers {
namespace {

// Bound on the runs written to status (a window of 30 s at a 2 s poll has at
// most 15); the newest are kept.
constexpr size_t kMaxRuns = 64;

std::optional<std::string> wallText(const std::optional<MonoTime>& m, const ClockPairing& c) {
  if (!m) return std::nullopt;
  return api::formatTimeMillis(c.toWall(*m));
}

std::optional<MonoTime> monoOf(const std::optional<std::string>& text, MonoTime now,
                               const ClockPairing& c) {
  if (!text) return std::nullopt;
  auto w = api::parseTime(*text);
  if (!w) return std::nullopt;
  return std::min(now, c.toMono(*w));
}

std::optional<double> positiveFinite(std::optional<double> v) {
  if (!v || !std::isfinite(*v) || *v <= 0) return std::nullopt;
  return v;
}

}  // namespace

api::ScalerMemory rememberScaling(const policy::ScalingState& st, const ClockPairing& c) {
  api::ScalerMemory m;
  m.backlogSince = wallText(st.backlogSince, c);
  m.idleSince = wallText(st.idleSince, c);
  m.lastScaleUpTime = wallText(st.lastScaleUpAt, c);
  m.lastScaleDownTime = wallText(st.lastScaleDownAt, c);
  if (auto mu = positiveFinite(st.learnedThroughput)) {
    m.learnedThroughput = std::round(*mu * 10.0) / 10.0;
  }
  for (const auto& r : st.recommendations) {
    if (!m.recommendations.empty() && m.recommendations.back().replicas == r.replicas) continue;
    m.recommendations.push_back({api::formatTimeMillis(c.toWall(r.runSince)), r.replicas});
  }
  if (m.recommendations.size() > kMaxRuns) {
    m.recommendations.erase(m.recommendations.begin(),
                            m.recommendations.end() - static_cast<std::ptrdiff_t>(kMaxRuns));
  }
  return m;
}

policy::ScalingState restoreScaling(const api::WorkerPoolStatus& status,
                                    const policy::ScalingSpec& spec, MonoTime now,
                                    const ClockPairing& c) {
  policy::ScalingState st;
  const api::ScalerMemory& m = status.scaler;
  st.backlogSince = monoOf(m.backlogSince, now, c);
  st.idleSince = monoOf(m.idleSince, now, c);
  st.lastScaleUpAt = monoOf(m.lastScaleUpTime, now, c);
  st.lastScaleDownAt = monoOf(m.lastScaleDownTime, now, c);
  st.learnedThroughput = positiveFinite(m.learnedThroughput);
  // The rates are not carried over: they are measured again within two polls,
  // and the window's recommendations already hold what the old rates asked
  // for. A smoothed rate without its median history would outlive the load.
  // Each run lasted until the next began; the last one until now (the best
  // guess for the gap between the old leader's last poll and this one).
  std::vector<std::pair<MonoTime, int32_t>> runs;
  for (const auto& r : m.recommendations) {
    if (auto since = monoOf(r.since, now, c)) runs.emplace_back(*since, std::max(0, r.replicas));
  }
  std::stable_sort(runs.begin(), runs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < runs.size(); ++i) {
    const MonoTime end = i + 1 < runs.size() ? runs[i + 1].first : now;
    policy::ScalingState::Recommendation rec;
    rec.at = end;
    rec.replicas = runs[i].second;
    rec.raw = runs[i].second;
    rec.runSince = runs[i].first;
    st.recommendations.push_back(rec);
  }
  double window = spec.scaling.scaleDown.stabilizationSeconds;
  if (!std::isfinite(window) || window < 0) window = 0;
  st.scaleDownHeldUntil = now + seconds(std::min(window, 3600.0));
  return st;
}

}  // namespace shoal::controllers
