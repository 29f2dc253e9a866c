// Dead-letter entries as the worker writes them, the `dlq` table and the
// replay plan (which ids move, which are skipped and why), without Redis.
#include <gtest/gtest.h>

#include "shoal/api/meta.h"
#include "shoal/plugin/dead_letters.h"

namespace shoal::plugin {
namespace {

using nlohmann::json;

StreamEntry dead(const std::string& id, const std::string& reason,
                 const std::string& group = "shoal",
                 std::vector<std::pair<std::string, std::string>> fields = {{"message", "{oops"}}) {
  StreamEntry e;
  e.id = id;
  e.fields = std::move(fields);
  for (auto kv : std::vector<std::pair<std::string, std::string>>{{"shoal.reason", reason},
                                                                  {"shoal.original_id", "17-0"},
                                                                  {"shoal.stream", "logs:app"},
                                                                  {"shoal.group", group},
                                                                  {"shoal.deliveries", "5"}}) {
    e.fields.push_back(kv);
  }
  return e;
}

const DeadLetterSource kSrc{"logs:app", "shoal", "logs:app:dead"};

TEST(DeadLetterSource, DefaultsLikeTheWorker) {
  auto all = deadLetterSourcesOf(json::parse(R"({"source": {"redis": {"stream": "s"}}})"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].stream, "s");
  EXPECT_EQ(all[0].group, "shoal");
  EXPECT_EQ(all[0].deadLetterStream, "s:dead");
  all = deadLetterSourcesOf(json::parse(
      R"({"source": {"redis": {"stream": "s", "consumerGroup": "g", "deadLetterStream": "dl"}}})"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].group, "g");
  EXPECT_EQ(all[0].deadLetterStream, "dl");
}

TEST(DeadLetterSource, AShardedPipelineHasOnePerShardOrOneSharedStream) {
  auto all = deadLetterSourcesOf(json::parse(R"({"source": {"redis": {"stream": "s", "shards": 3}}})"));
  ASSERT_EQ(all.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const std::string shard = "s:{" + std::to_string(i) + "}";
    EXPECT_EQ(all[static_cast<size_t>(i)].stream, shard);
    EXPECT_EQ(all[static_cast<size_t>(i)].deadLetterStream, shard + ":dead");  // as the worker writes them
    EXPECT_TRUE(all[static_cast<size_t>(i)].holdsStream(shard));
    EXPECT_FALSE(all[static_cast<size_t>(i)].holdsStream("s"));
  }
  all = deadLetterSourcesOf(
      json::parse(R"({"source": {"redis": {"stream": "s", "shards": 3, "deadLetterStream": "dl"}}})"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].deadLetterStream, "dl");
  EXPECT_TRUE(all[0].holdsStream("s:{2}"));
  EXPECT_FALSE(all[0].holdsStream("other"));
}

TEST(PlanReplay, ASharedDeadLetterStreamSendsEachEntryBackToItsShard) {
  const DeadLetterSource shared{"s", "shoal", "dl", {"s:{0}", "s:{1}"}};
  auto entry = [](const std::string& id, const std::string& stream) {
    StreamEntry e;
    e.id = id;
    e.fields = {{"message", "m"}, {"shoal.reason", "r"}, {"shoal.stream", stream}, {"shoal.group", "shoal"}};
    return deadLetterOf(e);
  };
  auto plan = planReplay({entry("1-0", "s:{1}"), entry("2-0", "s:{0}"), entry("3-0", "other")}, {}, true, shared);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].outcome, ReplayItem::Outcome::kReplay);
  EXPECT_EQ(plan[0].target, "s:{1}");
  EXPECT_EQ(plan[1].target, "s:{0}");
  EXPECT_EQ(plan[2].outcome, ReplayItem::Outcome::kOtherPipeline);
}

TEST(DeadLetterOf, SplitsWorkerFieldsFromTheEntrysOwn) {
  DeadLetter d = deadLetterOf(dead("1700000000000-1", "parse: invalid JSON at offset 1"));
  EXPECT_EQ(d.reason, "parse: invalid JSON at offset 1");
  EXPECT_EQ(d.originalId, "17-0");
  EXPECT_EQ(d.stream, "logs:app");
  EXPECT_EQ(d.group, "shoal");
  EXPECT_EQ(d.deliveries, 5);
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].first, "message");
}

