// Fault scenarios for the worker's delivery contract. Each runs a
// fixed set of entries with known ids through real servers and asserts: every
// entry delivered by id or (only if genuinely bad) dead-lettered, no
// duplicates, nothing lost, the pending list empty. Each prints a line
//   chaos: <scenario> sent=N delivered=N duplicates=N lost=N dead_lettered=N ...
// Fault durations are the scenario's definition (how long the sink or Redis is
// down), not synchronization: every wait for an outcome is a condition with a
// deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <random>
#include <thread>

#include "chaos_harness.h"

using namespace shoal::chaos;
using namespace std::chrono_literals;

namespace {
constexpr int64_t kInvalidEvery = 1000;  // every 1000th entry is malformed JSON

void expectClean(const Tally& t, int64_t expectedBad, const std::string& scenario) {
  std::cout << t.line(scenario) << std::endl;
  EXPECT_EQ(t.lost, 0) << scenario;
  EXPECT_EQ(t.duplicates, 0) << scenario;
  EXPECT_EQ(t.pending, 0) << scenario;
  EXPECT_EQ(t.deadLettered, expectedBad) << scenario << ": only the malformed entries";
  EXPECT_EQ(t.delivered + t.deadLettered, t.sent) << scenario;
}

// Fault durations: long form as the issue says, short form for `make test`.
std::chrono::milliseconds outage() { return longForm() ? 30s : 3s; }
}  // namespace

TEST(Chaos, KillNineWorkersAtRandomMoments) {
  const int64_t n = longForm() ? 1'000'000 : 100'000;
  Scenario s(Scenario::Options{});
  s.preload(n, kInvalidEvery);
  for (int i = 0; i < 3; ++i) s.startWorker();

  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  std::cout << "kill -9 seed " << seed << std::endl;
  int kills = 0;
  const auto deadline = std::chrono::steady_clock::now() + (longForm() ? 20min : 5min);
  while (std::chrono::steady_clock::now() < deadline) {
    if (s.deliveredCount() + s.deadLetterCount() >= s.sent() && s.pendingCount() == 0) break;
    // A random moment: 100..700 ms of work between kills, polled in steps so
    // the loop notices completion.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100 + rng() % 600);
    while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
    if (kills < (longForm() ? 200 : 25) && s.workerCount() > 0) {
      s.killWorker(rng() % s.workerCount());
      s.startWorker();  // the replacement pod
      ++kills;
    }
  }
  ASSERT_TRUE(s.waitSettled(2min)) << s.logs();
  EXPECT_GT(kills, 0);
  EXPECT_TRUE(s.stopWorkers()) << s.logs();
  std::cout << "kills=" << kills << std::endl;
  expectClean(s.tally(), n / kInvalidEvery, "kill9_workers");
}

TEST(Chaos, SinkDownThenRejectingEverything) {
  const int64_t n = longForm() ? 200'000 : 20'000;
  Scenario s(Scenario::Options{});
  s.preload(n, kInvalidEvery);
  s.startWorker();
  s.startWorker();
  ASSERT_TRUE(shoal::testing::waitUntil([&] { return s.deliveredCount() > 0; }, 60s)) << s.logs();

  // Down: the endpoint stops answering (connections hang until the client's timeout).
  s.sink().process().signal(SIGSTOP);
  std::this_thread::sleep_for(outage());
  s.sink().process().signal(SIGCONT);
  // Then every item answered 429 for the same time.
  ASSERT_TRUE(s.sink().control("POST", "/_shoal/faults/items", R"({"status":429,"next":-1})"));
  const auto before = s.deliveredCount();
  std::this_thread::sleep_for(outage());
  EXPECT_EQ(s.deliveredCount(), before) << "nothing can be stored while every item is rejected";
  EXPECT_LE(s.deadLetterCount(), n / kInvalidEvery) << "an outage must not dead-letter good entries";
  ASSERT_TRUE(s.sink().control("DELETE", "/_shoal/faults"));

  ASSERT_TRUE(s.waitSettled(3min)) << s.logs();
  EXPECT_TRUE(s.stopWorkers()) << s.logs();
  expectClean(s.tally(), n / kInvalidEvery, "sink_outage");
}

TEST(Chaos, RedisRestartedWithAof) {
  const int64_t n = longForm() ? 300'000 : 30'000;
  Scenario::Options o;
  o.redis.appendOnly = true;
  Scenario s(o);
  s.preload(n, kInvalidEvery);
  s.startWorker();
  s.startWorker();
  ASSERT_TRUE(shoal::testing::waitUntil([&] { return s.deliveredCount() > 0; }, 60s)) << s.logs();
  s.redis().restart();
  ASSERT_TRUE(s.waitSettled(3min)) << s.logs();
  EXPECT_TRUE(s.stopWorkers()) << s.logs();
  expectClean(s.tally(), n / kInvalidEvery, "redis_restart_aof");
}

TEST(Chaos, RedisPausedBeyondClientTimeouts) {
  const int64_t n = longForm() ? 300'000 : 30'000;
  Scenario s(Scenario::Options{});  // readTimeoutMs 1000
  s.preload(n, kInvalidEvery);
  s.startWorker();
  s.startWorker();
  ASSERT_TRUE(shoal::testing::waitUntil([&] { return s.deliveredCount() > 0; }, 60s)) << s.logs();
  s.redis().process().signal(SIGSTOP);
  std::this_thread::sleep_for(outage());
  s.redis().process().signal(SIGCONT);
  ASSERT_TRUE(s.waitSettled(3min)) << s.logs();
  EXPECT_TRUE(s.stopWorkers()) << s.logs();
  expectClean(s.tally(), n / kInvalidEvery, "redis_pause");
}
