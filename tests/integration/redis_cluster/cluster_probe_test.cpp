// The operator's backlog probe against a real Redis Cluster: a pipeline of 8
// shard streams spread over 3 primaries is measured as the sum over shards,
// the hot shard (90 % of the traffic) is named, and a shard without its
// consumer group fails the reading instead of counting as zero; retention
// trims each shard on the primary that holds it.
#include <gtest/gtest.h>

#include <set>

#include "shoal/probe/backlog_probe.h"
#include "shoal/redis_cluster/cluster_client.h"
#include "shoal/stream/shards.h"
#include "shoal/testing/servers.h"

namespace shoal::probe {
namespace {

redis::ClusterOptions seededBy(const testing::RedisCluster& cluster) {
  redis::ClusterOptions co;
  co.seeds.push_back({"127.0.0.1", cluster.ports()[0]});
  return co;
}

TEST(ClusterProbe, SumsShardsAcrossPrimariesAndNamesTheHotShard) {
  testing::RedisCluster cluster;
  SystemClock& clock = SystemClock::instance();
  redis::ClusterClient writer(seededBy(cluster), clock);
  const auto shards = shardStreams("hot", 8);
  std::set<int> primaries;
  int64_t total = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    ASSERT_TRUE(writer.createGroup(shards[i], "g", "0").ok());
    const int n = i == 0 ? 900 : 14;  // 900 of 1,000 (and a few more) on shard 0
    std::vector<redis::Command> cmds;
    for (int k = 0; k < n; ++k) {
      auto r = writer.add(shards[i], {{"k", std::to_string(k)}});
      ASSERT_TRUE(r.ok()) << r.error().message;
    }
    total += n;
    primaries.insert(cluster.primaryFor(shards[i]));
  }
  EXPECT_EQ(primaries.size(), 3u);  // the 8 hash tags land on every primary

  BacklogProbe probe(makeRedisStreamInspector(clock), clock);
  RedisTarget t;
  t.address = "127.0.0.1:" + std::to_string(cluster.ports()[1]);  // any node is a seed
  t.cluster = true;
  BacklogReading r = probe.read(t, shards, "g", Duration::zero());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.backlog(), total);
  EXPECT_EQ(r.snapshot.shards, 8);
  EXPECT_EQ(r.snapshot.hottestShard, "hot:{0}");
  EXPECT_EQ(r.snapshot.hottestShardBacklog, 900);
  EXPECT_EQ(r.snapshot.entriesAdded, total);

  // A shard whose group is gone: the reading fails and names it.
  ASSERT_TRUE(writer.command(shards[5], {"XGROUP", "DESTROY", shards[5], "g"}).ok());
  BacklogReading missing = probe.read(t, shards, "g", Duration::zero());
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.failure, ReadFailure::kGroupNotFound);
  EXPECT_NE(missing.error.find("shard hot:{5} of 8"), std::string::npos) << missing.error;
  EXPECT_FALSE(missing.backlog().has_value());
}

// Retention on a cluster: one EVAL per shard stream, each naming its stream
// as its one key, runs on the primary holding that shard and trims exactly
// what that shard's groups read and acknowledged.
TEST(ClusterProbe, RetentionTrimsEachShardOnItsOwnPrimary) {
  testing::RedisCluster cluster;
  SystemClock& clock = SystemClock::instance();
  redis::ClusterClient c(seededBy(cluster), clock);
  const auto shards = shardStreams("ret", 6);
  std::set<int> primaries;
  for (size_t i = 0; i < shards.size(); ++i) {
    ASSERT_TRUE(c.createGroup(shards[i], "g", "0").ok());
    for (int k = 0; k < 20; ++k) ASSERT_TRUE(c.add(shards[i], {{"k", std::to_string(k)}}).ok());
    // Shard i: the group read and acknowledged 2*i entries (COUNT 0 would
    // mean all of them, so shard 0 reads nothing).
    if (i > 0) {
      auto r = c.readGroup(shards[i], "g", "c", ">", static_cast<int64_t>(2 * i), -1);
      ASSERT_TRUE(r.ok()) << r.error().message;
      std::vector<std::string> ids;
      for (const auto& e : *r) ids.push_back(e.id);
      ASSERT_TRUE(c.ack(shards[i], "g", ids).ok());
    }
    primaries.insert(cluster.primaryFor(shards[i]));
  }
  EXPECT_GE(primaries.size(), 2u);

  BacklogProbe probe(makeRedisStreamInspector(clock), clock);
  RedisTarget t;
  t.address = "127.0.0.1:" + std::to_string(cluster.ports()[2]);
  t.cluster = true;
  const auto results = probe.trim(t, shards, {}, 0);
  ASSERT_EQ(results.size(), shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << shards[i] << ": " << results[i].error().message;
    EXPECT_EQ(results[i]->trimmed, static_cast<int64_t>(2 * i)) << shards[i];
    EXPECT_EQ(results[i]->length, static_cast<int64_t>(20 - 2 * i)) << shards[i];
    auto len = c.command(shards[i], {"XLEN", shards[i]});
    ASSERT_TRUE(len.ok());
    EXPECT_EQ(len->asInt(), static_cast<int64_t>(20 - 2 * i)) << shards[i];
  }
}

}  // namespace
}  // namespace shoal::probe
