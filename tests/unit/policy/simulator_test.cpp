// A short run of the scaling simulator (bench/sim) asserting the headline
// properties of Shoal's policy against the KEDA+HPA model: no false scale to
// zero when the lag turns nil, a burst drained no later and with at most half
// the replica-seconds, and deterministic results for a seed.
#include <gtest/gtest.h>

#include "shoal/sim/simulator.h"

namespace shoal::sim {
namespace {

Trace shortNilLagTrace() {
  Trace t;
  t.name = "nil_lag_short";
  t.description = "300/s, 20k burst at 60 s, lag nil from 200 s";
  t.durationSeconds = 600;
  t.rateSteps = {{0, 300}};
  t.noiseFraction = 0.1;
  t.bursts.push_back({60, 20'000, 1});
  t.events.push_back({60, "burst"});
  t.nilLagFrom = 200;
  return t;
}

const Trace& standard(const std::string& name) {
  static const std::vector<Trace> traces = standardTraces(1);
  for (const auto& t : traces)
    if (t.name == name) return t;
  throw std::runtime_error("no trace " + name);
}

TEST(Simulator, ShoalNeverScalesABackloggedStreamToZeroWhenLagIsNil) {
  Workload w;
  SimOptions opt;
  auto shoal = simulate(shortNilLagTrace(), w, PolicyKind::kShoal, opt);
  auto keda = simulate(shortNilLagTrace(), w, PolicyKind::kKedaCareful, opt);
  EXPECT_EQ(shoal.falseScaleToZero, 0);
  EXPECT_EQ(shoal.falseScaleDowns, 0);
  EXPECT_GT(shoal.seriesReplicas.back(), 0);
  // The model reproduces KEDA's failure: nil reads -1, inactive, zero after the cooldown.
  EXPECT_EQ(keda.falseScaleToZero, 1);
  EXPECT_EQ(keda.seriesReplicas.back(), 0);
  // At the end Shoal keeps up (backlog ~ in-flight only); KEDA's grows at 300/s.
  EXPECT_LT(shoal.seriesBacklog.back(), 1000);
  EXPECT_GT(keda.seriesBacklog.back(), 20000);
}

TEST(Simulator, BurstDrainedNoLaterWithAtMostHalfTheReplicaSeconds) {
  Workload w;
  SimOptions opt;
  const Trace& t = standard("burst_10k");
  auto shoal = simulate(t, w, PolicyKind::kShoal, opt);
  auto keda = simulate(t, w, PolicyKind::kKedaCareful, opt);
  ASSERT_TRUE(shoal.meanDrainSeconds().has_value());
  ASSERT_TRUE(keda.meanDrainSeconds().has_value());
  EXPECT_LE(*shoal.meanDrainSeconds(), *keda.meanDrainSeconds());
  EXPECT_LE(shoal.replicaSeconds, 0.5 * keda.replicaSeconds);
  EXPECT_EQ(shoal.deadlineMet(w.drainSeconds), shoal.deadlineEvents());
  ASSERT_TRUE(shoal.maxSettleSeconds().has_value());
  EXPECT_LE(*shoal.maxSettleSeconds(), 60);
  // Every entry was delivered and acknowledged by the end; replicas back to zero.
  EXPECT_NEAR(shoal.entriesAcked, shoal.entriesAdded, 1e-6);
  EXPECT_EQ(shoal.seriesReplicas.back(), 0);
}

TEST(Simulator, DeterministicForASeed) {
  Workload w;
  SimOptions a;
  a.seed = 7;
  const Trace t = standardTraces(7)[4];  // spikes
  auto r1 = simulate(t, w, PolicyKind::kShoal, a);
  auto r2 = simulate(t, w, PolicyKind::kShoal, a);
  EXPECT_EQ(r1.replicaSeconds, r2.replicaSeconds);
  EXPECT_EQ(r1.maxBacklog, r2.maxBacklog);
  EXPECT_EQ(r1.seriesReplicas, r2.seriesReplicas);
  SimOptions b;
  b.seed = 8;
  auto r3 = simulate(standardTraces(8)[4], w, PolicyKind::kShoal, b);
  EXPECT_NE(r1.replicaSeconds, r3.replicaSeconds);
}

TEST(Simulator, ChartAndTableMentionEveryPolicy) {
  Workload w;
  SimOptions opt;
  const Trace& t = standard("burst_10k");
  std::vector<RunResult> results;
  for (PolicyKind k : allPolicies()) results.push_back(simulate(t, w, k, opt));
  std::string svg = renderSvg(t, results);
  std::string table = renderTable(results, w);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  for (PolicyKind k : allPolicies()) {
    EXPECT_NE(svg.find(policyName(k)), std::string::npos);
    EXPECT_NE(table.find("| burst_10k | " + policyName(k) + " |"), std::string::npos);
  }
}

}  // namespace
}  // namespace shoal::sim
