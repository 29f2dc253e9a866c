// Fault scenarios for the operator, on a real control plane with
// shoal-node-agent running the worker pods as shoal-worker processes, a real
// redis-server and shoal-bulk-server. Each scenario drains a fixed set of
// entries with known ids (every 1000th malformed) while the control side
// breaks, then asserts the worker suite's contract (every entry delivered by
// id or, only if malformed, dead-lettered; no duplicates; nothing pending)
// and that the operator got the pool where it belongs. One line each:
//   chaos: <scenario> sent=N delivered=N duplicates=N lost=N dead_lettered=N ...
//  - apiserver_restart: kube-apiserver restarted while the pool is scaled up;
//    the operator keeps reconciling and scales back down after the drain.
//  - leader_killed: two operators with leader election; kill -9 of the
//    leader mid-run; the Lease changes hands and the other one scales down.
//  - watch_expired: operator SIGSTOPped, the WorkerPool changed, etcd
//    compacted and the API server restarted; after SIGCONT the operator's
//    watches get 410 Gone, it relists and applies the change.
//  - leader_killed_backlog_held / operator_restarted_backlog_held: the sink
//    is stalled so the backlog stays while the leader is killed (a standby
//    takes over) or the only operator is killed and started again; the
//    successor restores the scaler's memory from status and must not scale
//    down until the backlog has drained.
//  - redis_unreachable: the operator reads Redis through a proxy that is cut
//    while workers (direct) drain; replicas are held, ScalingActive says
//    RedisUnreachable; restored, the pool scales down.
// SHOAL_CHAOS=long runs 10x the entries. Skips when binaries are missing.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <iostream>

#include "operator_chaos_fixture.h"

using namespace shoal::chaos;
using namespace std::chrono_literals;
using nlohmann::json;
using shoal::testing::waitUntil;

