// What shoal-operator's /metrics serves, in the text exposition format,
// without a server: the leader gauge, probe errors by reason, pool gauges
// (backlog parts, rates, drain estimate and target, limits, conditions).
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <string>

#include "operator_metrics.h"

namespace shoal::operator_app {
namespace {

std::string exposition(prometheus::Registry& reg) {
  return prometheus::TextSerializer().Serialize(reg.Collect());
}

api::WorkerPool ordersInProd() {
  api::WorkerPool pool;
  pool.metadata.namespace_ = "prod";
  pool.metadata.name = "orders";
  return pool;
}

bool hasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(OperatorMetrics, LeaderGaugeFollowsLeadership) {
  prometheus::Registry reg;
  OperatorMetrics m(reg);
  std::string text = exposition(reg);
  EXPECT_TRUE(hasLine(text, "# TYPE shoal_operator_leader gauge")) << text;
  EXPECT_TRUE(hasLine(text, "shoal_operator_leader 0")) << "a standby until it leads\n" << text;
  m.setLeader(true);
  EXPECT_TRUE(hasLine(exposition(reg), "shoal_operator_leader 1")) << exposition(reg);
  m.setLeader(false);
  EXPECT_TRUE(hasLine(exposition(reg), "shoal_operator_leader 0")) << exposition(reg);
}

TEST(OperatorMetrics, ProbeErrorsAreCountedByTheConditionsReason) {
  prometheus::Registry reg;
  OperatorMetrics m(reg);
  std::string text = exposition(reg);
  EXPECT_TRUE(hasLine(text, "# TYPE shoal_operator_backlog_probe_errors_total counter")) << text;
  // Every reason is there before the first failure.
  for (const char* reason : {"RedisUnreachable", "StreamNotFound", "ConsumerGroupNotFound",
                             "RedisAuthFailed", "RedisProtocolError"}) {
    EXPECT_TRUE(hasLine(text, std::string("shoal_operator_backlog_probe_errors_total{reason=\"") +
                                  reason + "\"} 0"))
        << reason << "\n"
        << text;
  }
  m.readFailed(probe::ReadFailure::kUnreachable);
  m.readFailed(probe::ReadFailure::kUnreachable);
  m.readFailed(probe::ReadFailure::kAuth);
  text = exposition(reg);
  EXPECT_TRUE(
      hasLine(text, "shoal_operator_backlog_probe_errors_total{reason=\"RedisUnreachable\"} 2"))
      << text;
  EXPECT_TRUE(
      hasLine(text, "shoal_operator_backlog_probe_errors_total{reason=\"RedisAuthFailed\"} 1"))
      << text;
  EXPECT_TRUE(
      hasLine(text, "shoal_operator_backlog_probe_errors_total{reason=\"StreamNotFound\"} 0"))
      << text;
}

TEST(OperatorMetrics, EveryControllerAndResultIsExportedBeforeTheFirstReconcile) {
  prometheus::Registry reg;
  OperatorMetrics m(reg);
  const std::string text = exposition(reg);
  for (const char* controller : {"workerpool", "pipeline"}) {
    for (const char* result : {"success", "error"}) {
      EXPECT_TRUE(hasLine(text, std::string("shoal_operator_reconciles_total{controller=\"") +
                                    controller + "\",result=\"" + result + "\"} 0"))
          << controller << " " << result << "\n"
          << text;
    }
  }
}

TEST(OperatorMetrics, PoolGaugesAppearAndGoAwayWithThePool) {
  prometheus::Registry reg;
  OperatorMetrics m(reg);
  api::WorkerPool pool = ordersInProd();
  api::WorkerPoolStatus st;
  st.backlog.total = 42;
  st.desiredReplicas = 3;
  st.replicas = 2;
  st.readyReplicas = 1;
  m.observePool(pool, st);
  m.reconciled("workerpool", true, 0.01);
  std::string text = exposition(reg);
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_backlog{namespace=\"prod\",pool=\"orders\"} 42"))
      << text;
  EXPECT_TRUE(
      hasLine(text, "shoal_workerpool_desired_replicas{namespace=\"prod\",pool=\"orders\"} 3"));
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_replicas{namespace=\"prod\",pool=\"orders\"} 2"));
  EXPECT_TRUE(
      hasLine(text, "shoal_workerpool_ready_replicas{namespace=\"prod\",pool=\"orders\"} 1"));
  EXPECT_TRUE(hasLine(
      text, "shoal_operator_reconciles_total{controller=\"workerpool\",result=\"success\"} 1"))
      << text;
  EXPECT_TRUE(hasLine(
      text, "shoal_operator_reconcile_duration_seconds_count{controller=\"workerpool\"} 1"));
  st.backlog.total.reset();  // unknown: the series goes, it does not read 0
  m.observePool(pool, st);
  EXPECT_EQ(exposition(reg).find("shoal_workerpool_backlog{"), std::string::npos);
  m.forgetPool("prod", "orders");
  EXPECT_EQ(exposition(reg).find("pool=\"orders\""), std::string::npos) << exposition(reg);
}

