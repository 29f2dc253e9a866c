// The real shoal-worker process (logs pipeline) against a real redis-server
// and shoal-bulk-server (the Elasticsearch-compatible `_bulk` test server):
// the delivery cases, end to end.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "shoal/redis/client.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/servers.h"

#ifndef SHOAL_WORKER_BINARY
#error "SHOAL_WORKER_BINARY must name the shoal-worker executable"
#endif

namespace shoal {
namespace {

using shoal::testing::BulkServer;
using shoal::testing::Process;
using shoal::testing::RedisServer;
using shoal::testing::TempDir;
using shoal::testing::waitUntil;
using namespace std::chrono_literals;

struct WorkerOptions {
  std::string consumer = "w1";
  int64_t maxDeliveries = 5;
  int64_t claimMinIdleMs = 60000;
  int64_t claimIntervalMs = 1000;
  int64_t batchSize = 100;
  int64_t shutdownTimeoutMs = 10000;
  int64_t parallelism = 1;
  std::string format = "json";
  std::string extraRedis;  // more YAML lines under source.redis
  std::map<std::string, std::string> env;
};

class WorkerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>(redisOptions());
    bulk_ = std::make_unique<BulkServer>();
    auto o = redis::parseUrl(redis_->url());
    ASSERT_TRUE(o.ok());
    o->tls.caFile = redis_->caFile();
    client_ = std::make_unique<redis::Client>(*o, SystemClock::instance());
  }
  virtual RedisServer::Options redisOptions() { return {}; }

  std::string writeConfig(const WorkerOptions& w) {
    const std::string path = dir_.file("pipeline-" + w.consumer + ".yaml");
    std::ofstream f(path);
    f << "apiVersion: shoal.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: test}\nspec:\n"
      << "  type: logs\n  source:\n    redis:\n"
      << "      stream: logs\n      consumerGroup: g\n      startId: \"0\"\n"
      << "      maxDeliveries: " << w.maxDeliveries << "\n"
      << "      claimMinIdleMs: " << w.claimMinIdleMs << "\n"
      << "      claimIntervalMs: " << w.claimIntervalMs << "\n"
      << "      blockMs: 50\n" << w.extraRedis
      << "  delivery: {batchSize: " << w.batchSize << ", lingerMs: 5, retryInitialMs: 10, retryMaxMs: 200, "
      << "shutdownTimeoutMs: " << w.shutdownTimeoutMs << ", parallelism: " << w.parallelism << "}\n"
      << "  transform: {logs: {format: " << w.format << "}}\n"
      << "  sink:\n    elasticsearch: {url: \"" << bulk_->url() << "\", index: logs-test}\n";
    return path;
  }

  Process startWorker(const WorkerOptions& w, int* metricsPort = nullptr) {
    const int port = shoal::testing::freePort();
    if (metricsPort) *metricsPort = port;
    Process::Options po;
    po.argv = {SHOAL_WORKER_BINARY, "--config", writeConfig(w), "--listen", "127.0.0.1:" + std::to_string(port)};
    po.env = w.env;
    po.env["SHOAL_CONSUMER_NAME"] = w.consumer;
    if (!po.env.count("SHOAL_REDIS_URL")) po.env["SHOAL_REDIS_URL"] = redis_->url();
    po.stderrPath = dir_.file("worker-" + w.consumer + "-" + std::to_string(starts_++) + ".log");
    lastLog_ = po.stderrPath;
    return Process(po);
  }