namespace {

int64_t entries() {
  return longForm() ? 100'000 : 10'000;
}

// Sink latency while the fault lands: with batches of 100 a replica clears
// about 500 entries/s, so the backlog outlives the scale-up and the fault.
constexpr int kSinkDelayMs = 200;

class OperatorChaos : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = shoal::testing::KubeControlPlane::missing(chaosControlPlaneOptions())) {
      GTEST_SKIP() << "control plane binaries missing: " << *why
                   << " (run scripts/k8s-binaries.sh)";
    }
    if (auto m = b_.missing(); !m.empty()) {
      GTEST_SKIP() << "binaries missing: " << m << " (build them or set SHOAL_*_BIN)";
    }
    std::string why;
    cluster_ = sharedChaosCluster(b_, &why);
    ASSERT_NE(cluster_, nullptr) << why;
  }

  std::unique_ptr<PoolUnderTest> pool(const std::string& ns, bool viaProxy = false,
                                      double drainSeconds = 5) {
    return std::make_unique<PoolUnderTest>(
        *cluster_, b_,
        PoolUnderTest::Options{
            .ns = ns, .operatorViaProxy = viaProxy, .drainSeconds = drainSeconds});
  }

  // The held-backlog runs: a sink so slow (2 s a request, about 50 entries/s
  // a worker) that the backlog outlives the takeover, and a drain deadline
  // (60 s) long enough that only the inherited memory (the learned
  // throughput and when the backlog formed) justifies 4 workers: a scaler
  // starting from nothing would want 1.
  static constexpr int kHeldSinkDelayMs = 2000;
  static constexpr int64_t kHeldEntries = 20'000;
  void loadAndHold(PoolUnderTest& p) {
    ASSERT_TRUE(waitUntil([&] { return p.readyReplicas() == 1; }, 90s, 250ms))
        << p.operatorLogs() << p.describe();
    ASSERT_TRUE(p.setSinkDelay(kHeldSinkDelayMs));
    p.load(kHeldEntries);
    ASSERT_TRUE(waitUntil([&] { return p.replicas() == 4 && p.readyReplicas() == 4; }, 90s, 250ms))
        << p.operatorLogs() << p.describe();
  }
  // After the successor restored the scaler's state: several polls past the
  // stabilization window (5 s) without a single pod removed while the
  // backlog is held. Returns the fewest replicas seen.
  int watchHeld(PoolUnderTest& p, size_t successor, const std::string& scenario) {
    EXPECT_TRUE(waitUntil(
        [&] {
          return p.operatorLog(successor).find("took over the scaler's state from status") !=
                 std::string::npos;
        },
        60s, 200ms))
        << p.operatorLogs();
    int fewest = p.replicas();
    waitUntil(
        [&] {
          int r = p.replicas();
          if (r >= 0) fewest = std::min(fewest, r);
          return false;
        },
        12s, 200ms);
    const int64_t backlog = p.sent() - p.delivered() - p.deadLettered();
    std::cout << scenario << ": fewest replicas while held " << fewest << " (backlog about "
              << backlog << ")" << std::endl;
    EXPECT_GT(backlog, 1000) << "the backlog must still be held for the check to mean anything";
    EXPECT_EQ(fewest, 4) << "scaled down an inherited backlog\n"
                         << p.operatorLogs() << p.describe();
    return fewest;
  }

  // One replica ready, then the load with a slowed sink; returns once the
  // operator has scaled the pool up (replicas > 1, or == want if given).
  void loadAndScaleUp(PoolUnderTest& p, int want = 0) {
    ASSERT_TRUE(waitUntil([&] { return p.readyReplicas() == 1; }, 90s, 250ms))
        << p.operatorLogs() << p.describe();
    ASSERT_TRUE(p.setSinkDelay(kSinkDelayMs));
    p.load(entries());
    ASSERT_TRUE(waitUntil(
        [&] {
          int r = p.replicas();
          return want ? r == want : r > 1;
        },
        60s, 100ms))
        << p.operatorLogs() << p.describe();
  }

  // The drain finishes and the pool returns to `replicas` with only that many
  // pods left.
  void drainAndSettle(PoolUnderTest& p, int replicas = 1) {
    ASSERT_TRUE(p.setSinkDelay(0));
    ASSERT_TRUE(waitUntil([&] { return p.settled(); }, longForm() ? 10min : 3min, 250ms))
        << "delivered " << p.delivered() << " dead " << p.deadLettered() << " pending "
        << p.pending() << "\n"
        << p.operatorLogs();
    ASSERT_TRUE(
        waitUntil([&] { return p.replicas() == replicas && p.podCount() == replicas; }, 90s, 250ms))
        << "replicas " << p.replicas() << " pods " << p.podCount() << "\n"
        << p.operatorLogs() << p.describe();
  }

  void expectClean(PoolUnderTest& p, const std::string& scenario) {
    Tally t = p.tally(scenario);
    EXPECT_EQ(t.sent, p.sent()) << scenario;
    EXPECT_EQ(t.lost, 0) << scenario;
    EXPECT_EQ(t.duplicates, 0) << scenario;
    EXPECT_EQ(t.pending, 0) << scenario;
    EXPECT_EQ(t.deadLettered, p.expectedDeadLetters())
        << scenario << ": only the malformed entries";
    EXPECT_EQ(t.delivered + t.deadLettered, t.sent) << scenario;
  }

  // Which of the two operators holds the Lease (by the identity it logged on
  // becoming the leader); -1 if neither.
  static int leaderIndex(PoolUnderTest& p, const std::string& holder) {
    for (size_t i = 0; i < 2; ++i) {
      json rec = lastLogRecord(p.operatorLog(i), "\"became the leader\"");
      if (rec.is_object() && rec.value("identity", "") == holder) return static_cast<int>(i);
    }
    return -1;
  }

  // Where the run stood when the fault landed (context for the chaos: line).
  static void note(PoolUnderTest& p, const std::string& what) {
    std::cout << what << ": replicas=" << p.replicas() << " delivered=" << p.delivered() << "/"
              << p.sent() << " pending=" << p.pending() << std::endl;
  }

  OperatorBinaries b_;
  ChaosCluster* cluster_ = nullptr;
};

