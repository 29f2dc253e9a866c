// Safe retention without Redis: stream ids, the safe trim id, the model of
// the trim (keepAcknowledged, maxLength with throttle and dropOldest), a
// randomized check that only dropOldest ever removes what a group still
// needs, and the round's status, condition and events.
#include <gtest/gtest.h>

#include <random>

#include "shoal/controllers/retention.h"
#include "shoal/probe/retention.h"

namespace shoal::probe {
namespace {

StreamId id(uint64_t ms, uint64_t seq = 0) { return StreamId{ms, seq}; }

// Entries 1-0 .. n-0.
StreamModel streamOf(uint64_t n) {
  StreamModel s;
  for (uint64_t i = 1; i <= n; ++i) s.ids.push_back(id(i));
  return s;
}

TEST(StreamIdTest, ParsesOrdersAndSteps) {
  EXPECT_EQ(StreamId::parse("1700000000000-5"), id(1700000000000, 5));
  EXPECT_EQ(StreamId::parse("42"), id(42, 0));
  EXPECT_EQ(StreamId::parse("18446744073709551615-18446744073709551615"), id(UINT64_MAX, UINT64_MAX));
  for (const char* bad : {"", "-", "1-", "-1", "a-1", "1-b", "1-2-3", "18446744073709551616-0", " 1-0"})
    EXPECT_FALSE(StreamId::parse(bad).has_value()) << bad;
  EXPECT_LT(id(1, 9), id(2, 0));
  EXPECT_LT(id(2, 9), id(2, 10));
  EXPECT_EQ(id(5, 1).next(), id(5, 2));
  EXPECT_EQ(id(5, UINT64_MAX).next(), id(6, 0));
  EXPECT_EQ(id(UINT64_MAX, UINT64_MAX).next(), id(UINT64_MAX, UINT64_MAX));
  EXPECT_EQ(id(7, 3).str(), "7-3");
}

TEST(SafeTrimId, IsTheMinimumOverGroupsOfOldestPendingElseNextAfterLastDelivered) {
  EXPECT_FALSE(safeTrimId({}).has_value()) << "no group: never trim by this rule";
  EXPECT_EQ(safeTrimId({{"a", id(10), std::nullopt}}), id(10, 1));
  EXPECT_EQ(safeTrimId({{"a", id(10), id(4)}}), id(4));
  EXPECT_EQ(safeTrimId({{"fast", id(10), std::nullopt}, {"slow", id(6), std::nullopt}}), id(6, 1));
  EXPECT_EQ(safeTrimId({{"fast", id(10), std::nullopt}, {"slow", id(9), id(3)}}), id(3));
  // A group created at 0 has read nothing: nothing is safe.
  EXPECT_EQ(safeTrimId({{"fast", id(10), std::nullopt}, {"new", id(0), std::nullopt}}), id(0, 1));
  // A pending id above last-delivered-id (XCLAIM FORCE) still bounds it.
  EXPECT_EQ(safeTrimId({{"a", id(5), id(8)}}), id(5, 1));
}

TEST(ApplyTrim, TrimsExactlyWhatEveryGroupReadAndAcknowledged) {
  StreamModel s = streamOf(10);
  s.groups = {{"fast", id(10), std::nullopt}, {"slow", id(7), id(5)}};
  TrimOutcome o = applyTrim(s, {}, 0);
  EXPECT_EQ(o.safeId, id(5));
  EXPECT_EQ(o.minId, id(5));
  EXPECT_EQ(o.trimmed, 4);
  EXPECT_EQ(o.length, 6);
  EXPECT_EQ(s.ids.front(), id(5));
  EXPECT_FALSE(o.atCap);
  EXPECT_EQ(applyTrim(s, {}, 0).trimmed, 0) << "idempotent";
}

TEST(ApplyTrim, WithoutGroupsNothingIsTrimmedUnlessDropOldest) {
  StreamModel s = streamOf(10);
  TrimOutcome o = applyTrim(s, {0, std::nullopt, 4, false}, 0);
  EXPECT_FALSE(o.safeId.has_value());
  EXPECT_EQ(o.trimmed, 0);
  EXPECT_EQ(o.length, 10);
  EXPECT_TRUE(o.atCap);
  o = applyTrim(s, {0, std::nullopt, 4, true}, 0);
  EXPECT_EQ(o.droppedUnconsumed, 6);
  EXPECT_EQ(o.length, 4);
  EXPECT_EQ(s.ids.front(), id(7));
}

TEST(ApplyTrim, KeepAcknowledgedCountKeepsThatManyBelowTheSafeId) {
  StreamModel s = streamOf(10);
  s.groups = {{"g", id(8), std::nullopt}};  // safe 8-1: entries 1..8 acknowledged
  TrimOutcome o = applyTrim(s, {3, std::nullopt, std::nullopt, false}, 0);
  EXPECT_EQ(o.trimmed, 5);
  EXPECT_EQ(s.ids.front(), id(6)) << "6, 7, 8 kept";
  // Fewer acknowledged entries than it keeps: nothing goes.
  StreamModel few = streamOf(10);
  few.groups = {{"g", id(2), std::nullopt}};
  EXPECT_EQ(applyTrim(few, {3, std::nullopt, std::nullopt, false}, 0).trimmed, 0);
  EXPECT_EQ(few.ids.size(), 10u);
}

TEST(ApplyTrim, KeepAcknowledgedAgeKeepsYoungerEntriesAndTheLargerWindowWins) {
  StreamModel s;
  for (uint64_t ms = 1000; ms <= 10000; ms += 1000) s.ids.push_back(id(ms));
  s.groups = {{"g", id(10000), std::nullopt}};  // all acknowledged
  // now 10500, age 3000: cutoff 7500, entries 8000.. kept.
  TrimOutcome o = applyTrim(s, {0, 3000, std::nullopt, false}, 10500);
  EXPECT_EQ(o.minId, id(7500));
  EXPECT_EQ(o.trimmed, 7);
  // Left: 8000, 9000, 10000. With two older ones back, count 2 keeps 9000
  // and 10000, age 3000 keeps 8000 too: the larger window wins.
  StreamModel t = s;
  t.ids.insert(t.ids.begin(), {id(1000), id(2000)});
  StreamModel t2 = t;
  EXPECT_EQ(applyTrim(t, {2, 3000, std::nullopt, false}, 10500).length, 3) << "the age keeps 8000..10000";
  EXPECT_EQ(applyTrim(t2, {4, 1000, std::nullopt, false}, 10500).length, 4) << "the count keeps 2000..10000";
  // An age older than everything keeps everything; count then decides nothing more.
  StreamModel u = streamOf(5);
  u.groups = {{"g", id(5), std::nullopt}};
  EXPECT_EQ(applyTrim(u, {0, 10000, std::nullopt, false}, 5000).trimmed, 0);
}

TEST(ApplyTrim, OverMaxLengthKeptEntriesGoFirstThenThrottleNeverTrimsUnconsumed) {
  StreamModel s = streamOf(10);
  s.groups = {{"g", id(6), std::nullopt}};  // 1..6 acknowledged, 7..10 unconsumed
  TrimOutcome o = applyTrim(s, {3, std::nullopt, 5, false}, 0);
  EXPECT_EQ(o.trimmed, 6) << "3 kept for replay, then those too: the cap outranks them";
  EXPECT_EQ(o.droppedUnconsumed, 0);
  EXPECT_EQ(o.length, 4);
  EXPECT_FALSE(o.atCap);
  StreamModel full = streamOf(10);
  full.groups = {{"g", id(2), std::nullopt}};
  o = applyTrim(full, {0, std::nullopt, 5, false}, 0);
  EXPECT_EQ(o.trimmed, 2);
  EXPECT_EQ(o.droppedUnconsumed, 0);
  EXPECT_EQ(o.length, 8) << "throttle: over the cap, nothing unconsumed trimmed";
  EXPECT_TRUE(o.atCap);
}

TEST(ApplyTrim, DropOldestTrimsUnconsumedDownToMaxLengthAndCountsThem) {
  StreamModel s = streamOf(10);
  s.groups = {{"g", id(2), std::nullopt}};
  TrimOutcome o = applyTrim(s, {0, std::nullopt, 5, true}, 0);
  EXPECT_EQ(o.trimmed, 2);
  EXPECT_EQ(o.droppedUnconsumed, 3);
  EXPECT_EQ(o.length, 5);
  EXPECT_TRUE(o.atCap);
  EXPECT_EQ(s.ids.front(), id(6));
}

TEST(ApplyTrim, NothingAtAllIsTrimmedWithoutTheRequiredGroup) {
  StreamModel s = streamOf(10);
  s.groups = {{"other", id(10), std::nullopt}};
  RetentionRule rule{0, std::nullopt, 3, true, "mine"};
  TrimOutcome o = applyTrim(s, rule, 0);
  EXPECT_TRUE(o.requiredGroupMissing);
  EXPECT_EQ(o.trimmed + o.droppedUnconsumed, 0);
  EXPECT_EQ(o.length, 10);
  EXPECT_TRUE(o.atCap);
  s.groups.push_back({"mine", id(4), std::nullopt});
  o = applyTrim(s, rule, 0);
  EXPECT_FALSE(o.requiredGroupMissing);
  EXPECT_EQ(o.trimmed, 4);
}

// Random streams and groups: every entry at or above the safe id survives
// every rule but dropOldest, and every entry below the trim bound is gone.
TEST(ApplyTrim, RandomStatesNeverLoseWhatAGroupNeeds) {
  std::mt19937_64 rng(14);
  for (int round = 0; round < 2000; ++round) {
    StreamModel s;
    const int n = static_cast<int>(rng() % 40);
    uint64_t ms = 1;
    for (int i = 0; i < n; ++i) {
      ms += rng() % 3;
      s.ids.push_back(id(ms, rng() % 2 ? 0 : i));
    }
    std::sort(s.ids.begin(), s.ids.end());
    s.ids.erase(std::unique(s.ids.begin(), s.ids.end()), s.ids.end());
    const int groups = static_cast<int>(rng() % 4);
    for (int g = 0; g < groups; ++g) {
      GroupPosition p{"g" + std::to_string(g), id(rng() % (ms + 2), rng() % 3), std::nullopt};
      if (rng() % 2) p.oldestPending = id(rng() % (ms + 2), rng() % 3);
      s.groups.push_back(p);
    }
    RetentionRule rule;
    rule.keepCount = static_cast<int64_t>(rng() % 5);
    if (rng() % 2) rule.keepAgeMs = static_cast<int64_t>(rng() % 20 + 1);
    if (rng() % 2) rule.maxLength = static_cast<int64_t>(rng() % 30 + 1);
    rule.dropOldest = rng() % 2;
    const auto before = s.ids;
    const auto safe = safeTrimId(s.groups);
    const TrimOutcome o = applyTrim(s, rule, static_cast<int64_t>(ms));
    int64_t needed = 0, neededLeft = 0;
    for (const StreamId& e : before) {
      const bool needs = !safe || !(e < *safe);
      needed += needs;
      neededLeft += needs && std::binary_search(s.ids.begin(), s.ids.end(), e);
    }
    ASSERT_EQ(needed - neededLeft, o.droppedUnconsumed) << "round " << round;
    if (!rule.dropOldest) {
      ASSERT_EQ(o.droppedUnconsumed, 0);
    }
    ASSERT_EQ(static_cast<int64_t>(before.size()) - o.trimmed - o.droppedUnconsumed, o.length);
    ASSERT_EQ(static_cast<int64_t>(s.ids.size()), o.length);
    if (rule.maxLength && rule.dropOldest) {
      ASSERT_LE(o.length, *rule.maxLength);
    }
    if (o.minId) {
      for (const StreamId& e : s.ids) ASSERT_FALSE(e < *o.minId) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace shoal::probe

namespace shoal::controllers {
namespace {

using probe::StreamId;
using probe::TrimOutcome;

TrimOutcome outcome(int64_t trimmed, int64_t dropped, int64_t length, bool atCap) {
  TrimOutcome o;
  o.groups = 1;
  o.safeId = StreamId{5, 0};
  o.trimmed = trimmed;
  o.droppedUnconsumed = dropped;
  o.length = length;
  o.atCap = atCap;
  return o;
}

api::RetentionSpec capped(const char* onFull) {
  api::RetentionSpec s;
  s.maxLength = 100;
  s.onFull = onFull;
  return s;
}

TEST(RetentionRoundTest, SumsShardsAndNamesTheOnesAtCap) {
  const std::vector<std::string> streams{"s:{0}", "s:{1}", "s:{2}"};
  std::vector<Result<TrimOutcome>> results{outcome(10, 0, 50, false), outcome(5, 7, 100, true),
                                           makeError(Errc::kIo, "refused")};
  RetentionRound r = summarizeRetention(streams, results);
  EXPECT_EQ(r.trimmed, 15);
  EXPECT_EQ(r.droppedUnconsumed, 7);
  EXPECT_EQ(r.length, 150);
  EXPECT_FALSE(r.safeId.has_value()) << "no one safe id for a sharded source";
  EXPECT_EQ(r.atCap, std::vector<std::string>{"s:{1}"});
  EXPECT_EQ(r.dropped, std::vector<std::string>{"s:{1}"});
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0], "s:{2}: refused");
  EXPECT_FALSE(r.allFailed());
  const RetentionCondition c = retentionCondition(capped("dropOldest"), r);
  EXPECT_EQ(c.status, "True");
  EXPECT_EQ(c.reason, "DroppedUnconsumed");
  EXPECT_NE(c.message.find("Dropped 7 entries"), std::string::npos) << c.message;
  EXPECT_NE(c.message.find("shard stream s:{1}"), std::string::npos) << c.message;
  const auto events = retentionEvents(capped("dropOldest"), r);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].reason, "RetentionDroppedUnconsumed");
  EXPECT_EQ(events[0].type, "Warning");
  EXPECT_EQ(events[1].reason, "RetentionTrimFailed");
}

TEST(RetentionRoundTest, AMissingPipelineGroupIsAFailureNotATrim) {
  TrimOutcome missing;
  missing.requiredGroupMissing = true;
  missing.length = 9;
  RetentionRound r = summarizeRetention({"s"}, {missing});
  EXPECT_TRUE(r.allFailed());
  EXPECT_EQ(r.length, 0);
  EXPECT_NE(r.failures[0].find("consumer group is missing"), std::string::npos);
  EXPECT_EQ(retentionCondition(capped("throttle"), r).reason, "RetentionTrimFailed");
}

TEST(RetentionRoundTest, ConditionSaysAtCapUnderThrottleAndWithinLimitsOtherwise) {
  RetentionRound full = summarizeRetention({"s"}, {outcome(0, 0, 100, true)});
  EXPECT_EQ(full.safeId, "5-0");
  RetentionCondition c = retentionCondition(capped("throttle"), full);
  EXPECT_EQ(c.status, "True");
  EXPECT_EQ(c.reason, "AtMaxLength");
  EXPECT_NE(c.message.find("unconsumed entries are never trimmed (onFull: throttle)"), std::string::npos);
  EXPECT_TRUE(retentionEvents(capped("throttle"), full).empty());
  RetentionRound fine = summarizeRetention({"s"}, {outcome(3, 0, 40, false)});
  c = retentionCondition(capped("throttle"), fine);
  EXPECT_EQ(c.status, "False");
  EXPECT_EQ(c.reason, "WithinLimits");
  RetentionRound failed = summarizeRetention({"s"}, {makeError(Errc::kIo, "refused")});
  EXPECT_TRUE(failed.allFailed());
  c = retentionCondition(capped("throttle"), failed);
  EXPECT_EQ(c.status, "Unknown");
  EXPECT_EQ(c.reason, "RetentionTrimFailed");
}

TEST(RetentionRoundTest, StatusAddsTotalsAndKeepsThemWhenARoundFails) {
  const WallTime t = std::chrono::system_clock::from_time_t(1'700'000'000);
  api::RetentionStatus s;
  s = retentionStatusAfter(s, summarizeRetention({"s"}, {outcome(10, 2, 90, false)}), t);
  s = retentionStatusAfter(s, summarizeRetention({"s"}, {outcome(5, 1, 100, true)}), t);
  EXPECT_EQ(s.trimmedTotal, 15);
  EXPECT_EQ(s.droppedUnconsumedTotal, 3);
  EXPECT_EQ(s.length, 100);
  EXPECT_TRUE(s.atCap);
  EXPECT_EQ(s.safeId, "5-0");
  EXPECT_EQ(s.lastTrimTime, "2023-11-14T22:13:20Z");
  const api::RetentionStatus after =
      retentionStatusAfter(s, summarizeRetention({"s"}, {makeError(Errc::kIo, "x")}), t + std::chrono::hours(1));
  EXPECT_EQ(after, s) << "a failed round changes nothing it did not measure";
}

TEST(RetentionRoundTest, RuleFollowsTheSpec) {
  api::RetentionSpec spec;
  spec.keepAcknowledgedCount = 7;
  spec.keepAcknowledgedAgeMs = 3000;
  spec.maxLength = 50;
  spec.onFull = "dropOldest";
  const probe::RetentionRule r = retentionRuleOf(spec, "shoal");
  EXPECT_EQ(r.requiredGroup, "shoal");
  EXPECT_EQ(r.keepCount, 7);
  EXPECT_EQ(r.keepAgeMs, 3000);
  EXPECT_EQ(r.maxLength, 50);
  EXPECT_TRUE(r.dropOldest);
  EXPECT_EQ(probe::ageCutoff(r, 10000), (StreamId{7000, 0}));
  EXPECT_EQ(probe::ageCutoff(r, 1000), (StreamId{0, 0}));
  EXPECT_FALSE(probe::ageCutoff(retentionRuleOf(api::RetentionSpec{}, "g"), 1000).has_value());
}

}  // namespace
}  // namespace shoal::controllers
