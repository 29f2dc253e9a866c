// The real shoal-worker process reading a sharded pipeline: 8 shard streams
// (written by shoal-loadgen by key on the cluster),
// first on one redis-server, then on a real 6-node Redis Cluster with two
// workers in the group: every entry becomes exactly one document (ids unique
// per shard), nothing stays pending, SIGTERM drains and exits 0. On the
// cluster, the primary serving a shard is killed mid-run (the workers follow
// the promoted replica), and two shards' slots are migrated to another
// primary while the workers read (ASK, then MOVED), by hand and with the real
// `redis-cli --cluster reshard`; each run counts what was lost or duplicated.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdio>
#include <set>

#include "shoal/loadgen/spread.h"
#include "shoal/redis/client.h"
#include "shoal/redis_cluster/cluster_client.h"
#include "shoal/stream/shards.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/servers.h"

#ifndef SHOAL_WORKER_BINARY
#error "SHOAL_WORKER_BINARY must name the shoal-worker executable"
#endif
#ifndef SHOAL_LOADGEN_BINARY
#error "SHOAL_LOADGEN_BINARY must name the shoal-loadgen executable"
#endif

namespace shoal {
namespace {

using shoal::testing::BulkServer;
using shoal::testing::Process;
using shoal::testing::waitUntil;
using namespace std::chrono_literals;

constexpr int kShards = 8;

std::string writeConfig(const testing::TempDir& dir, const std::string& address, bool cluster,
                        const std::string& bulkUrl) {
  const std::string path = dir.file("pipeline.yaml");
  std::ofstream f(path);
  f << "spec:\n  type: logs\n  source:\n    redis:\n"
    << "      address: " << address << "\n      stream: logs\n      consumerGroup: g\n      startId: \"0\"\n"
    << "      shards: " << kShards << "\n      cluster: " << (cluster ? "true" : "false") << "\n"
    << "      blockMs: 50\n      claimMinIdleMs: 2000\n      claimIntervalMs: 500\n      readTimeoutMs: 1000\n"
    << "      connectTimeoutMs: 500\n"
    << "  delivery: {batchSize: 200, lingerMs: 5, retryInitialMs: 10, retryMaxMs: 200, shutdownTimeoutMs: 10000}\n"
    << "  transform: {logs: {format: json}}\n"
    << "  sink:\n    elasticsearch: {url: \"" << bulkUrl << "\", index: logs-test}\n";
  return path;
}

Process startWorker(const testing::TempDir& dir, const std::string& config, const std::string& consumer) {
  Process::Options po;
  po.argv = {SHOAL_WORKER_BINARY, "--config", config, "--listen", "127.0.0.1:0"};
  po.env["SHOAL_CONSUMER_NAME"] = consumer;
  po.stderrPath = dir.file("worker-" + consumer + ".log");
  return Process(po);
}

std::string line(int i) {
  return R"({"@timestamp":"2026-11-21T05:00:00.000Z","message":"line )" + std::to_string(i) + R"("})";
}

// Appends n entries round robin over the shards, as a writer does: what fails
// is retried (right after a failover a node may still see the cluster down,
// CLUSTERDOWN, until its view converges).
void sendRoundRobin(redis::ClusterClient& writer, const std::vector<std::string>& shards, int& sent, int n) {
  for (int i = 0; i < n; ++i, ++sent) {
    std::string last;
    const bool ok = waitUntil(
        [&] {
          auto r = writer.add(shards[static_cast<size_t>(sent) % shards.size()], {{"message", line(sent)}});
          if (!r.ok()) last = r.error().message;
          return r.ok();
        },
        30s, 50ms);
    ASSERT_TRUE(ok) << last;
  }
}

// Whether no shard has a pending entry (an unreadable shard counts as pending).
template <typename Client>
bool noPendingOnAnyShard(Client& c, const std::vector<std::string>& shards) {
  for (const std::string& s : shards) {
    auto p = c.pendingSummary(s, "g");
    if (!p.ok() || p->count != 0) return false;
  }
  return true;
}

// Distinct documents and all ids indexed, from the bulk server's record.
std::pair<size_t, size_t> documents(BulkServer& bulk) {
  auto ids = bulk.stats(true)["ids"]["logs-test"];
  return {std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()};
}

TEST(ShardedWorker, EightShardsOnOneNodeAreReadExactlyOnce) {
  testing::RedisServer redis;
  BulkServer bulk;
  testing::TempDir dir;
  auto o = redis::parseUrl(redis.url());
  ASSERT_TRUE(o.ok());
  redis::Client c(*o, SystemClock::instance());
  // The same entry ids in every shard: documents must still be distinct.
  for (const std::string& s : shardStreams("logs", kShards))
    for (int i = 0; i < 250; ++i)
      ASSERT_TRUE(c.command({"XADD", s, std::to_string(1000 + i) + "-0", "message", line(i)}).ok());
  Process w = startWorker(dir, writeConfig(dir, "127.0.0.1:" + std::to_string(redis.port()), false, bulk.url()), "w1");
  ASSERT_TRUE(waitUntil([&] { return bulk.totalDocs() >= kShards * 250; }, 30s))
      << Process::readFile(dir.file("worker-w1.log"));
  auto [distinct, total] = documents(bulk);
  EXPECT_EQ(distinct, static_cast<size_t>(kShards * 250));
  ASSERT_TRUE(waitUntil([&] { return noPendingOnAnyShard(c, shardStreams("logs", kShards)); }));
  EXPECT_EQ(WEXITSTATUS(w.stop(10s)), 0);
}

// A writer that sees a failover at once: no wait between topology refreshes
// or reconnects.
redis::ClusterOptions failoverWriterOptions(const testing::RedisCluster& cluster) {
  redis::ClusterOptions co;
  co.seeds.push_back({"127.0.0.1", cluster.ports()[0]});
  co.refreshMinInterval = Duration::zero();
  co.node.reconnectInitial = std::chrono::milliseconds(1);
  co.node.reconnectMax = std::chrono::milliseconds(1);
  return co;
}

TEST(ShardedWorker, OnARedisClusterTwoWorkersDeliverEveryEntryAndFollowAFailover) {
  testing::RedisCluster cluster;
  BulkServer bulk;
  testing::TempDir dir;
  redis::ClusterClient writer(failoverWriterOptions(cluster), SystemClock::instance());
  const auto shards = shardStreams("logs", kShards);
  int sent = 0;
  auto send = [&](int n) { sendRoundRobin(writer, shards, sent, n); };
  // The first 4000 come from shoal-loadgen spreading by key over the shards
  // through the cluster: each shard holds exactly what the spread assigns it.
  int loadgenExit = -1;
  const std::string out = testing::runCommand(
      std::string(SHOAL_LOADGEN_BINARY) + " --quiet --cluster --redis redis://127.0.0.1:" +
          std::to_string(cluster.ports()[2]) + " --stream logs --shards " + std::to_string(kShards) +
          " --spread key --keys 100 --total 4000 --pipeline 64 2>&1",
      false, &loadgenExit);
  ASSERT_EQ(loadgenExit, 0) << out;
  loadgen::Spread spread;
  spread.shards = kShards;
  spread.mode = loadgen::Spread::Mode::kKey;
  spread.keys = 100;
  std::vector<int64_t> expected(kShards, 0);
  for (uint64_t seq = 0; seq < 4000; ++seq) ++expected[static_cast<size_t>(spread.shardOf(seq))];
  for (int i = 0; i < kShards; ++i) {
    auto len = writer.command(shards[static_cast<size_t>(i)], {"XLEN", shards[static_cast<size_t>(i)]});
    ASSERT_TRUE(len.ok());
    EXPECT_EQ(len->integer, expected[static_cast<size_t>(i)]) << shards[static_cast<size_t>(i)];
  }
  sent = 4000;
  const std::string config = writeConfig(dir, "127.0.0.1:" + std::to_string(cluster.ports()[1]), true, bulk.url());
  Process w1 = startWorker(dir, config, "w1");
  Process w2 = startWorker(dir, config, "w2");
  ASSERT_TRUE(waitUntil([&] { return bulk.totalDocs() >= 4000; }, 60s))
      << Process::readFile(dir.file("worker-w1.log"));

  // Kill the primary of shard 0 with WAIT-confirmed entries on it: its
  // replica takes over, the writer and the workers follow.
  ASSERT_TRUE(writer.command(shards[0], {"WAIT", "1", "10000"}, 11s).ok());
  const int primary = cluster.primaryFor(shards[0]);
  cluster.kill(primary);
  int after = 0;
  ASSERT_TRUE(waitUntil(
      [&] {
        if (writer.add(shards[0], {{"message", line(sent)}}).ok()) {
          ++sent;
          ++after;
        }
        return after >= 1;
      },
      30s, 100ms));
  send(4000);
  ASSERT_TRUE(waitUntil([&] { return static_cast<int>(documents(bulk).first) >= sent; }, 90s))
      << "documents " << documents(bulk).first << " of " << sent << "\n"
      << Process::readFile(dir.file("worker-w1.log"));
  ASSERT_TRUE(waitUntil([&] { return noPendingOnAnyShard(writer, shards); }, 30s));
  auto [distinct, total] = documents(bulk);
  const int lost = std::max(0, sent - static_cast<int>(distinct));
  const int duplicates = static_cast<int>(total - distinct);
  std::printf("chaos: cluster_failover sent=%d delivered=%zu lost=%d duplicates=%d (entries WAIT-confirmed before the kill)\n",
              sent, distinct, lost, duplicates);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(WEXITSTATUS(w1.stop(15s)), 0) << Process::readFile(dir.file("worker-w1.log"));
  EXPECT_EQ(WEXITSTATUS(w2.stop(15s)), 0) << Process::readFile(dir.file("worker-w2.log"));
}

// Redis replicates asynchronously: what a primary acknowledged but had not
// yet sent to its replica is gone once the replica takes over. The writer
// pipelines entries to shard 0 and its primary is killed right after the
// last reply, with no WAIT: entries confirmed by WAIT before that are all
// delivered; of the rest, the run counts (and prints) what was lost.
TEST(ShardedWorker, AFailoverWithoutWaitLosesAtMostWhatNoReplicaConfirmed) {
  testing::RedisCluster cluster;
  BulkServer bulk;
  testing::TempDir dir;
  redis::ClusterClient writer(failoverWriterOptions(cluster), SystemClock::instance());
  const auto shards = shardStreams("logs", kShards);
  const std::string& hot = shards[0];
  const std::string config = writeConfig(dir, "127.0.0.1:" + std::to_string(cluster.ports()[1]), true, bulk.url());
  Process w1 = startWorker(dir, config, "w1");
  Process w2 = startWorker(dir, config, "w2");

  std::vector<std::string> acked;  // ids the primary acknowledged, in order
  int seq = 0;
  auto writeBatch = [&](int n) -> bool {
    std::vector<redis::Command> cmds;
    for (int i = 0; i < n; ++i) cmds.push_back({"XADD", hot, "*", "message", line(seq++)});
    auto r = writer.pipeline(hot, cmds);
    if (!r.ok()) return false;
    for (const auto& reply : *r)
      if (!reply.isError()) acked.push_back(reply.str);
    return true;
  };
  for (int b = 0; b < 10; ++b) ASSERT_TRUE(writeBatch(200));
  auto wait = writer.command(hot, {"WAIT", "1", "10000"}, 11s);
  ASSERT_TRUE(wait.ok() && wait->integer >= 1);
  const size_t confirmed = acked.size();  // on the replica too
  // No WAIT from here: a burst the primary acknowledges, then kill -9 at once.
  for (int b = 0; b < 10; ++b) ASSERT_TRUE(writeBatch(500));
  const size_t unconfirmed = acked.size() - confirmed;
  cluster.kill(cluster.primaryFor(hot));
  // The writer goes on once the replica serves the slot.
  ASSERT_TRUE(waitUntil([&] { return writeBatch(100) && acked.size() > confirmed + unconfirmed; }, 30s, 100ms));
  for (int b = 0; b < 9; ++b) ASSERT_TRUE(waitUntil([&] { return writeBatch(100); }, 10s, 50ms));

  // Everything the new primary holds is delivered and nothing stays pending.
  auto inStream = [&] {
    std::set<std::string> ids;
    auto r = writer.command(hot, {"XRANGE", hot, "-", "+"});
    if (r.ok())
      if (auto e = redis::decodeEntries(*r); e.ok())
        for (const auto& x : *e) ids.insert(hot + "/" + x.id);
    return ids;
  };
  auto delivered = [&] {
    auto ids = bulk.stats(true)["ids"]["logs-test"];
    std::set<std::string> out;
    for (const auto& id : ids) out.insert(id.get<std::string>());
    return out;
  };
  ASSERT_TRUE(waitUntil(
      [&] {
        const auto want = inStream(), got = delivered();
        return !want.empty() &&
               std::includes(got.begin(), got.end(), want.begin(), want.end()) &&
               noPendingOnAnyShard(writer, shards);
      },
      90s, 200ms))
      << Process::readFile(dir.file("worker-w1.log"));

  const auto got = delivered();
  int lostConfirmed = 0, lostBurst = 0, lostAfter = 0;
  for (size_t i = 0; i < acked.size(); ++i) {
    if (got.count(hot + "/" + acked[i])) continue;
    (i < confirmed ? lostConfirmed : i < confirmed + unconfirmed ? lostBurst : lostAfter) += 1;
  }
  auto all = bulk.stats(true)["ids"]["logs-test"];
  std::printf("chaos: cluster_failover_without_wait acked=%zu wait_confirmed=%zu lost=%d lost_wait_confirmed=%d "
              "duplicates=%d (%zu acknowledged by the old primary in the burst before kill -9)\n",
              acked.size(), confirmed, lostConfirmed + lostBurst + lostAfter, lostConfirmed,
              static_cast<int>(all.size() - got.size()), unconfirmed);
  EXPECT_EQ(lostConfirmed, 0) << "an entry a replica confirmed (WAIT) was lost";
  EXPECT_EQ(lostAfter, 0) << "an entry the promoted replica acknowledged was lost";
  EXPECT_EQ(WEXITSTATUS(w1.stop(15s)), 0) << Process::readFile(dir.file("worker-w1.log"));
  EXPECT_EQ(WEXITSTATUS(w2.stop(15s)), 0) << Process::readFile(dir.file("worker-w2.log"));
}

// Two workers reading 8 shards on a fresh cluster, 2000 entries already
// delivered; finish() waits for everything sent, counts lost and duplicated
// documents and stops the workers.
class MovingSlots : public ::testing::Test {
 protected:
  void SetUp() override {
    co_.seeds.push_back({"127.0.0.1", cluster.ports()[0]});
    co_.refreshMinInterval = Duration::zero();
    writer = std::make_unique<redis::ClusterClient>(co_, SystemClock::instance());
    send(2000);
    const std::string config = writeConfig(dir, "127.0.0.1:" + std::to_string(cluster.ports()[2]), true, bulk.url());
    w1_ = std::make_unique<Process>(startWorker(dir, config, "w1"));
    w2_ = std::make_unique<Process>(startWorker(dir, config, "w2"));
    ASSERT_TRUE(waitUntil([&] { return bulk.totalDocs() >= 2000; }, 60s)) << log("w1");
  }