  void addLogs(int n, int from = 0) {
    std::vector<redis::Command> cmds;
    for (int i = from; i < from + n; ++i)
      cmds.push_back({"XADD", "logs", "*", "message",
                      R"({"@timestamp":"2026-11-21T05:00:00.000Z","level":"info","message":"line )" +
                          std::to_string(i) + R"(","service":{"name":"checkout"}})"});
    ASSERT_TRUE(client_->pipeline(cmds).ok());
  }
  int64_t pending() {
    auto s = client_->pendingSummary("logs", "g");
    return s.ok() ? s->count : -1;
  }
  int64_t pendingOf(const std::string& consumer) {
    auto s = client_->pendingSummary("logs", "g");
    if (!s.ok()) return -1;
    for (auto& [c, n] : s->consumers)
      if (c == consumer) return n;
    return 0;
  }
  std::vector<StreamEntry> deadLetters() {
    auto r = client_->command({"XRANGE", "logs:dead", "-", "+"});
    auto d = redis::decodeEntries(*r);
    return d.ok() ? *d : std::vector<StreamEntry>{};
  }
  std::string log() { return Process::readFile(lastLog_); }
  // SIGTERM while `producer` still appends: exit 0 in time, nothing pending,
  // everything read indexed.
  template <typename Producer>
  void expectCleanDrainOnSigterm(Process& w, Producer& producer) {
    w.signal(SIGTERM);
    auto status = w.wait(10s);
    producer.stop();
    ASSERT_TRUE(status.has_value()) << "did not exit within the shutdown timeout\n" << log();
    EXPECT_TRUE(WIFEXITED(*status)) << log();
    EXPECT_EQ(WEXITSTATUS(*status), 0) << log();
    EXPECT_EQ(pending(), 0);
    auto groups = client_->groups("logs");
    ASSERT_TRUE(groups.ok());
    EXPECT_EQ(bulk_->totalDocs(), *groups->front().entriesRead);  // all it read was indexed
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<BulkServer> bulk_;
  std::unique_ptr<redis::Client> client_;
  std::string lastLog_;
  int starts_ = 0;
};

TEST_F(WorkerProcessTest, ThousandLogsAreAllIndexedAndAcknowledged) {
  addLogs(1000);
  int port = 0;
  auto w = startWorker({}, &port);
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 1000; }, 30s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  auto ids = bulk_->stats(true)["ids"]["logs-test"];
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1000u);
  int st = 0;
  EXPECT_NE(shoal::testing::httpGet(port, "/healthz", &st), "");
  EXPECT_EQ(st, 200);
  ASSERT_TRUE(waitUntil([&] {
    shoal::testing::httpGet(port, "/readyz", &st);
    return st == 200;
  }));
  auto metrics = shoal::testing::httpGet(port, "/metrics", &st);
  EXPECT_EQ(st, 200);
  EXPECT_NE(metrics.find("shoal_worker_entries_delivered_total{group=\"g\",stream=\"logs\"} 1000"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("shoal_worker_batch_duration_seconds_bucket"), std::string::npos);
  EXPECT_TRUE(deadLetters().empty());
  EXPECT_EQ(WEXITSTATUS(w.stop(10s)), 0);
}

TEST_F(WorkerProcessTest, MalformedEntriesAreDeadLetteredWithReasonsAndTheRestIndexed) {
  addLogs(30);
  std::vector<redis::Command> bad;
  for (int i = 0; i < 5; ++i) bad.push_back({"XADD", "logs", "*", "message", "{\"broken json " + std::to_string(i)});
  bad.push_back({"XADD", "logs", "*", "other", "no message field"});
  ASSERT_TRUE(client_->pipeline(bad).ok());
  addLogs(30, 30);
  auto w = startWorker({});
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 60 && deadLetters().size() == 6; }, 30s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  for (const auto& d : deadLetters()) {
    ASSERT_NE(d.field("shoal.reason"), nullptr);
    EXPECT_FALSE(d.field("shoal.reason")->empty());
    ASSERT_NE(d.field("shoal.original_id"), nullptr);
    EXPECT_EQ(*d.field("shoal.stream"), "logs");
  }
}

