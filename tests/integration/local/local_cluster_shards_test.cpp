// A sharded pipeline on a real Redis Cluster, run by the real shoal-local
// with real shoal-worker processes: 8 shard streams spread over 3 primaries,
// one hot shard taking 90 % of a burst written by the real shoal-loadgen.
// The pool scales on the backlog summed over the shards, the WorkerPool's
// status names the hot shard while it is behind, and every entry reaches the
// sink exactly once (ids are "<shard stream>/<id>").
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "local_status.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int64_t kEntries = 60000;
constexpr int kShards = 8;
constexpr const char* kStream = "logs:hot";

std::string resources(int seedPort, const std::string& sinkUrl) {
  return R"(apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata:
  name: hot
spec:
  type: logs
  source:
    redis:
      address: 127.0.0.1:)" + std::to_string(seedPort) + R"(
      cluster: true
      stream: )" + kStream + R"(
      shards: )" + std::to_string(kShards) + R"(
      consumerGroup: shoal-hot
      startId: "0"
  transform:
    logs:
      format: json
  sink:
    elasticsearch:
      url: )" + sinkUrl + R"(
      index: hot
  delivery:
    batchSize: 500
    lingerMs: 20
---
apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata:
  name: hot
spec:
  pipelineRef:
    name: hot
  minReplicas: 1
  maxReplicas: 4
  terminationGracePeriodSeconds: 20
  scaling:
    policy: targetBacklogPerReplica
    targetBacklogPerReplica: 1000
    pollIntervalSeconds: 0.5
    scaleDown:
      stabilizationSeconds: 2
      periodSeconds: 1
)";
}

TEST(LocalModeCluster, AHotShardIsNamedThePoolScalesOnTheSummedBacklogAndEveryEntryArrivesOnce) {
  RedisCluster cluster;
  BulkServer bulk;
  TempDir dir;
  const int seed = cluster.primaryPorts().front();
  const std::string yaml = dir.file("resources.yaml");
  std::ofstream(yaml) << resources(seed, bulk.url());
  const std::string status = dir.file("status.json");
  const std::string history = dir.file("history.csv");

  Process::Options o;
  o.argv = {SHOAL_LOCAL_BINARY, "--file", yaml, "--status-file", status, "--history-file", history,
            "--worker-binary", SHOAL_WORKER_BINARY, "--view", "log", "--work-dir", dir.file("work")};
  o.stdoutPath = dir.file("local.out");
  o.stderrPath = dir.file("local.err");
  Process local(o);
  auto diagnostics = [&] {
    return "--- shoal-local stderr ---\n" + readFile(dir.file("local.err")) + "\n--- history ---\n" +
           readFile(history) + "\n--- status ---\n" + readFile(status);
  };

  ASSERT_TRUE(waitUntil(
      [&] {
        json st = poolStatus(status);
        return st.is_object() && st.value("readyReplicas", 0) == 1;
      },
      30s, 50ms))
      << diagnostics();

  // Each bulk request takes 20 ms: one worker's loop on the hot shard drains
  // at most 25,000 entries/s, so the burst outlasts several polls.
  bulk.delayRequests(20);
  Process::Options lg;
  lg.argv = {SHOAL_LOADGEN_BINARY, "--redis", "redis://127.0.0.1:" + std::to_string(seed), "--cluster",
             "--stream", kStream, "--shards", std::to_string(kShards), "--spread", "hot:90", "--kind", "json",
             "--total", std::to_string(kEntries), "--burst", std::to_string(kEntries), "--payload-bytes", "200",
             "--quiet"};
  lg.stdoutPath = dir.file("loadgen.out");
  lg.stderrPath = dir.file("loadgen.err");
  Process loadgen(lg);
  const auto started = std::chrono::steady_clock::now();

  int peak = 0;
  std::string hottest;
  int64_t hottestTotal = 0, summed = 0;
  ASSERT_TRUE(waitUntil(
      [&] {
        json st = poolStatus(status);
        if (!st.is_object()) return false;
        peak = std::max(peak, st.value("replicas", 0));
        const json& b = st.value("backlog", json());
        if (b.is_object() && b.value("shards", 0) == kShards && b["hottestShard"].is_object() &&
            b["total"].is_number_integer() && b["total"].get<int64_t>() > summed) {
          summed = b["total"].get<int64_t>();
          hottest = b["hottestShard"].value("stream", "");
          hottestTotal = b["hottestShard"].value("total", int64_t{0});
        }
        return bulk.totalDocs() == kEntries;
      },
      90s, 20ms))
      << "delivered " << bulk.totalDocs() << " of " << kEntries << "\n" << diagnostics();
  ASSERT_FALSE(loadgen.running());
  std::cout << "local_cluster: " << kEntries << " entries over " << kShards << " shards (hot:90) delivered in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s, peak replicas " << peak << ", largest backlog " << summed << " (hot shard " << hottestTotal
            << ")\n";
  EXPECT_NE(readFile(dir.file("loadgen.out")).find("sent=" + std::to_string(kEntries)), std::string::npos)
      << readFile(dir.file("loadgen.out")) << readFile(dir.file("loadgen.err"));

  EXPECT_GE(peak, 2) << "the summed backlog scaled the pool up\n" << diagnostics();
  // At the largest backlog seen, shard 0 held most of it and the status named it.
  EXPECT_EQ(hottest, std::string(kStream) + ":{0}") << diagnostics();
  EXPECT_GT(hottestTotal * 10, summed * 8) << "hot shard " << hottestTotal << " of " << summed;

  // Exactly once, by "<shard stream>/<id>"; every shard drained, nothing pending.
  json stats = bulk.stats(/*withIds=*/true);
  std::set<std::string> ids;
  for (const auto& id : stats["ids"]["hot"]) ids.insert(id.get<std::string>());
  EXPECT_EQ(static_cast<int64_t>(ids.size()), kEntries);
  EXPECT_EQ(stats.value("createAttempts", int64_t{-1}), kEntries) << "an entry was delivered twice";
  int64_t onHot = 0;
  for (const auto& id : ids) onHot += id.rfind(std::string(kStream) + ":{0}/", 0) == 0 ? 1 : 0;
  EXPECT_EQ(onHot, kEntries * 9 / 10);  // hot:90 gives shard 0 ninety of every hundred

  ASSERT_TRUE(waitUntil(
      [&] {
        json st = poolStatus(status);
        const json& b = st.is_object() ? st.value("backlog", json()) : json();
        return b.is_object() && b["total"].is_number_integer() && b["total"].get<int64_t>() == 0;
      },
      30s, 50ms))
      << diagnostics();

  local.signal(SIGTERM);
  auto exited = local.wait(30s);
  ASSERT_TRUE(exited.has_value()) << diagnostics();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << diagnostics();
}

}  // namespace
}  // namespace shoal::testing
