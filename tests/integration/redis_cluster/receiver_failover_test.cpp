// What the receiver's `durability.waitReplicas` buys through a Redis Cluster
// failover: the real shoal-receiver writes NDJSON batches from the real curl
// over 8 shard streams of a real 9-node cluster (3 primaries, 2 replicas
// each, so a promoted replica still has a replica to WAIT for); the primary
// of one shard is killed with kill -9 mid-run. A client retries every batch
// not answered 2xx (as the receiver's 503 + Retry-After asks). Every entry of
// a batch answered 2xx must be in the cluster afterwards (lost=0): with WAIT
// a 2xx means a replica had it. A batch that failed part way and was sent
// again may be stored twice: duplicates are counted and printed, never hidden.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <set>

#include "shoal/redis/client.h"
#include "shoal/redis_cluster/cluster_client.h"
#include "shoal/stream/shards.h"
#include "shoal/testing/curl.h"
#include "shoal/testing/servers.h"

#ifndef SHOAL_RECEIVER_BINARY
#error "SHOAL_RECEIVER_BINARY must name the shoal-receiver executable"
#endif

namespace shoal {
namespace {

using shoal::testing::curl;
using shoal::testing::freePort;
using shoal::testing::Process;
using shoal::testing::waitUntil;
using namespace std::chrono_literals;

constexpr int kShards = 8;
constexpr int kBatch = 50;
constexpr int kBatches = 60;
constexpr int kKillAfter = 20;  // batches answered 2xx before the kill

std::string token(int batch, int i) { return "b" + std::to_string(batch) + "-" + std::to_string(i); }

TEST(ReceiverClusterFailover, WithWaitEveryEntryAnswered2xxSurvivesTheKilledPrimary) {
  testing::RedisCluster cluster(testing::RedisCluster::Options{.primaries = 3, .replicasPerPrimary = 2});
  testing::TempDir dir;
  const int httpPort = freePort(), metricsPort = freePort();
  const std::string config = dir.file("receiver.yaml");
  {
    std::ofstream f(config);
    f << "apiVersion: shoal.dev/v1alpha1\nkind: Receiver\nmetadata: {name: front}\nspec:\n"
      << "  redis: {address: \"127.0.0.1:" << cluster.ports()[0]
      << "\", cluster: true, readTimeoutMs: 1000, connectTimeoutMs: 300}\n"
      << "  http:\n    port: " << httpPort << "\n    routes:\n"
      << "      logs: {stream: logs, shards: " << kShards << "}\n"
      << "  backpressure: {maxBacklog: 0}\n"
      << "  durability: {waitReplicas: 1, waitTimeoutMilliseconds: 2000}\n"
      << "  metricsPort: " << metricsPort << "\n";
  }
  Process::Options po;
  po.argv = {SHOAL_RECEIVER_BINARY, "--config", config};
  po.stderrPath = dir.file("receiver.log");
  Process receiver(po);
  auto log = [&] { return Process::readFile(dir.file("receiver.log")); };
  ASSERT_TRUE(waitUntil([&] { return testing::portOpen(httpPort); }, 20s)) << log();
  const std::string url = "http://127.0.0.1:" + std::to_string(httpPort) + "/v1/logs";

  // One batch, posted until it is answered 2xx (deadline 60 s); the number
  // of attempts that were not.
  int refused = 0;
  std::map<int, int> statuses;
  auto sendBatch = [&](int b) {
    const std::string body = dir.file("batch-" + std::to_string(b) + ".ndjson");
    {
      std::ofstream f(body);
      for (int i = 0; i < kBatch; ++i)
        f << R"({"message":"entry )" << token(b, i) << R"(","host":"web-)" << (i % 5) << "\"}\n";
    }
    return waitUntil(
        [&] {
          auto r = curl({"--data-binary", "@" + body, "-H", "Content-Type: application/x-ndjson", url}, 15s);
          ++statuses[r.status];
          if (r.status == 200) return true;
          ++refused;
          return false;
        },
        60s, 100ms);
  };

  for (int b = 0; b < kKillAfter; ++b) ASSERT_TRUE(sendBatch(b)) << log();
  const std::string hot = shardStream("logs", 0);
  const int primary = cluster.primaryFor(hot);
  ASSERT_GT(primary, 0);
  cluster.kill(primary);
  for (int b = kKillAfter; b < kBatches; ++b) ASSERT_TRUE(sendBatch(b)) << "batch " << b << "\n" << log();

  // Read every shard back from the cluster as it is now.
  redis::ClusterOptions co;
  for (int port : cluster.ports())
    if (port != primary) co.seeds.push_back({"127.0.0.1", port});
  redis::ClusterClient reader(co, SystemClock::instance());
  std::multiset<std::string> stored;
  for (int s = 0; s < kShards; ++s) {
    const std::string stream = shardStream("logs", s);
    std::optional<redis::Reply> range;
    ASSERT_TRUE(waitUntil(
        [&] {
          auto r = reader.command(stream, {"XRANGE", stream, "-", "+"});
          if (r.ok()) range = *r;
          return r.ok();
        },
        30s, 100ms))
        << stream;
    auto entries = redis::decodeEntries(*range);
    ASSERT_TRUE(entries.ok());
    for (const auto& e : *entries)
      for (const auto& [k, v] : e.fields)
        if (k == "message") {
          const auto at = v.find("entry ");
          if (at != std::string::npos) stored.insert(v.substr(at + 6, v.find('"', at) - at - 6));
        }
  }
  int lost = 0;
  for (int b = 0; b < kBatches; ++b)
    for (int i = 0; i < kBatch; ++i) lost += stored.count(token(b, i)) == 0 ? 1 : 0;
  const std::set<std::string> distinct(stored.begin(), stored.end());
  std::string refusedBy;
  for (const auto& [status, n] : statuses)
    if (status != 200) refusedBy += " " + std::to_string(status) + ":" + std::to_string(n);
  std::printf("chaos: receiver_cluster_failover_wait accepted=%d lost=%d duplicates=%zu refused_attempts=%d"
              " (status:count%s) waitReplicas=1\n",
              kBatches * kBatch, lost, stored.size() - distinct.size(), refused, refusedBy.c_str());
  EXPECT_EQ(lost, 0) << "an entry answered 2xx after WAIT was lost in the failover";
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kBatches * kBatch));
  EXPECT_EQ(WEXITSTATUS(receiver.stop(15s)), 0) << log();
}

}  // namespace
}  // namespace shoal