TEST_F(WorkerProcessTest, ASinkThatFailsOnceIsRetried) {
  bulk_->failRequests(503, 1);
  bulk_->failItems(429, 5);
  addLogs(200);
  auto w = startWorker({});
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 200; }, 30s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  auto s = bulk_->stats();
  EXPECT_GE(s["failedRequests"].get<int64_t>(), 1);
  EXPECT_GE(s["injectedItemFailures"].get<int64_t>(), 5);
  EXPECT_TRUE(deadLetters().empty());
}

TEST_F(WorkerProcessTest, PerItem429IsRetriedAnd400IsDeadLetteredInTheSameBatch) {
  bulk_->failItems(429, 3);
  bulk_->failItems(400, 2);
  addLogs(50);
  auto w = startWorker({});
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 48 && deadLetters().size() == 2; }, 30s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  for (const auto& d : deadLetters()) {
    ASSERT_NE(d.field("shoal.reason"), nullptr);
    EXPECT_NE(d.field("shoal.reason")->find("400"), std::string::npos) << *d.field("shoal.reason");
  }
}

TEST_F(WorkerProcessTest, SigtermWithAHungSinkExitsByTheDeadlineLeavingEntriesPending) {
  bulk_->delayRequests(60000);
  addLogs(20);
  auto w = startWorker({.shutdownTimeoutMs = 1500});
  ASSERT_TRUE(waitUntil([&] { return pending() == 20; }, 30s)) << log();
  const auto t0 = std::chrono::steady_clock::now();
  w.signal(SIGTERM);
  auto status = w.wait(10s);
  ASSERT_TRUE(status.has_value()) << log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_EQ(pending(), 20);  // nothing confirmed, nothing acknowledged
}

TEST_F(WorkerProcessTest, SigtermWhileRedisIsUnreachableExitsAtOnce) {
  WorkerOptions o;
  o.env["SHOAL_REDIS_URL"] = "redis://127.0.0.1:" + std::to_string(shoal::testing::freePort());
  auto w = startWorker(o);
  ASSERT_TRUE(waitUntil([&] { return log().find("redis call failed") != std::string::npos; })) << log();
  w.signal(SIGTERM);
  auto status = w.wait(5s);
  ASSERT_TRUE(status.has_value()) << log();
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST_F(WorkerProcessTest, KillNineMidStreamThenRestartIndexesEveryEntryExactlyOnce) {
  addLogs(3000);
  bulk_->delayRequests(30);  // slow enough to be killed mid-stream
  auto w = startWorker({});
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() > 300; }, 30s)) << log();
  w.signal(SIGKILL);
  w.wait(5s);
  ASSERT_LT(bulk_->totalDocs(), 3000);
  EXPECT_GT(pending(), 0);  // it died holding entries
  bulk_->clearFaults();
  auto again = startWorker({});
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 3000; }, 60s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  auto ids = bulk_->stats(true)["ids"]["logs-test"];
  EXPECT_EQ(ids.size(), 3000u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3000u);
}

TEST_F(WorkerProcessTest, ASecondWorkerTakesOverADeadWorkersPendingEntries) {
  addLogs(1000);
  bulk_->delayRequests(200);
  auto a = startWorker({.consumer = "a"});
  ASSERT_TRUE(waitUntil([&] { return pendingOf("a") > 0; }, 30s)) << log();
  a.signal(SIGKILL);
  a.wait(5s);
  const int64_t orphaned = pendingOf("a");
  ASSERT_GT(orphaned, 0);
  bulk_->clearFaults();
  int port = 0;
  auto b = startWorker({.consumer = "b", .claimMinIdleMs = 300, .claimIntervalMs = 100}, &port);
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 1000; }, 60s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  EXPECT_EQ(pendingOf("a"), 0);
  int st = 0;
  auto metrics = shoal::testing::httpGet(port, "/metrics", &st);
  EXPECT_NE(metrics.find("shoal_worker_entries_claimed_total{group=\"g\",stream=\"logs\"} " + std::to_string(orphaned)),
            std::string::npos)
      << metrics;
}

