// Local mode end to end on one machine: the real shoal-local binary runs real
// shoal-worker processes against a real redis-server and the real
// shoal-bulk-server. A burst scales the pool up, drains exactly once into the
// sink, and the pool scales back down without redelivering anything; and
// spec.retention trims only what every consumer group acknowledged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
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

constexpr int64_t kBurst = 100000;
constexpr int64_t kTrickleRate = 3000;                // entries/s after the burst
constexpr int64_t kEntries = kBurst + 12 * kTrickleRate;  // 12 s of trickle
constexpr const char* kStream = "logs:it";
constexpr const char* kGroup = "shoal-it";

std::string resources(const std::string& sinkUrl) {
  return R"(apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata:
  name: it-logs
spec:
  type: logs
  source:
    redis:
      address: 127.0.0.1:1   # replaced by --redis-url
      stream: ")" + std::string(kStream) + R"("
      consumerGroup: )" + kGroup + R"(
      startId: "0"
      maxDeliveries: 5
  transform:
    logs:
      format: json
  sink:
    elasticsearch:
      url: )" + sinkUrl + R"(
      index: it-logs
  delivery:
    batchSize: 500
    lingerMs: 20
---
apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata:
  name: it-logs
spec:
  pipelineRef:
    name: it-logs
  minReplicas: 1
  maxReplicas: 3
  terminationGracePeriodSeconds: 20
  scaling:
    policy: targetBacklogPerReplica
    targetBacklogPerReplica: 1000
    pollIntervalSeconds: 0.5
    scaleDown:
      stabilizationSeconds: 2
      periodSeconds: 1
      maxPodsPerStep: 4
)";
}

bool conditionTrue(const json& st, const std::string& type) {
  if (!st.is_object() || !st.contains("conditions")) return false;
  for (const auto& c : st["conditions"]) {
    if (c.value("type", "") == type) return c.value("status", "") == "True";
  }
  return false;
}

int64_t backlogOf(const json& st) {
  if (!st.is_object() || !st.contains("backlog") || !st["backlog"].is_object()) return -1;
  const json& total = st["backlog"].value("total", json());
  return total.is_number_integer() ? total.get<int64_t>() : -1;  // null: not measured
}

