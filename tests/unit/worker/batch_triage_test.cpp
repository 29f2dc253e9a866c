// triageBatch: which entries of a batch never reach the handler (too big,
// delivered too often: dead letter with a reason; payload deleted:
// acknowledge) and which do, in order.
#include "shoal/worker/batch_triage.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

StreamEntry entry(std::string id, std::string message, int64_t deliveries = 1) {
  StreamEntry e;
  e.id = std::move(id);
  if (!message.empty()) e.fields = {{"message", std::move(message)}};
  e.deliveries = deliveries;
  return e;
}

const TriageLimits kLimits{.maxEntryBytes = 100, .maxDeliveries = 3};

TEST(BatchTriage, OrdinaryEntriesAllGoToTheHandler) {
  std::vector<StreamEntry> b{entry("1-0", "a"), entry("2-0", "b", 3)};
  auto t = triageBatch(b, kLimits);
  EXPECT_EQ(t.toHandle, (std::vector<size_t>{0, 1}));
  ASSERT_EQ(t.results.size(), 2u);
  for (const auto& r : t.results)
    EXPECT_EQ(r.outcome, EntryOutcome::kRetry);  // until the handler says
}

TEST(BatchTriage, AnEntryBiggerThanMaxEntryBytesIsDeadLetteredWithItsSize) {
  // bytes() = id + field name + value = 3 + 7 + 91 = 101.
  std::vector<StreamEntry> b{entry("1-0", std::string(91, 'x'))};
  auto t = triageBatch(b, kLimits);
  EXPECT_TRUE(t.toHandle.empty());
  EXPECT_EQ(t.results[0].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(t.results[0].reason, "entry too large: 101 bytes, more than maxEntryBytes 100");
}

TEST(BatchTriage, AnEntryOfExactlyMaxEntryBytesGoesToTheHandler) {
  std::vector<StreamEntry> b{entry("1-0", std::string(90, 'x'))};
  EXPECT_EQ(triageBatch(b, kLimits).toHandle, std::vector<size_t>{0});
}

TEST(BatchTriage, AnEntryDeliveredMoreThanMaxDeliveriesIsDeadLetteredWithTheCount) {
  std::vector<StreamEntry> b{entry("1-0", "a", 4), entry("2-0", "b", 3)};
  auto t = triageBatch(b, kLimits);
  EXPECT_EQ(t.toHandle, std::vector<size_t>{1});  // exactly maxDeliveries still goes
  EXPECT_EQ(t.results[0].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(t.results[0].reason, "delivered 4 times, more than maxDeliveries 3");
}

TEST(BatchTriage, ADeletedEntryIsAcknowledgedWithoutDelivery) {
  std::vector<StreamEntry> b{entry("1-0", ""), entry("2-0", "b")};
  auto t = triageBatch(b, kLimits);
  EXPECT_EQ(t.toHandle, std::vector<size_t>{1});
  EXPECT_EQ(t.results[0].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(t.results[0].reason, "");
}

TEST(BatchTriage, SizeIsJudgedBeforeTheDeliveryCount) {
  std::vector<StreamEntry> b{entry("1-0", std::string(200, 'x'), 9)};
  auto t = triageBatch(b, kLimits);
  EXPECT_EQ(t.results[0].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(t.results[0].reason.rfind("entry too large: ", 0), 0u);
}

TEST(BatchTriage, ADeletedEntryPastMaxDeliveriesIsDeadLetteredNotAcknowledged) {
  std::vector<StreamEntry> b{entry("1-0", "", 4)};
  auto t = triageBatch(b, kLimits);
  EXPECT_TRUE(t.toHandle.empty());
  EXPECT_EQ(t.results[0].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(t.results[0].reason, "delivered 4 times, more than maxDeliveries 3");
}

TEST(BatchTriage, AMixedBatchKeepsOrderAndIndexes) {
  std::vector<StreamEntry> b{entry("1-0", "a"),
                             entry("2-0", "", 1),
                             entry("3-0", "c", 7),
                             entry("4-0", "d"),
                             entry("5-0", std::string(500, 'x')),
                             entry("6-0", "f")};
  auto t = triageBatch(b, kLimits);
  EXPECT_EQ(t.toHandle, (std::vector<size_t>{0, 3, 5}));
  ASSERT_EQ(t.results.size(), 6u);
  EXPECT_EQ(t.results[1].outcome, EntryOutcome::kDelivered);
  EXPECT_EQ(t.results[2].outcome, EntryOutcome::kDeadLetter);
  EXPECT_EQ(t.results[4].outcome, EntryOutcome::kDeadLetter);
}

TEST(BatchTriage, AnEmptyBatchHasNothingToDo) {
  auto t = triageBatch({}, kLimits);
  EXPECT_TRUE(t.results.empty());
  EXPECT_TRUE(t.toHandle.empty());
}

}  // namespace
}  // namespace shoal