TEST_F(WorkerProcessTest, APoisonEntryEndsInTheDeadLetterStreamAfterMaxDeliveries) {
  ASSERT_TRUE(client_->createGroup("logs", "g", "0").ok());
  addLogs(1);
  auto id = client_->readGroup("logs", "g", "crashed-1", ">", 1, -1);
  ASSERT_TRUE(id.ok() && id->size() == 1);
  // Two more workers took it and died: it has been delivered three times.
  for (const char* c : {"crashed-2", "crashed-3"})
    ASSERT_TRUE(client_->command({"XCLAIM", "logs", "g", c, "0", id->front().id}).ok());
  addLogs(10, 1);
  auto w = startWorker({.maxDeliveries = 3, .claimMinIdleMs = 100, .claimIntervalMs = 100});
  ASSERT_TRUE(waitUntil([&] { return deadLetters().size() == 1 && bulk_->totalDocs() == 10; }, 30s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  auto dead = deadLetters();
  EXPECT_EQ(*dead[0].field("shoal.original_id"), id->front().id);
  EXPECT_EQ(*dead[0].field("shoal.deliveries"), "4");
  EXPECT_NE(dead[0].field("shoal.reason")->find("maxDeliveries"), std::string::npos);
}

// XADDs small logs in batches of 20 from its own connection until destroyed.
class SteadyProducer {
 public:
  explicit SteadyProducer(const std::string& url)
      : thread_([this, url] {
          auto o = redis::parseUrl(url);
          redis::Client p(*o, SystemClock::instance());
          while (producing_.load()) {
            std::vector<redis::Command> cmds;
            for (int i = 0; i < 20; ++i)
              cmds.push_back({"XADD", "logs", "*", "message", R"({"message":"steady","level":"info"})"});
            (void)p.pipeline(cmds);
          }
        }) {}
  ~SteadyProducer() { stop(); }
  void stop() {
    producing_.store(false);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> producing_{true};
  std::thread thread_;
};

TEST_F(WorkerProcessTest, SigtermDuringASteadyStreamLeavesNothingPendingAndExitsZero) {
  SteadyProducer producer(redis_->url());
  bulk_->delayRequests(10);
  auto w = startWorker({.shutdownTimeoutMs = 8000});
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() > 200; }, 30s)) << log();
  expectCleanDrainOnSigterm(w, producer);
}

std::vector<std::string> consumersOf(redis::Client& c) {
  std::vector<std::string> names;
  auto r = c.command({"XINFO", "CONSUMERS", "logs", "g"});
  if (!r.ok()) return names;
  for (const auto& consumer : r->elements)
    for (size_t i = 0; i + 1 < consumer.elements.size(); i += 2)
      if (consumer.elements[i].str == "name") names.push_back(consumer.elements[i + 1].str);
  std::sort(names.begin(), names.end());
  return names;
}

TEST_F(WorkerProcessTest, ParallelPipelinesAreConsumersOfTheirOwnAndIndexEachEntryOnce) {
  addLogs(3000);
  bulk_->delayRequests(30);  // slow enough that every pipeline holds a batch at once
  int port = 0;
  auto w = startWorker({.consumer = "pod", .parallelism = 3}, &port);
  ASSERT_TRUE(waitUntil([&] { return pendingOf("pod-0") > 0 && pendingOf("pod-1") > 0 && pendingOf("pod-2") > 0; },
                        30s))
      << log();
  bulk_->clearFaults();
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 3000; }, 60s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
  EXPECT_EQ(consumersOf(*client_), (std::vector<std::string>{"pod-0", "pod-1", "pod-2"}));
  auto s = bulk_->stats(true);
  EXPECT_EQ(s["createAttempts"], 3000);  // each entry went to the sink exactly once
  EXPECT_EQ(s["conflicts"], 0);
  auto ids = s["ids"]["logs-test"];
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3000u);
  int st = 0;
  auto metrics = shoal::testing::httpGet(port, "/metrics", &st);
  EXPECT_NE(metrics.find("shoal_worker_entries_delivered_total{group=\"g\",stream=\"logs\"} 3000"),
            std::string::npos)
      << metrics;  // one series, the sum over the pipelines
  EXPECT_NE(metrics.find("shoal_worker_delivery_pipelines{group=\"g\",stream=\"logs\"} 3"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("shoal_logs_entries_total{result=\"mapped\"} 3000"), std::string::npos) << metrics;
  EXPECT_TRUE(deadLetters().empty());
  EXPECT_EQ(WEXITSTATUS(w.stop(10s)), 0);
}

