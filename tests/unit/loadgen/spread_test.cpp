#include "shoal/loadgen/spread.h"

#include <gtest/gtest.h>

#include <vector>

#include "shoal/stream/shards.h"

namespace shoal::loadgen {
namespace {

std::vector<int> countPerShard(const Spread& s, int n) {
  std::vector<int> out(static_cast<size_t>(s.shards), 0);
  for (int i = 0; i < n; ++i) ++out[static_cast<size_t>(s.shardOf(static_cast<uint64_t>(i)))];
  return out;
}

TEST(Spread, ParsesTheThreeModesAndRejectsTheRest) {
  Spread s;
  EXPECT_TRUE(parseSpread("key", s));
  EXPECT_EQ(s.mode, Spread::Mode::kKey);
  EXPECT_TRUE(parseSpread("hot:75", s));
  EXPECT_EQ(s.mode, Spread::Mode::kHot);
  EXPECT_EQ(s.hotPercent, 75);
  EXPECT_TRUE(parseSpread("round-robin", s));
  EXPECT_EQ(s.mode, Spread::Mode::kRoundRobin);
  for (const char* bad : {"", "hot", "hot:", "hot:101", "hot:-1", "hot:5x", "random"}) {
    EXPECT_FALSE(parseSpread(bad, s)) << bad;
  }
}

TEST(Spread, RoundRobinIsEven) {
  Spread s;
  s.shards = 8;
  EXPECT_EQ(countPerShard(s, 800), std::vector<int>(8, 100));
}

TEST(Spread, OneKeyAlwaysLandsOnItsShard) {
  Spread s;
  s.shards = 8;
  s.mode = Spread::Mode::kKey;
  s.keys = 10;
  for (uint64_t seq = 0; seq < 100; ++seq) {
    EXPECT_EQ(s.shardOf(seq), s.shardOf(seq + 10));  // the same key every 10 entries
    EXPECT_EQ(s.shardOf(seq), shardForKey("host-" + std::to_string(seq % 10), 8));
  }
}

TEST(Spread, AHotShardTakesItsShareAndTheOthersShareTheRest) {
  Spread s;
  s.shards = 8;
  s.mode = Spread::Mode::kHot;
  s.hotPercent = 90;
  const auto n = countPerShard(s, 10000);
  EXPECT_EQ(n[0], 9000);
  int rest = 0;
  for (size_t i = 1; i < n.size(); ++i) {
    EXPECT_GT(n[i], 100);
    rest += n[i];
  }
  EXPECT_EQ(rest, 1000);
}

TEST(Spread, OneShardIsTheStreamItself) {
  Spread s;
  s.mode = Spread::Mode::kHot;
  EXPECT_EQ(s.shardOf(3), 0);
}

}  // namespace
}  // namespace shoal::loadgen
