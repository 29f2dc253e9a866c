// Unit tests of the work queue on a ManualClock: dedup, per-key
// serialization, exponential backoff, delayed requeue, shutdown, owner
// mapping, and the reconcile workers.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "shoal/kube/work_queue.h"
#include "shoal/testing/process.h"

namespace shoal::kube {
namespace {

TEST(WorkQueue, DeduplicatesQueuedKeys) {
  ManualClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.add("b");
  q.add("a");
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(*q.tryGet(), "a");
  EXPECT_EQ(*q.tryGet(), "b");
  EXPECT_FALSE(q.tryGet());
}

TEST(WorkQueue, KeyAddedWhileProcessingIsHandedOutOnlyAfterDone) {
  ManualClock clock;
  WorkQueue q(clock);
  q.add("a");
  auto k = q.tryGet();
  ASSERT_EQ(*k, "a");
  q.add("a");
  q.add("a");
  EXPECT_FALSE(q.tryGet()) << "a second worker must not get a key in flight";
  q.done("a");
  EXPECT_EQ(*q.tryGet(), "a");
  q.done("a");
  EXPECT_FALSE(q.tryGet());
}

TEST(WorkQueue, RateLimitedBackoffDoublesPerKeyAndForgetResets) {
  ManualClock clock;
  WorkQueue q(clock, millis(10), millis(100));
  auto dueAfter = [&](const std::string& key) {
    auto due = q.nextDue();
    EXPECT_TRUE(due.has_value());
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*due - clock.now()).count();
    // drain it
    clock.advance(*due - clock.now());
    auto k = q.tryGet();
    EXPECT_TRUE(k && *k == key);
    q.done(key);
    return d;
  };
  std::vector<int64_t> delays;
  for (int i = 0; i < 6; ++i) {
    q.addRateLimited("a");
    EXPECT_FALSE(q.tryGet()) << "not before its delay";
    delays.push_back(dueAfter("a"));
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{10, 20, 40, 80, 100, 100}));
  EXPECT_EQ(q.failures("a"), 6);
  EXPECT_EQ(q.failures("b"), 0);
  q.forget("a");
  q.addRateLimited("a");
  EXPECT_EQ(dueAfter("a"), 10);
}

TEST(WorkQueue, AddAfterWaitsOnTheClockAndEarlierWins) {
  ManualClock clock;
  WorkQueue q(clock);
  q.addAfter("a", seconds(10));
  q.addAfter("a", seconds(3));
  q.addAfter("a", seconds(20));
  EXPECT_EQ(q.delayedLen(), 1u);
  clock.advance(seconds(2));
  EXPECT_FALSE(q.tryGet());
  clock.advance(seconds(1));
  EXPECT_EQ(*q.tryGet(), "a");
  q.done("a");
  clock.advance(seconds(30));
  EXPECT_FALSE(q.tryGet()) << "the later requests were merged into the earliest";
}

TEST(WorkQueue, AddNowCancelsAPendingDelay) {
  ManualClock clock;
  WorkQueue q(clock);
  q.addAfter("a", seconds(10));
  q.add("a");
  EXPECT_EQ(*q.tryGet(), "a");
  q.done("a");
  clock.advance(seconds(11));
  EXPECT_FALSE(q.tryGet());
}

TEST(WorkQueue, ShutdownWakesBlockedGet) {
  ManualClock clock;
  WorkQueue q(clock);
  std::atomic<bool> returned{false};
  std::thread t([&] {
    auto k = q.get();
    EXPECT_FALSE(k);
    returned = true;
  });
  q.shutdown();
  EXPECT_TRUE(testing::waitUntil([&] { return returned.load(); }));
  t.join();
  q.add("x");
  EXPECT_FALSE(q.tryGet());
}

TEST(WorkQueue, BlockedGetSeesDelayedKeyWhenTheClockMoves) {
  ManualClock clock;
  WorkQueue q(clock);
  q.addAfter("late", seconds(5));
  std::optional<std::string> got;
  std::atomic<bool> done{false};
  std::thread t([&] {
    got = q.get();
    done = true;
  });
  clock.advance(seconds(5));
  EXPECT_TRUE(testing::waitUntil([&] { return done.load(); }));
  t.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "late");
}

TEST(WorkQueue, OwnerHandlerEnqueuesTheControllerOwner) {
  ManualClock clock;
  WorkQueue q(clock);
  auto h = enqueueOwnerHandler(q, "WorkerPool", "shoal.dev");
  auto dep = [](const std::string& ownerKind, const std::string& av, bool controller) {
    return std::make_shared<const Json>(Json{
        {"metadata",
         {{"name", "dep"},
          {"namespace", "ns"},
          {"ownerReferences",
           {{{"apiVersion", av}, {"kind", ownerKind}, {"name", "pool"}, {"controller", controller}}}}}}});
  };
  h(nullptr, dep("WorkerPool", "shoal.dev/v1alpha1", true));
  EXPECT_EQ(*q.tryGet(), "ns/pool");
  q.done("ns/pool");
  h(nullptr, dep("WorkerPool", "other.io/v1", true));
  h(nullptr, dep("Pipeline", "shoal.dev/v1alpha1", true));
  h(nullptr, dep("WorkerPool", "shoal.dev/v1alpha1", false));
  EXPECT_FALSE(q.tryGet());
  h(dep("WorkerPool", "shoal.dev/v1alpha1", true), nullptr);  // deletion
  EXPECT_EQ(*q.tryGet(), "ns/pool");

  auto plain = enqueueHandler(q);
  plain(nullptr, std::make_shared<const Json>(Json{{"metadata", {{"name", "n"}, {"namespace", "x"}}}}));
  EXPECT_EQ(*q.tryGet(), "x/n");
}

TEST(ReconcileWorkers, NeverReconcileOneKeyTwiceAtOnceAndRetryFailures) {
  SystemClock& clock = SystemClock::instance();
  WorkQueue q(clock, millis(1), millis(5));
  std::mutex mu;
  std::set<std::string> inFlight;
  std::atomic<bool> overlap{false};
  std::atomic<int> calls{0};
  std::atomic<int> failuresLeft{3};
  ReconcileWorkers workers(
      q,
      [&](const std::string& key) {
        {
          std::lock_guard<std::mutex> l(mu);
          if (!inFlight.insert(key).second) overlap = true;
        }
        ++calls;
        // Re-adding the key being processed must not start a parallel reconcile.
        q.add(key);
        std::this_thread::yield();
        {
          std::lock_guard<std::mutex> l(mu);
          inFlight.erase(key);
        }
        if (key == "flaky" && failuresLeft.fetch_sub(1) > 0) return ReconcileOutcome::failed();
        return ReconcileOutcome::done();
      },
      4);
  q.add("k");
  q.add("flaky");
  EXPECT_TRUE(testing::waitUntil([&] { return calls.load() >= 20 && failuresLeft.load() < 0; },
                                 std::chrono::seconds(10)));
  workers.stop();
  EXPECT_FALSE(overlap.load());
  EXPECT_EQ(q.failures("flaky"), 0) << "forgotten after success";
}

}  // namespace
}  // namespace shoal::kube
