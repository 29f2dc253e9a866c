// What shoal-operator's /metrics serves, in the text exposition format,
// without a server: the leader gauge, probe errors by reason, pool gauges.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <string>

#include "operator_metrics.h"

namespace shoal::operator_app {
namespace {

std::string exposition(prometheus::Registry& reg) {
  return prometheus::TextSerializer().Serialize(reg.Collect());
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

TEST(OperatorMetrics, PoolGaugesAppearAndGoAwayWithThePool) {
  prometheus::Registry reg;
  OperatorMetrics m(reg);
  api::WorkerPool pool;
  pool.metadata.namespace_ = "prod";
  pool.metadata.name = "orders";
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

}  // namespace
}  // namespace shoal::operator_app
