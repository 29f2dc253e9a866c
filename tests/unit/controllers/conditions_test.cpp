// Conditions per KEP-1623: transition times, generations, first visit.
#include <gtest/gtest.h>

#include "shoal/controllers/conditions.h"

namespace shoal::controllers {
namespace {

TEST(Conditions, LastTransitionTimeChangesOnlyWhenStatusFlips) {
  ManualClock clock;
  std::vector<api::Condition> c;
  EXPECT_TRUE(setCondition(c, "Ready", api::kFalse, "WaitingForWorkers", "0 of 1", 1,
                           clock.wallNow()));
  const std::string t0 = c[0].lastTransitionTime;
  clock.advance(std::chrono::seconds(30));
  EXPECT_TRUE(setCondition(c, "Ready", api::kFalse, "WaitingForWorkers", "0 of 2", 1,
                           clock.wallNow()));
  EXPECT_EQ(c[0].lastTransitionTime, t0);
  EXPECT_EQ(c[0].message, "0 of 2");
  EXPECT_FALSE(setCondition(c, "Ready", api::kFalse, "WaitingForWorkers", "0 of 2", 1,
                            clock.wallNow()));
  clock.advance(std::chrono::seconds(30));
  EXPECT_TRUE(setCondition(c, "Ready", api::kTrue, "WorkersReady", "2 of 2", 2, clock.wallNow()));
  EXPECT_NE(c[0].lastTransitionTime, t0);
  EXPECT_EQ(c[0].observedGeneration, 2);
  ASSERT_EQ(c.size(), 1u);
}

TEST(Conditions, FirstVisitWritesUnknown) {
  ManualClock clock;
  std::vector<api::Condition> c;
  setCondition(c, "Ready", api::kTrue, "WorkersReady", "ok", 1, clock.wallNow());
  ensureConditions(c, {"Ready", "ScalingActive"}, "Reconciling", 1, clock.wallNow());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].status, api::kTrue);
  EXPECT_EQ(findCondition(c, "ScalingActive")->status, api::kUnknown);
  EXPECT_EQ(findCondition(c, "ScalingActive")->reason, "Reconciling");
  EXPECT_FALSE(findCondition(c, "ScalingActive")->lastTransitionTime.empty());
  EXPECT_EQ(findCondition(c, "Nope"), nullptr);
}

TEST(Conditions, TimeFormatRoundTrips) {
  auto t = api::parseTime("2026-11-21T05:04:44Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(api::formatTime(*t), "2026-11-21T05:04:44Z");
  EXPECT_FALSE(api::parseTime("yesterday").has_value());
}

}  // namespace
}  // namespace shoal::controllers
