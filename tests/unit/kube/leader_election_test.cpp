// Unit tests of Lease leader election against the in-memory API on a
// ManualClock: acquire, renew, takeover only after the lease duration on our
// own clock, release, optimistic concurrency, and stepping down when renewals
// fail for the renew deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "shoal/testing/fake_kube_client.h"
#include "shoal/kube/leader_election.h"
#include "shoal/testing/process.h"

namespace shoal::kube {
namespace {

LeaderElectionConfig cfgFor(const std::string& id) {
  LeaderElectionConfig c;
  c.ns = "shoal-system";
  c.name = "shoal-operator";
  c.identity = id;
  return c;
}

Json lease(FakeClient& api) {
  auto l = api.object(Resource::leases(), "shoal-system", "shoal-operator");
  return l ? *l : Json();
}

TEST(LeaderElection, FirstCandidateCreatesTheLease) {
  FakeClient api;
  ManualClock clock;
  LeaderElector a(api, clock, cfgFor("a"));
  EXPECT_TRUE(a.tryAcquireOrRenew());
  EXPECT_TRUE(a.isLeader());
  Json l = lease(api);
  EXPECT_EQ(l["spec"]["holderIdentity"], "a");
  EXPECT_EQ(l["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ(l["spec"]["leaseTransitions"], 0);
  EXPECT_TRUE(l["spec"]["renewTime"].is_string());
}

TEST(LeaderElection, SecondCandidateWaitsForExpiryOnItsOwnClock) {
  FakeClient api;
  ManualClock clock;
  LeaderElector a(api, clock, cfgFor("a"));
  LeaderElector b(api, clock, cfgFor("b"));
  ASSERT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  EXPECT_EQ(b.observedHolder(), "a");
  // a keeps renewing: b never gets it.
  for (int i = 0; i < 20; ++i) {
    clock.advance(seconds(2));
    ASSERT_TRUE(a.tryAcquireOrRenew());
    EXPECT_FALSE(b.tryAcquireOrRenew());
  }
  // a dies. b saw the last renewal now; 14.9 s later it still waits.
  clock.advance(seconds(14.9));
  EXPECT_FALSE(b.tryAcquireOrRenew());
  clock.advance(seconds(0.2));
  EXPECT_TRUE(b.tryAcquireOrRenew());
  Json l = lease(api);
  EXPECT_EQ(l["spec"]["holderIdentity"], "b");
  EXPECT_EQ(l["spec"]["leaseTransitions"], 1);
  // a comes back: it sees b's lease and does not take it.
  EXPECT_FALSE(a.tryAcquireOrRenew());
  EXPECT_FALSE(a.isLeader());
}

TEST(LeaderElection, AnOldRenewTimeDoesNotMeanExpiredForAFreshObserver) {
  FakeClient api;
  ManualClock clock;
  Json l = {{"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", {{"name", "shoal-operator"}, {"namespace", "shoal-system"}}},
            {"spec",
             {{"holderIdentity", "x"},
              {"leaseDurationSeconds", 15},
              {"renewTime", "2000-01-01T00:00:00.000000Z"}}}};
  ASSERT_TRUE(api.create(Resource::leases(), "shoal-system", l).ok());
  LeaderElector b(api, clock, cfgFor("b"));
  EXPECT_FALSE(b.tryAcquireOrRenew()) << "clock skew must not let us steal a lease";
  clock.advance(seconds(15.1));
  EXPECT_TRUE(b.tryAcquireOrRenew());
}

TEST(LeaderElection, ReleaseLetsTheNextCandidateInAtOnce) {
  FakeClient api;
  ManualClock clock;
  LeaderElector a(api, clock, cfgFor("a"));
  LeaderElector b(api, clock, cfgFor("b"));
  ASSERT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  ASSERT_TRUE(a.release().ok());
  EXPECT_FALSE(a.isLeader());
  EXPECT_EQ(lease(api)["spec"]["holderIdentity"], "");
  EXPECT_TRUE(b.tryAcquireOrRenew());
}

TEST(LeaderElection, ConflictingWriteLoses) {
  FakeClient api;
  ManualClock clock;
  LeaderElector a(api, clock, cfgFor("a"));
  ASSERT_TRUE(a.tryAcquireOrRenew());
  ASSERT_TRUE(a.release().ok());
  LeaderElector b(api, clock, cfgFor("b"));
  api.failNext("update", ApiError{409, "Conflict", "modified", nullptr, std::nullopt});
  EXPECT_FALSE(b.tryAcquireOrRenew());
  EXPECT_FALSE(b.isLeader());
  EXPECT_TRUE(b.tryAcquireOrRenew());
}

TEST(LeaderElection, RunStepsDownWhenRenewalsFailForTheRenewDeadline) {
  FakeClient api;
  ManualClock clock;
  int started = 0, stopped = 0;
  LeaderElector a(api, clock, cfgFor("a"),
                  LeaderCallbacks{[&] {
                                    ++started;
                                    // From now on every renewal fails.
                                    for (int i = 0; i < 100; ++i)
                                      api.failNext("update", ApiError{503, "ServiceUnavailable",
                                                                      "etcd down", nullptr,
                                                                      std::nullopt});
                                  },
                                  [&] { ++stopped; }, nullptr});
  MonoTime t0 = clock.now();
  bool byStop = a.run({});
  EXPECT_FALSE(byStop);
  EXPECT_EQ(started, 1);
  EXPECT_EQ(stopped, 1);
  EXPECT_FALSE(a.isLeader());
  Duration held = clock.now() - t0;
  EXPECT_GT(held, seconds(10));
  EXPECT_LT(held, seconds(15)) << "must step down before others may take over";
}

// A leader paused past its renew deadline (SIGSTOP, a stalled node) still
// has isLeader() until run() wakes up and notices; leadingNow() says no at
// once, so its controllers do not act on a lease a successor may hold.
TEST(LeaderElection, LeadingNowIsFalseOnceTheLastRenewalIsOlderThanTheRenewDeadline) {
  FakeClient api;
  ManualClock clock;
  std::stop_source stop;
  bool before = false, justInside = false, paused = true, stillLeaderFlag = false;
  LeaderElector* self = nullptr;
  LeaderElector a(api, clock, cfgFor("a"),
                  LeaderCallbacks{[&] {
                                    before = self->leadingNow();
                                    clock.advance(seconds(10));
                                    justInside = self->leadingNow();
                                    clock.advance(millis(1));
                                    paused = self->leadingNow();
                                    stillLeaderFlag = self->isLeader();
                                    stop.request_stop();
                                  },
                                  nullptr, nullptr});
  self = &a;
  EXPECT_FALSE(a.leadingNow()) << "not before the first acquisition";
  a.run(stop.get_token());
  EXPECT_TRUE(before);
  EXPECT_TRUE(justInside) << "exactly renewDeadline old still counts";
  EXPECT_FALSE(paused);
  EXPECT_TRUE(stillLeaderFlag) << "isLeader() has not noticed yet";
  EXPECT_FALSE(a.leadingNow());
}

TEST(LeaderElection, RunReleasesOnStop) {
  FakeClient api;
  SystemClock& clock = SystemClock::instance();
  std::atomic<int> started{0}, stopped{0};
  auto cfg = cfgFor("a");
  cfg.retryPeriod = millis(20);
  LeaderElector a(api, clock, cfg, LeaderCallbacks{[&] { ++started; }, [&] { ++stopped; }, nullptr});
  std::jthread t([&](std::stop_token st) { a.run(st); });
  ASSERT_TRUE(testing::waitUntil([&] { return started.load() == 1; }));
  EXPECT_TRUE(a.isLeader());
  t.request_stop();
  t.join();
  EXPECT_EQ(stopped.load(), 1);
  EXPECT_EQ(lease(api)["spec"]["holderIdentity"], "");
}

TEST(LeaderElection, NewLeaderCallbackReportsTheHolder) {
  FakeClient api;
  ManualClock clock;
  LeaderElector a(api, clock, cfgFor("a"));
  std::vector<std::string> seen;
  LeaderElector b(api, clock, cfgFor("b"),
                  LeaderCallbacks{nullptr, nullptr, [&](const std::string& id) { seen.push_back(id); }});
  ASSERT_TRUE(a.tryAcquireOrRenew());
  b.tryAcquireOrRenew();
  b.tryAcquireOrRenew();
  EXPECT_EQ(seen, std::vector<std::string>{"a"});
}

TEST(TimeFormat, MicroTimeAndTime) {
  WallTime t = std::chrono::system_clock::from_time_t(1700000000) + std::chrono::microseconds(42);
  EXPECT_EQ(formatMicroTime(t), "2023-11-14T22:13:20.000042Z");
  EXPECT_EQ(formatTime(t), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace shoal::kube