  void send(int n) { sendRoundRobin(*writer, shards, sent, n); }
  std::string log(const std::string& w) const { return Process::readFile(dir.file("worker-" + w + ".log")); }

  void finish(const std::string& scenario, const std::string& detail) {
    ASSERT_TRUE(waitUntil([&] { return static_cast<int>(documents(bulk).first) >= sent; }, 90s))
        << "documents " << documents(bulk).first << " of " << sent << "\n" << log("w1");
    ASSERT_TRUE(waitUntil([&] { return noPendingOnAnyShard(*writer, shards); }, 30s));
    auto [distinct, total] = documents(bulk);
    const int lost = std::max(0, sent - static_cast<int>(distinct));
    std::printf("chaos: %s %ssent=%d delivered=%zu lost=%d duplicates=%d redirects_followed_by_writer=%lld\n",
                scenario.c_str(), detail.c_str(), sent, distinct, lost, static_cast<int>(total - distinct),
                static_cast<long long>(writer->redirects()));
    EXPECT_EQ(lost, 0);
    EXPECT_EQ(WEXITSTATUS(w1_->stop(15s)), 0) << log("w1");
    EXPECT_EQ(WEXITSTATUS(w2_->stop(15s)), 0) << log("w2");
  }

  testing::RedisCluster cluster;
  BulkServer bulk;
  testing::TempDir dir;
  std::unique_ptr<redis::ClusterClient> writer;
  const std::vector<std::string> shards = shardStreams("logs", kShards);
  int sent = 0;