TEST_F(OperatorChaos, ApiServerRestartedWhileScaledUp) {
  auto p = pool("chaos-apiserver");
  p->apply();
  const size_t op = p->startOperator(false);
  loadAndScaleUp(*p);
  if (HasFatalFailure()) return;

  note(*p, "restarting kube-apiserver");
  p->cp().restartApiServer();
  EXPECT_TRUE(p->operatorProcess(op).running()) << p->operatorLogs();
  drainAndSettle(*p);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(p->operatorProcess(op).running()) << p->operatorLogs();
  expectClean(*p, "apiserver_restart");
}

TEST_F(OperatorChaos, LeaderKilledTheStandbyTakesOverAndScalesDown) {
  auto p = pool("chaos-leader");
  p->apply();
  p->startOperator(true);
  p->startOperator(true);
  ASSERT_TRUE(waitUntil([&] { return !p->leaseHolder().empty(); }, 60s, 200ms))
      << p->operatorLogs();
  loadAndScaleUp(*p);
  if (HasFatalFailure()) return;

  const std::string holder = p->leaseHolder();
  const int leader = leaderIndex(*p, holder);
  ASSERT_GE(leader, 0) << "holder " << holder << "\n" << p->operatorLogs();
  const size_t standby = leader == 0 ? 1 : 0;
  note(*p, "kill -9 of the leader");
  p->operatorProcess(static_cast<size_t>(leader)).signal(SIGKILL);
  ASSERT_TRUE(p->operatorProcess(static_cast<size_t>(leader)).wait(10s).has_value());

  // The killed leader's lease runs out (15 s); the standby takes it.
  ASSERT_TRUE(waitUntil(
      [&] {
        std::string h = p->leaseHolder();
        return !h.empty() && h != holder;
      },
      60s, 250ms))
      << p->operatorLogs();
  json rec = lastLogRecord(p->operatorLog(standby), "\"became the leader\"");
  ASSERT_TRUE(rec.is_object()) << p->operatorLogs();
  EXPECT_EQ(rec.value("identity", ""), p->leaseHolder());

  drainAndSettle(*p);
  if (HasFatalFailure()) return;
  expectClean(*p, "leader_killed");
}

TEST_F(OperatorChaos, LeaderKilledWhileABacklogIsHeldTheSuccessorScalesNothingDown) {
  auto p = pool("chaos-leader-held", false, 60);
  p->apply();
  p->startOperator(true);
  p->startOperator(true);
  ASSERT_TRUE(waitUntil([&] { return !p->leaseHolder().empty(); }, 60s, 200ms))
      << p->operatorLogs();
  loadAndHold(*p);
  if (HasFatalFailure()) return;
  const std::string holder = p->leaseHolder();
  const int leader = leaderIndex(*p, holder);
  ASSERT_GE(leader, 0) << "holder " << holder << "\n" << p->operatorLogs();
  const size_t standby = leader == 0 ? 1 : 0;
  note(*p, "kill -9 of the leader while the backlog is held");
  p->operatorProcess(static_cast<size_t>(leader)).signal(SIGKILL);
  ASSERT_TRUE(p->operatorProcess(static_cast<size_t>(leader)).wait(10s).has_value());
  watchHeld(*p, standby, "leader_killed_backlog_held");
  drainAndSettle(*p);
  if (HasFatalFailure()) return;
  expectClean(*p, "leader_killed_backlog_held");
}

TEST_F(OperatorChaos, OperatorRestartedWhileABacklogIsHeldScalesNothingDown) {
  auto p = pool("chaos-restart-held", false, 60);
  p->apply();
  const size_t first = p->startOperator(false);
  loadAndHold(*p);
  if (HasFatalFailure()) return;
  note(*p, "kill -9 of the only operator, then a new one");
  p->operatorProcess(first).signal(SIGKILL);
  ASSERT_TRUE(p->operatorProcess(first).wait(10s).has_value());
  const size_t second = p->startOperator(false);
  watchHeld(*p, second, "operator_restarted_backlog_held");
  drainAndSettle(*p);
  if (HasFatalFailure()) return;
  expectClean(*p, "operator_restarted_backlog_held");
}