TEST(LocalMode, BurstScalesUpDrainsExactlyOnceAndScalesBackDown) {
  RedisServer redis;
  BulkServer bulk;
  TempDir dir;
  const std::string yaml = dir.file("resources.yaml");
  std::ofstream(yaml) << resources(bulk.url());
  const std::string status = dir.file("status.json");
  const std::string history = dir.file("history.csv");
  const std::string summary = dir.file("summary.txt");
  const std::string chart = dir.file("chart.svg");

  Process::Options o;
  o.argv = {SHOAL_LOCAL_BINARY,   "--file",        yaml,     "--status-file", status,
            "--history-file",     history,         "--summary-file", summary,   "--chart-file",
            chart,                "--worker-binary", SHOAL_WORKER_BINARY, "--view", "log",
            "--redis-url",        redis.url(),     "--work-dir", dir.file("work")};
  o.stdoutPath = dir.file("local.out");
  o.stderrPath = dir.file("local.err");
  Process local(o);
  auto diagnostics = [&] {
    return "--- shoal-local stderr ---\n" + readFile(dir.file("local.err")) +
           "\n--- history ---\n" + readFile(history) + "\n--- status ---\n" + readFile(status);
  };

  // One worker comes up and the pool reports Ready.
  ASSERT_TRUE(waitUntil(
      [&] {
        json st = poolStatus(status);
        return st.is_object() && st.value("readyReplicas", 0) == 1 && conditionTrue(st, "Ready");
      },
      30s, 50ms))
      << diagnostics();

  // A burst, then a steady trickle: the pool scales up for the burst and
  // back in while entries are still arriving, so workers are stopped while
  // busy. Each bulk request takes 20 ms, so one worker (one request in
  // flight) drains at most 25,000 entries/s whatever the machine's speed:
  // the burst outlasts several polls, and the trickle still fits one worker.
  bulk.delayRequests(20);
  Process::Options lg;
  lg.argv = {SHOAL_LOADGEN_BINARY, "--redis", redis.url(), "--stream", kStream, "--kind", "json",
             "--total", std::to_string(kEntries), "--burst", std::to_string(kBurst), "--rate",
             std::to_string(kTrickleRate), "--payload-bytes", "200", "--quiet"};
  lg.stdoutPath = dir.file("loadgen.out");
  lg.stderrPath = dir.file("loadgen.err");
  Process loadgen(lg);
  int peak = 0;
  bool scaledInWhileLoading = false;
  ASSERT_TRUE(waitUntil(
      [&] {
        const int replicas = poolStatus(status).value("replicas", 0);
        peak = std::max(peak, replicas);
        if (peak >= 2 && replicas < peak) scaledInWhileLoading = true;
        return !loadgen.running();
      },
      60s, 20ms))
      << diagnostics();
  ASSERT_NE(Process::readFile(dir.file("loadgen.out")).find("sent=" + std::to_string(kEntries)),
            std::string::npos)
      << Process::readFile(dir.file("loadgen.out")) << Process::readFile(dir.file("loadgen.err"));
  EXPECT_GE(peak, 2) << "the burst scaled the pool up";
  EXPECT_TRUE(scaledInWhileLoading) << "the pool scaled in while entries were arriving\n" << diagnostics();

  // Everything arrives, the backlog is empty and the pool is back to one worker.
  ASSERT_TRUE(waitUntil([&] { return bulk.totalDocs() == kEntries; }, 40s, 100ms))
      << "delivered " << bulk.totalDocs() << " of " << kEntries << "\n" << diagnostics();
  ASSERT_TRUE(waitUntil(
      [&] {
        json st = poolStatus(status);
        return backlogOf(st) == 0 && st.value("replicas", 0) == 1 &&
               st.value("desiredReplicas", 0) == 1;
      },
      30s, 50ms))
      << diagnostics();

  // Exactly once, by id; nothing pending, nothing dead-lettered.
  json stats = bulk.stats(/*withIds=*/true);
  std::set<std::string> ids;
  for (const auto& id : stats["ids"]["it-logs"]) ids.insert(id.get<std::string>());
  EXPECT_EQ(static_cast<int64_t>(ids.size()), kEntries);
  EXPECT_EQ(stats.value("created", int64_t{-1}), kEntries);
  EXPECT_EQ(stats.value("createAttempts", int64_t{-1}), kEntries) << "an entry was delivered twice";
  EXPECT_EQ(stats.value("conflicts", int64_t{-1}), 0) << "redelivery after scale-in";
  EXPECT_EQ(redis.cli(std::string("XPENDING ") + kStream + " " + kGroup).substr(0, 1), "0");
  EXPECT_EQ(redis.cli(std::string("XLEN ") + kStream + ":dead"), "0\n");

  // The scale-in drained workers: every consumer left in the group has nothing pending.
  const std::string consumers = redis.cli(std::string("XINFO CONSUMERS ") + kStream + " " + kGroup);
  EXPECT_NE(consumers.find("it-logs-1"), std::string::npos) << "a second worker consumed";

  // The history saw the scale-up.
  int maxReplicas = 0;
  std::istringstream csv(readFile(history));
  std::string line;
  std::getline(csv, line);
  while (std::getline(csv, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    if (f.size() == 10) maxReplicas = std::max(maxReplicas, std::stoi(f[8]));
  }
  EXPECT_GE(maxReplicas, 2);

  // SIGTERM: the workers drain and stop, shoal-local exits 0 and leaves no process.
  std::vector<int> workerPids;  // the running one and any still draining
  const json last = readStatus(status);
  for (const auto& w : last["workerPools"][0]["local"]["workers"]) workerPids.push_back(w.value("pid", 0));
  ASSERT_FALSE(workerPids.empty()) << diagnostics();
  local.signal(SIGTERM);
  auto exited = local.wait(30s);
  ASSERT_TRUE(exited.has_value()) << diagnostics();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << diagnostics();
  for (int pid : workerPids) EXPECT_NE(::kill(pid, 0), 0) << "worker " << pid << " still running";
  EXPECT_NE(readFile(summary).find("pool=default/it-logs peak_replicas="), std::string::npos);
  EXPECT_NE(readFile(chart).find("</svg>"), std::string::npos);
  EXPECT_EQ(readStatus(status)["workerPools"][0]["local"]["workers"].size(), 0u);
}

/// The Pipeline's status from the status file, or null.
json pipelineStatus(const std::string& path) {
  json s = readStatus(path);
  if (s.is_discarded() || !s.contains("pipelines") || s["pipelines"].empty()) return nullptr;
  return s["pipelines"][0].value("status", json());
}

// spec.retention in local mode (the same Pipeline reconciler): while a second
// consumer group has read nothing, the delivered entries stay; once it has,
// the stream is trimmed down to the acknowledged entries kept for replay.
TEST(LocalMode, RetentionTrimsOnlyWhatEveryGroupAcknowledged) {
  constexpr int64_t kTotal = 5000;
  constexpr const char* kRetStream = "logs:ret";
  RedisServer redis;
  BulkServer bulk;
  TempDir dir;
  const std::string yaml = dir.file("resources.yaml");
  std::ofstream(yaml) << R"(apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata:
  name: ret-logs
spec:
  type: logs
  source:
    redis:
      address: 127.0.0.1:1   # replaced by --redis-url
      stream: ")" << kRetStream << R"("
      consumerGroup: shoal-ret
      startId: "0"
  transform:
    logs:
      format: json
  sink:
    elasticsearch:
      url: )" << bulk.url() << R"(
      index: ret-logs
  retention:
    keepAcknowledged:
      count: 100
    intervalSeconds: 1
---
apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata:
  name: ret-logs
spec:
  pipelineRef:
    name: ret-logs
  minReplicas: 1
  maxReplicas: 1
  scaling:
    pollIntervalSeconds: 0.5
)";
  // A second reader of the stream (an audit job, say) that starts at 0.
  ASSERT_EQ(redis.cli(std::string("XGROUP CREATE ") + kRetStream + " audit 0 MKSTREAM"), "OK\n");
  const std::string status = dir.file("status.json");
  Process::Options o;
  o.argv = {SHOAL_LOCAL_BINARY, "--file", yaml, "--status-file", status, "--worker-binary", SHOAL_WORKER_BINARY,
            "--view", "log", "--redis-url", redis.url(), "--work-dir", dir.file("work")};
  o.stdoutPath = dir.file("local.out");
  o.stderrPath = dir.file("local.err");
  Process local(o);
  auto diagnostics = [&] {
    return "--- shoal-local stderr ---\n" + readFile(dir.file("local.err")) + "\n--- status ---\n" + readFile(status);
  };
  Process::Options lg;
  lg.argv = {SHOAL_LOADGEN_BINARY, "--redis", redis.url(), "--stream", kRetStream, "--kind", "json",
             "--total", std::to_string(kTotal), "--quiet"};
  lg.stdoutPath = dir.file("loadgen.out");
  lg.stderrPath = dir.file("loadgen.err");
  Process loadgen(lg);
  ASSERT_TRUE(waitUntil([&] { return bulk.totalDocs() == kTotal; }, 40s, 100ms))
      << "delivered " << bulk.totalDocs() << "\n" << diagnostics();
  // Rounds run (one per second) but audit has read nothing: nothing goes.
  ASSERT_TRUE(waitUntil(
      [&] {
        const json st = pipelineStatus(status);
        return st.is_object() && st["retention"].is_object() && st["retention"]["lastTrimTime"].is_string() &&
               st["retention"]["length"] == kTotal;
      },
      20s, 50ms))
      << diagnostics();
  EXPECT_EQ(xlen(redis, kRetStream), kTotal);
  EXPECT_EQ(pipelineStatus(status)["retention"]["trimmedTotal"], 0);
  // audit is done with everything: the stream is trimmed to the 100 kept.
  ASSERT_EQ(redis.cli(std::string("XGROUP SETID ") + kRetStream + " audit $"), "OK\n");
  ASSERT_TRUE(waitUntil([&] { return pipelineStatus(status)["retention"]["trimmedTotal"] == kTotal - 100; }, 20s,
                        50ms))
      << diagnostics();
  EXPECT_EQ(xlen(redis, kRetStream), 100);
  bool withinLimits = false;
  const json st = pipelineStatus(status);
  for (const auto& c : st["conditions"])
    withinLimits |= c.value("type", "") == "RetentionLimited" && c.value("reason", "") == "WithinLimits";
  EXPECT_TRUE(withinLimits) << diagnostics();
  local.signal(SIGTERM);
  auto exited = local.wait(30s);
  ASSERT_TRUE(exited.has_value()) << diagnostics();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << diagnostics();
}

}  // namespace
}  // namespace shoal::testing