TEST_F(WorkerProcessTest, SigtermDrainsEveryParallelPipelineLeavingNothingPending) {
  SteadyProducer producer(redis_->url());
  bulk_->delayRequests(10);
  auto w = startWorker({.consumer = "pod", .shutdownTimeoutMs = 8000, .parallelism = 3});
  ASSERT_TRUE(waitUntil([&] { return pendingOf("pod-0") > 0 && pendingOf("pod-1") > 0 && pendingOf("pod-2") > 0; },
                        30s))
      << log();
  expectCleanDrainOnSigterm(w, producer);
  for (const char* c : {"pod-0", "pod-1", "pod-2"}) EXPECT_EQ(pendingOf(c), 0) << c;
  EXPECT_EQ(bulk_->stats()["conflicts"], 0);
}

TEST_F(WorkerProcessTest, BadConfigExitsTwoNamingTheField) {
  const std::string path = dir_.file("bad.yaml");
  std::ofstream(path) << "spec:\n  type: logs\n  source:\n    redis:\n      url: redis://127.0.0.1:1\n";
  Process::Options po;
  po.argv = {SHOAL_WORKER_BINARY, "--config", path};
  po.stderrPath = dir_.file("bad.log");
  Process p(po);
  auto st = p.wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(WEXITSTATUS(*st), 2);
  EXPECT_NE(Process::readFile(dir_.file("bad.log")).find("spec.source.redis.stream: required"), std::string::npos);
}

TEST_F(WorkerProcessTest, HelpDocumentsOptionsAndEnvironment) {
  Process::Options po;
  po.argv = {SHOAL_WORKER_BINARY, "--help"};
  po.stdoutPath = dir_.file("help.txt");
  Process p(po);
  auto st = p.wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(WEXITSTATUS(*st), 0);
  auto help = Process::readFile(dir_.file("help.txt"));
  for (const char* s : {"--config", "--listen", "--log-level", "SHOAL_REDIS_URL", "SHOAL_REDIS_USERNAME",
                        "SHOAL_REDIS_PASSWORD", "SHOAL_REDIS_PASSWORD_FILE", "SHOAL_CONSUMER_NAME", "SHOAL_SINK_URL"})
    EXPECT_NE(help.find(s), std::string::npos) << s;
}

class WorkerProcessTlsTest : public WorkerProcessTest {
  RedisServer::Options redisOptions() override { return {.tls = true, .password = "tls-secret"}; }
};

TEST_F(WorkerProcessTlsTest, ConsumesOverTlsWithAPassword) {
  addLogs(100);
  const std::string pwFile = dir_.file("redis-password");
  std::ofstream(pwFile) << "tls-secret\n";
  WorkerOptions w;
  w.extraRedis = "      tls: {enabled: true, caFile: \"" + redis_->caFile() + "\"}\n";
  w.env = {{"SHOAL_REDIS_URL", "rediss://127.0.0.1:" + std::to_string(redis_->port())},
           {"SHOAL_REDIS_PASSWORD_FILE", pwFile}};
  auto p = startWorker(w);
  ASSERT_TRUE(waitUntil([&] { return bulk_->totalDocs() == 100; }, 30s)) << log();
  ASSERT_TRUE(waitUntil([&] { return pending() == 0; })) << log();
}

}  // namespace
}  // namespace shoal