 private:
  redis::ClusterOptions co_;
  std::unique_ptr<Process> w1_, w2_;
};

TEST_F(MovingSlots, ASlotMigrationWhileWorkersReadLosesAndStallsNothing) {

  // Move the slots of two shards to another primary as redis-cli --cluster
  // reshard does, one key at a time, with writes and reads going on: while a
  // slot is migrating the source answers ASK for a moved key, afterwards MOVED.
  for (size_t k : {size_t{1}, size_t{6}}) {
    const std::string& key = shards[k];
    const int slot = redis::keySlot(key);
    const int src = cluster.primaryFor(key);
    int dst = -1;
    for (int p : cluster.primaryPorts())
      if (p != src) dst = p;
    const std::string srcId = cluster.idOf(src), dstId = cluster.idOf(dst), sl = std::to_string(slot);
    ASSERT_NE(cluster.cli(dst, "CLUSTER SETSLOT " + sl + " IMPORTING " + srcId).find("OK"), std::string::npos);
    ASSERT_NE(cluster.cli(src, "CLUSTER SETSLOT " + sl + " MIGRATING " + dstId).find("OK"), std::string::npos);
    send(300);
    const std::string dead = key + ":dead";
    std::string keys = key;
    if (cluster.cli(src, "EXISTS " + dead).find('1') != std::string::npos) keys += " " + dead;
    ASSERT_NE(cluster.cli(src, "MIGRATE 127.0.0.1 " + std::to_string(dst) + " \"\" 0 5000 KEYS " + keys).find("OK"),
              std::string::npos);
    send(300);  // ASK while the slot is still src's
    for (int p : cluster.primaryPorts())
      ASSERT_NE(cluster.cli(p, "CLUSTER SETSLOT " + sl + " NODE " + dstId).find("OK"), std::string::npos);
    send(300);  // MOVED from now on
  }
  EXPECT_GT(writer->redirects(), 0);
  finish("cluster_reshard", "");
}


// The number of slots redis-cli --cluster reshard must take from the node on
// srcPort (it takes them in ascending order) so that `slot` is among them.
int slotsUpTo(const testing::RedisCluster& cluster, int srcPort, int slot) {
  int n = 0;
  for (const auto& node : cluster.nodes(srcPort)) {
    if (node.port != srcPort) continue;
    for (const std::string& range : node.slots) {
      if (range.empty() || range[0] == '[') continue;  // a migrating slot's marker
      const auto dash = range.find('-');
      const int lo = std::stoi(range.substr(0, dash));
      const int hi = dash == std::string::npos ? lo : std::stoi(range.substr(dash + 1));
      if (lo <= slot) n += std::min(hi, slot) - lo + 1;
    }
  }
  return n;
}

TEST_F(MovingSlots, RedisCliReshardMovesAShardWhileWritersAndWorkersGoOn) {

  // The shard whose slot is nearest the start of its primary's range: the
  // fewest slots to move with it.
  std::string key;
  int src = -1, slots = 0;
  for (const std::string& s : shards) {
    const int p = cluster.primaryFor(s);
    const int n = slotsUpTo(cluster, p, redis::keySlot(s));
    if (key.empty() || n < slots) key = s, src = p, slots = n;
  }
  ASSERT_GT(slots, 0);
  int dst = -1;
  for (int p : cluster.primaryPorts())
    if (p != src) dst = p;

  // Writes go on while the real redis-cli moves the slots, key by key.
  std::atomic<bool> writing{true};
  std::thread appender([&] {
    while (writing) send(50);
  });
  const std::string out = cluster.cli(
      src, "--cluster reshard 127.0.0.1:" + std::to_string(src) + " --cluster-from " + cluster.idOf(src) +
               " --cluster-to " + cluster.idOf(dst) + " --cluster-slots " + std::to_string(slots) +
               " --cluster-yes");
  writing = false;
  appender.join();
  ASSERT_NE(out.find("Moving slot " + std::to_string(redis::keySlot(key))), std::string::npos) << out;
  ASSERT_TRUE(waitUntil([&] { return cluster.primaryFor(key) == dst; }, 30s)) << out;
  send(400);  // MOVED from now on
  finish("cluster_reshard_redis_cli", "slots_moved=" + std::to_string(slots) + " shard=" + key + " ");
}
}  // namespace
}  // namespace shoal