TEST(IdMillis, ParsesTheTimePartOnly) {
  EXPECT_EQ(idMillis("1700000000000-3"), 1700000000000);
  EXPECT_EQ(idMillis("5"), 5);
  EXPECT_FALSE(idMillis("abc-1"));
  EXPECT_FALSE(idMillis(""));
}

TEST(FormatDeadLetters, ShowsAgeReasonAndFields) {
  const WallTime now = *api::parseTime("2023-11-14T22:15:20Z");  // 1700000120 s
  std::string out =
      formatDeadLetters({deadLetterOf(dead("1700000000000-1", "delivered 5 times"))}, now);
  EXPECT_NE(out.find("ID                AGE   ORIGINAL ID   DELIVERIES   REASON"),
            std::string::npos)
      << out;
  EXPECT_NE(
      out.find(
          "1700000000000-1   2m    17-0          5            delivered 5 times   message={oops"),
      std::string::npos)
      << out;
}

TEST(DeadLettersDocument, KeepsFieldsInOrder) {
  json d = deadLettersDocument(kSrc, 7,
                               {deadLetterOf(dead("1-1", "r", "shoal", {{"b", "2"}, {"a", "1"}}))});
  EXPECT_EQ(d["length"], 7);
  EXPECT_EQ(d["deadLetterStream"], "logs:app:dead");
  EXPECT_EQ(d["entries"][0]["fields"][0]["name"], "b");
  EXPECT_EQ(d["entries"][0]["deliveries"], 5);
}

TEST(PlanReplay, AllTakesThisPipelinesEntriesOnly) {
  std::vector<DeadLetter> present = {deadLetterOf(dead("1-1", "r")),
                                     deadLetterOf(dead("1-2", "r", "other-group")),
                                     deadLetterOf(dead("1-3", "r", "shoal", {}))};
  auto plan = planReplay(present, {}, true, kSrc);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].outcome, ReplayItem::Outcome::kReplay);
  EXPECT_EQ(plan[1].outcome, ReplayItem::Outcome::kOtherPipeline);
  EXPECT_NE(plan[1].note.find("other-group"), std::string::npos);
  EXPECT_EQ(plan[2].outcome, ReplayItem::Outcome::kNoFields);
}

TEST(PlanReplay, IdsNotPresentAreSkippedAsAlreadyReplayed) {
  std::vector<DeadLetter> present = {deadLetterOf(dead("1-1", "r"))};
  auto plan = planReplay(present, {"1-1", "9-9", "1-1"}, false, kSrc);
  ASSERT_EQ(plan.size(), 2u) << "a repeated id is planned once";
  EXPECT_EQ(plan[0].outcome, ReplayItem::Outcome::kReplay);
  EXPECT_EQ(plan[1].outcome, ReplayItem::Outcome::kMissing);
  EXPECT_NE(plan[1].note.find("already replayed"), std::string::npos);
}

TEST(FormatReplay, DryRunSaysNothingChanged) {
  std::vector<ReplayItem> items(2);
  items[0].id = "1-1";
  items[1].id = "9-9";
  items[1].outcome = ReplayItem::Outcome::kMissing;
  items[1].note = "not in logs:app:dead (already replayed, or never there)";
  std::string out = formatReplay(items, kSrc, true);
  EXPECT_NE(out.find("would replay 1-1 -> logs:app"), std::string::npos) << out;
  EXPECT_NE(out.find("skipped 9-9: not in logs:app:dead"), std::string::npos);
  EXPECT_NE(
      out.find(
          "dry run: 1 of 2 entries would move from logs:app:dead to logs:app; nothing changed"),
      std::string::npos)
      << out;
  items[0].outcome = ReplayItem::Outcome::kReplayed;
  items[0].newId = "2-0";
  out = formatReplay(items, kSrc, false);
  EXPECT_NE(out.find("replayed 1-1 -> logs:app 2-0"), std::string::npos) << out;
  EXPECT_NE(out.find("1 replayed from logs:app:dead to logs:app, 1 skipped"), std::string::npos);
  EXPECT_EQ(formatReplay({}, kSrc, false),
            "nothing to replay: logs:app:dead holds no entries of this Pipeline\n");
  json d = replayDocument(items, kSrc, false);
  EXPECT_EQ(d["items"][0]["outcome"], "Replayed");
  EXPECT_EQ(d["items"][1]["outcome"], "NotInDeadLetterStream");
}

}  // namespace
}  // namespace shoal::plugin