api::Condition condition(const std::string& type, const std::string& status,
                         const std::string& reason) {
  api::Condition c;
  c.type = type;
  c.status = status;
  c.reason = reason;
  return c;
}

TEST(OperatorMetrics, PoolRatesDrainLimitsAndConditionsFollowTheStatus) {
  prometheus::Registry reg;
  OperatorMetrics m(reg);
  api::WorkerPool pool = ordersInProd();
  pool.spec.minReplicas = 0;
  pool.spec.maxReplicas = 7;
  pool.spec.scaling.drainSeconds = 120;
  api::WorkerPoolStatus st;
  st.backlog = {.lag = 30, .pending = 12, .total = 42};
  st.arrivalRate = 250.5;
  st.consumptionRate = 300;
  st.estimatedDrainSeconds = 0.84;
  st.scaler.backlogSince = "2026-01-02T03:04:05.500Z";
  st.conditions = {condition("ScalingActive", "True", "ScaledUpForBacklog"),
                   condition("Fallback", "False", "BacklogMeasured")};
  m.observePool(pool, st);
  const std::string l = "{namespace=\"prod\",pool=\"orders\"}";
  std::string text = exposition(reg);
  for (const std::string& line :
       {"shoal_workerpool_lag" + l + " 30", "shoal_workerpool_pending" + l + " 12",
        "shoal_workerpool_arrival_rate" + l + " 250.5",
        "shoal_workerpool_consumption_rate" + l + " 300",
        "shoal_workerpool_estimated_drain_seconds" + l + " 0.84",
        "shoal_workerpool_drain_target_seconds" + l + " 120",
        "shoal_workerpool_backlog_since_timestamp_seconds" + l + " 1767323045.5",
        "shoal_workerpool_min_replicas" + l + " 0", "shoal_workerpool_max_replicas" + l + " 7",
        std::string("shoal_workerpool_condition{condition=\"ScalingActive\",namespace=\"prod\","
                    "pool=\"orders\",reason=\"ScaledUpForBacklog\",status=\"True\"} 1"),
        std::string("shoal_workerpool_condition{condition=\"Fallback\",namespace=\"prod\","
                    "pool=\"orders\",reason=\"BacklogMeasured\",status=\"False\"} 1")}) {
    EXPECT_TRUE(hasLine(text, line)) << line << "\n" << text;
  }

  // The backlog becomes unknown and the scaler falls back: the unknown parts
  // go (never 0), the changed conditions replace their old series.
  st.backlog = {.lag = std::nullopt, .pending = 12, .total = std::nullopt};
  st.estimatedDrainSeconds.reset();
  st.scaler.backlogSince.reset();
  st.conditions = {condition("ScalingActive", "False", "RedisUnreachable"),
                   condition("Fallback", "True", "FallbackReplicas")};
  m.observePool(pool, st);
  text = exposition(reg);
  EXPECT_EQ(text.find("shoal_workerpool_lag{"), std::string::npos) << text;
  EXPECT_EQ(text.find("shoal_workerpool_estimated_drain_seconds{"), std::string::npos) << text;
  EXPECT_EQ(text.find("shoal_workerpool_backlog_since_timestamp_seconds{"), std::string::npos);
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_pending" + l + " 12")) << text;
  EXPECT_EQ(text.find("ScaledUpForBacklog"), std::string::npos) << text;
  EXPECT_EQ(text.find("BacklogMeasured"), std::string::npos) << text;
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_condition{condition=\"Fallback\",namespace=\"prod\","
                            "pool=\"orders\",reason=\"FallbackReplicas\",status=\"True\"} 1"))
      << text;

  // A sharded pool: the hottest shard's backlog and the shard count show;
  // back to one stream, they go.
  st.backlog = {.lag = 900, .pending = 20, .total = 920, .shards = 8, .hottestShard = "orders:{3}",
                .hottestShardTotal = 810};
  m.observePool(pool, st);
  text = exposition(reg);
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_hottest_shard_backlog" + l + " 810")) << text;
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_shards" + l + " 8")) << text;
  st.backlog = {.lag = 1, .pending = 0, .total = 1};
  m.observePool(pool, st);
  text = exposition(reg);
  EXPECT_EQ(text.find("shoal_workerpool_hottest_shard_backlog{"), std::string::npos) << text;
  EXPECT_EQ(text.find("shoal_workerpool_shards{"), std::string::npos) << text;

  // Scale changes count by direction and reason.
  m.scaled(pool, 1, 5, "ScaledUpForBacklog");
  m.scaled(pool, 5, 7, "ScaledUpForBacklog");
  m.scaled(pool, 7, 3, "ScaledDown");
  m.scaled(pool, 3, 3, "AtDesiredReplicas");  // no change, not a scale
  text = exposition(reg);
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_scaled_total{direction=\"up\",namespace=\"prod\","
                            "pool=\"orders\",reason=\"ScaledUpForBacklog\"} 2"))
      << text;
  EXPECT_TRUE(hasLine(text, "shoal_workerpool_scaled_total{direction=\"down\",namespace=\"prod\","
                            "pool=\"orders\",reason=\"ScaledDown\"} 1"))
      << text;
  EXPECT_EQ(text.find("AtDesiredReplicas"), std::string::npos) << text;

  // A targetBacklogPerReplica pool has no drain target.
  pool.spec.scaling.policy = "targetBacklogPerReplica";
  m.observePool(pool, st);
  EXPECT_EQ(exposition(reg).find("shoal_workerpool_drain_target_seconds{"), std::string::npos);

  m.forgetPool("prod", "orders");
  EXPECT_EQ(exposition(reg).find("pool=\"orders\""), std::string::npos) << exposition(reg);
}

TEST(OperatorMetrics, RetentionCountsTrimmedAndDroppedEntriesPerPipelineUntilItGoes) {
  prometheus::Registry reg;
  OperatorMetrics m(reg);
  m.retentionTrimmed("prod", "orders", 120, 0);
  m.retentionTrimmed("prod", "orders", 30, 7);
  std::string text = exposition(reg);
  EXPECT_TRUE(hasLine(text, "# TYPE shoal_retention_trimmed_total counter")) << text;
  EXPECT_TRUE(hasLine(text, "shoal_retention_trimmed_total{namespace=\"prod\",pipeline=\"orders\"} 150")) << text;
  EXPECT_TRUE(hasLine(text, "shoal_retention_dropped_unconsumed_total{namespace=\"prod\",pipeline=\"orders\"} 7"))
      << text;
  m.forgetPipeline("prod", "orders");
  text = exposition(reg);
  EXPECT_EQ(text.find("pipeline=\"orders\""), std::string::npos) << text;
}

}  // namespace
}  // namespace shoal::operator_app