TEST_F(OperatorChaos, WatchExpiredDuringAGapRelistsAndAppliesTheChange) {
  auto p = pool("chaos-watch");
  p->apply();
  const size_t op = p->startOperator(false);
  loadAndScaleUp(*p);
  if (HasFatalFailure()) return;
  const std::string relist = "watcher: resourceVersion too old, relisting";
  ASSERT_EQ(p->operatorLog(op).find(relist), std::string::npos);

  // The gap: the operator hears nothing while the pool changes, history is
  // compacted away and its watch connections are dropped.
  note(*p, "SIGSTOP of the operator");
  p->operatorProcess(op).signal(SIGSTOP);
  auto patched = p->cp().kubectl({"patch", "workerpool", PoolUnderTest::kName, "-n", p->ns(),
                                  "--type", "merge", "-p", R"({"spec":{"minReplicas":2}})"});
  ASSERT_EQ(patched.exitCode, 0) << patched.err;
  const json changed = p->workerPool();
  ASSERT_TRUE(changed.is_object() && changed.contains("metadata"));
  const int64_t generation = changed["metadata"].value("generation", int64_t{0});
  p->cp().compactEtcd();
  p->cp().restartApiServer();
  p->operatorProcess(op).signal(SIGCONT);

  EXPECT_TRUE(
      waitUntil([&] { return p->operatorLog(op).find(relist) != std::string::npos; }, 60s, 250ms))
      << p->operatorLogs();
  // The change made during the gap is applied: the pool settles at 2, not 1.
  drainAndSettle(*p, 2);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(waitUntil(
      [&] {
        json w = p->workerPool();
        return w.is_object() && w.contains("status") && w["status"].is_object() &&
               w["status"].value("observedGeneration", int64_t{-1}) == generation;
      },
      30s, 250ms))
      << p->describe();
  expectClean(*p, "watch_expired");
}

TEST_F(OperatorChaos, RedisUnreachableFromTheOperatorHoldsReplicasAndSaysWhy) {
  auto p = pool("chaos-redis", /*viaProxy=*/true);
  p->apply();
  p->startOperator(false);
  loadAndScaleUp(*p, 4);
  if (HasFatalFailure()) return;

  note(*p, "cutting the operator's path to Redis");
  p->proxy()->cut();
  ASSERT_TRUE(waitUntil(
      [&] {
        return p->conditionField("ScalingActive", "status") == "False" &&
               p->conditionField("ScalingActive", "reason") == "RedisUnreachable";
      },
      30s, 200ms))
      << p->condition("ScalingActive").dump() << p->operatorLogs();
  // The workers (direct to Redis) drain everything while the operator is blind.
  ASSERT_TRUE(p->setSinkDelay(0));
  ASSERT_TRUE(waitUntil([&] { return p->settled(); }, longForm() ? 10min : 3min, 250ms))
      << "delivered " << p->delivered() << " pending " << p->pending();
  // An empty backlog it cannot see must not scale the pool down: several
  // polls (1 s) past the scale-down stabilization window (5 s).
  EXPECT_FALSE(waitUntil([&] { return p->replicas() != 4; }, 8s, 200ms))
      << "replicas " << p->replicas() << "\n"
      << p->operatorLogs();
  std::cout << "while cut: ScalingActive " << p->condition("ScalingActive").dump() << std::endl;
  // What `kubectl get wp -o wide` shows: no backlog, rates or drain estimate
  // from before the cut next to RedisUnreachable.
  const json st = p->workerPool().value("status", json::object());
  EXPECT_FALSE(st.value("backlog", json::object()).contains("total")) << st.dump();
  EXPECT_FALSE(st.contains("arrivalRate")) << st.dump();
  EXPECT_FALSE(st.contains("estimatedDrainSeconds")) << st.dump();
  EXPECT_EQ(p->conditionField("ScalingActive", "reason"), "RedisUnreachable");
  EXPECT_GT(p->proxy()->refused(), 0) << "the operator kept trying";

  p->proxy()->restore();
  EXPECT_TRUE(
      waitUntil([&] { return p->conditionField("ScalingActive", "status") == "True"; }, 30s, 200ms))
      << p->condition("ScalingActive").dump();
  drainAndSettle(*p);
  if (HasFatalFailure()) return;
  expectClean(*p, "redis_unreachable");
}

}  // namespace
