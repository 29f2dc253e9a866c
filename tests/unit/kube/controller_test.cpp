// Unit tests of the controller runtime (kube::Controller) against the
// in-memory API: the primary, mapped and owned watches land in one queue;
// the gate holds reconciles back; reconciles are timed on the injected clock;
// workers apply outcomes (failure -> per-key backoff).
#include "shoal/kube/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>

#include "shoal/testing/fake_kube_client.h"
#include "shoal/testing/process.h"

namespace shoal::kube {
namespace {

Json object(const std::string& kind, const std::string& name, const std::string& ref = "") {
  Json o{{"apiVersion", "v1"}, {"kind", kind}, {"metadata", {{"name", name}}}, {"data", Json::object()}};
  if (!ref.empty()) o["data"]["ref"] = ref;
  return o;
}

Json deployment(const std::string& name, const std::string& ownerKind, const std::string& owner) {
  return Json{{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata",
               {{"name", name},
                {"ownerReferences", Json::array({{{"apiVersion", "shoal.dev/v1alpha1"},
                                                  {"kind", ownerKind},
                                                  {"name", owner},
                                                  {"uid", "u-" + owner},
                                                  {"controller", true}}})}}}};
}

WatcherOptions optionsFor(const Resource& r) {
  WatcherOptions o;
  o.resource = r;
  o.ns = "ns";
  return o;
}

std::set<std::string> drain(WorkQueue& q) {
  std::set<std::string> keys;
  while (auto k = q.tryGet()) {
    keys.insert(*k);
    q.done(*k);
  }
  return keys;
}

TEST(Controller, PrimaryMappedAndOwnedChangesEnqueuePrimaryKeys) {
  FakeClient api;
  ManualClock clock;
  // The primary is "pool" ConfigMaps in ns; secondaries: "pipeline" Secrets
  // mapped by data.ref, and Deployments owned by a WorkerPool.
  Informer primary(api, clock, optionsFor(Resource::configMaps()));
  Informer secondary(api, clock, optionsFor(Resource::secrets()));
  Informer owned(api, clock, optionsFor(Resource::deployments()));
  Controller c(primary, clock, {.name = "test"});
  c.watches(secondary, [](const Json& obj) -> std::vector<std::string> {
    auto ref = obj.value("/data/ref"_json_pointer, std::string());
    if (ref.empty()) return {};
    return {makeKey("ns", ref)};
  });
  c.owns(owned, "WorkerPool", "shoal.dev");

  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", object("ConfigMap", "a")).ok());
  primary.start();
  secondary.start();
  owned.start();
  ASSERT_TRUE(primary.waitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(secondary.waitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(owned.waitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(testing::waitUntil([&] { return c.queue().len() == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(drain(c.queue()), std::set<std::string>{"ns/a"});

  ASSERT_TRUE(api.create(Resource::secrets(), "ns", object("Secret", "s", "b")).ok());     // mapped
  ASSERT_TRUE(api.create(Resource::secrets(), "ns", object("Secret", "unmapped")).ok());   // maps to nothing
  ASSERT_TRUE(api.create(Resource::deployments(), "ns", deployment("d", "WorkerPool", "c")).ok());
  ASSERT_TRUE(api.create(Resource::deployments(), "ns", deployment("e", "Other", "x")).ok());  // not ours
  ASSERT_TRUE(testing::waitUntil([&] { return owned.size() == 2 && secondary.size() == 2; },
                                 std::chrono::seconds(10)));
  // Mapped (ns/b) and owned (ns/c) keys arrive; the secondaries' own keys,
  // the unmapped Secret and the foreign owner never do. (The primary's ns/a
  // may be reported again by the informer's watch start; it is not checked.)
  std::set<std::string> keys;
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        for (auto& k : drain(c.queue())) keys.insert(k);
        return keys.count("ns/b") && keys.count("ns/c");
      },
      std::chrono::seconds(10)));
  keys.erase("ns/a");
  EXPECT_EQ(keys, (std::set<std::string>{"ns/b", "ns/c"}));
  primary.stop();
  secondary.stop();
  owned.stop();
}

TEST(Controller, ClosedGateHoldsTheReconcileBackAndRevisitsLater) {
  FakeClient api;
  ManualClock clock;
  Informer primary(api, clock, optionsFor(Resource::configMaps()));
  bool leading = false;
  int reconciles = 0, hooks = 0;
  Controller c(primary, clock,
               {.name = "test",
                .mayAct = [&] { return leading; },
                .gatedRetry = seconds(7),
                .onReconciled = [&](const std::string&, const std::string&, bool, double) { ++hooks; }});
  c.start([&](const std::string&, const std::string&) {
    ++reconciles;
    return ReconcileOutcome::done();
  });
  c.stop();  // no workers: drive reconcileKey directly
  ReconcileOutcome held = c.reconcileKey("ns/a");
  EXPECT_TRUE(held.ok);
  ASSERT_TRUE(held.requeueAfter.has_value());
  EXPECT_EQ(*held.requeueAfter, seconds(7));
  EXPECT_EQ(reconciles, 0);
  EXPECT_EQ(hooks, 0);
  leading = true;
  EXPECT_FALSE(c.reconcileKey("ns/a").requeueAfter.has_value());
  EXPECT_EQ(reconciles, 1);
  EXPECT_EQ(hooks, 1);
}

TEST(Controller, ReconcilesAreTimedOnTheInjectedClockAndExceptionsAreFailures) {
  FakeClient api;
  ManualClock clock;
  Informer primary(api, clock, optionsFor(Resource::configMaps()));
  std::vector<std::tuple<std::string, std::string, bool, double>> seen;
  Controller c(primary, clock,
               {.name = "pools", .onReconciled = [&](const std::string& ctl, const std::string& key, bool ok,
                                                     double secs) { seen.emplace_back(ctl, key, ok, secs); }});
  std::string gotNs, gotName;
  c.start([&](const std::string& ns, const std::string& name) -> ReconcileOutcome {
    gotNs = ns;
    gotName = name;
    clock.advance(std::chrono::milliseconds(2500));
    if (name == "boom") throw std::runtime_error("boom");
    return ReconcileOutcome::after(seconds(30));
  });
  c.stop();
  ReconcileOutcome ok = c.reconcileKey("team/pool-a");
  EXPECT_EQ(gotNs, "team");
  EXPECT_EQ(gotName, "pool-a");
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.requeueAfter, seconds(30));
  EXPECT_FALSE(c.reconcileKey("team/boom").ok);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_tuple(std::string("pools"), std::string("team/pool-a"), true, 2.5));
  EXPECT_EQ(seen[1], std::make_tuple(std::string("pools"), std::string("team/boom"), false, 2.5));
}

TEST(Controller, WorkersApplyOutcomesFailureBacksOffPerKey) {
  FakeClient api;
  ManualClock clock;
  Informer primary(api, clock, optionsFor(Resource::configMaps()));
  std::atomic<int> calls{0};
  Controller c(primary, clock, {.name = "test", .workers = 1});
  c.start([&](const std::string&, const std::string& name) {
    ++calls;
    return name == "bad" ? ReconcileOutcome::failed() : ReconcileOutcome::done();
  });
  c.queue().add("ns/good");
  c.queue().add("ns/bad");
  ASSERT_TRUE(testing::waitUntil([&] { return calls.load() >= 2 && c.queue().failures("ns/bad") == 1; },
                                 std::chrono::seconds(10)));
  EXPECT_EQ(c.queue().failures("ns/good"), 0);
  EXPECT_EQ(c.queue().delayedLen(), 1u);  // ns/bad waits for its backoff
  c.stop();
  EXPECT_TRUE(c.queue().shuttingDown());
}

}  // namespace
}  // namespace shoal::kube
