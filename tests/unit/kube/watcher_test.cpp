// Unit tests of the list/watch state machine, the informer cache and the
// event recorder against the in-memory API, plus the fake API's own rules
// (conflicts, subresources, patches, finalizers, paging).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "shoal/kube/event_recorder.h"
#include "shoal/testing/fake_kube_client.h"
#include "shoal/kube/informer.h"
#include "shoal/kube/watcher.h"
#include "shoal/testing/process.h"

namespace shoal::kube {
namespace {

Json cm(const std::string& name, const std::string& v = "1") {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"labels", {{"app", "shoal"}}}}},
              {"data", {{"v", v}}}};
}

class RecordingSink : public WatchSink {
 public:
  void onList(std::vector<Json> items, const std::string& rv) override {
    std::lock_guard<std::mutex> l(mu);
    lists.push_back(items.size());
    listRv = rv;
  }
  void onEvent(const WatchEvent& ev) override {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(std::string(WatchEvent::typeName(ev.type)) + " " + nameOf(ev.object));
  }
  size_t eventCount() {
    std::lock_guard<std::mutex> l(mu);
    return events.size();
  }
  std::mutex mu;
  std::vector<size_t> lists;
  std::string listRv;
  std::vector<std::string> events;
};

WatcherOptions cmOptions() {
  WatcherOptions o;
  o.resource = Resource::configMaps();
  o.ns = "ns";
  o.pageSize = 1;  // exercise paging in the list state
  return o;
}

TEST(Watcher, ListsThenWatchesAndResumesWithoutRelisting) {
  FakeClient api;
  ManualClock clock;
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("a")).ok());
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("b")).ok());
  ASSERT_TRUE(api.create(Resource::configMaps(), "other", cm("c")).ok());
  RecordingSink sink;
  Watcher w(api, clock, cmOptions(), sink);
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  EXPECT_EQ(sink.lists, std::vector<size_t>{2});
  EXPECT_EQ(w.resourceVersion(), std::to_string(api.resourceVersion()));

  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("d")).ok());
  ASSERT_TRUE(api.mergePatch(Resource::configMaps(), "ns", "a", Json{{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(api.create(Resource::configMaps(), "other", cm("e")).ok());
  std::thread closer([&] {
    testing::waitUntil([&] { return sink.eventCount() >= 2; });
    api.closeWatches();  // the server ends the stream
  });
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  closer.join();
  EXPECT_EQ(sink.events, (std::vector<std::string>{"ADDED d", "MODIFIED a"}));
  EXPECT_EQ(w.relists(), 1);

  // Resumes from the last seen version: only the new change arrives.
  ASSERT_TRUE(api.remove(Resource::configMaps(), "ns", "b").ok());
  std::thread closer2([&] {
    testing::waitUntil([&] { return sink.eventCount() >= 3; });
    api.closeWatches();
  });
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  closer2.join();
  EXPECT_EQ(sink.events.back(), "DELETED b");
  EXPECT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(w.relists(), 1);
}

TEST(Watcher, GoneErrorEventLeadsToARelist) {
  FakeClient api;
  ManualClock clock;
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("a")).ok());
  RecordingSink sink;
  Watcher w(api, clock, cmOptions(), sink);
  ASSERT_EQ(w.step(), Watcher::State::kWatch);
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("b")).ok());
  api.compact();  // our resourceVersion is now too old
  EXPECT_EQ(w.step(), Watcher::State::kList);
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  EXPECT_EQ(w.relists(), 2);
  EXPECT_EQ(sink.lists, (std::vector<size_t>{1, 2}));
}

TEST(Watcher, HttpGoneAlsoRelists) {
  FakeClient api;
  ManualClock clock;
  RecordingSink sink;
  Watcher w(api, clock, cmOptions(), sink);
  ASSERT_EQ(w.step(), Watcher::State::kWatch);
  api.failNext("watch", ApiError{410, "Expired", "too old", nullptr, std::nullopt});
  EXPECT_EQ(w.step(), Watcher::State::kList);
}

TEST(Watcher, ErrorsBackOffOnTheClockThenRetryTheSameState) {
  FakeClient api;
  ManualClock clock;
  RecordingSink sink;
  WatcherOptions o = cmOptions();
  o.backoffBase = seconds(1);
  o.backoffMax = seconds(8);
  Watcher w(api, clock, o, sink);
  api.failNext("list", ApiError{503, "ServiceUnavailable", "", nullptr, std::nullopt});
  api.failNext("list", ApiError{0, "Transport", "refused", nullptr, std::nullopt});
  EXPECT_EQ(w.step(), Watcher::State::kBackoff);
  MonoTime before = clock.now();
  EXPECT_EQ(w.step(), Watcher::State::kList);
  EXPECT_GT(clock.now(), before) << "backoff waits on the injected clock";
  EXPECT_LE(clock.now() - before, seconds(1));
  EXPECT_EQ(w.step(), Watcher::State::kBackoff);
  EXPECT_EQ(w.step(), Watcher::State::kList);
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  EXPECT_EQ(w.errors(), 2);
  std::string rv = w.resourceVersion();
  api.failNext("watch", ApiError{500, "InternalError", "", nullptr, std::nullopt});
  EXPECT_EQ(w.step(), Watcher::State::kBackoff);
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  EXPECT_EQ(w.resourceVersion(), rv) << "a failed watch keeps its place";
  EXPECT_EQ(w.relists(), 1);
}

TEST(Watcher, StopTokenEndsABlockedWatch) {
  FakeClient api;
  SystemClock& clock = SystemClock::instance();
  RecordingSink sink;
  Watcher w(api, clock, cmOptions(), sink);
  std::jthread t([&](std::stop_token st) { w.run(st); });
  ASSERT_TRUE(testing::waitUntil([&] { return w.state() == Watcher::State::kWatch; }));
  t.request_stop();
  t.join();
  EXPECT_EQ(w.state(), Watcher::State::kStopped);
}

TEST(Informer, CachesNotifiesAndReconcilesARelist) {
  FakeClient api;
  SystemClock& clock = SystemClock::instance();
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("a")).ok());
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("gone")).ok());
  Informer inf(api, clock, cmOptions(), Duration::zero());
  std::mutex mu;
  std::vector<std::string> seen;
  inf.addHandler([&](const ObjectPtr& o, const ObjectPtr& n) {
    std::lock_guard<std::mutex> l(mu);
    std::string kind = !o ? "add" : !n ? "delete" : "update";
    seen.push_back(kind + " " + nameOf(n ? *n : *o));
  });
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(5)));
  EXPECT_EQ(inf.size(), 2u);
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("b")).ok());
  ASSERT_TRUE(testing::waitUntil([&] { return inf.get("ns", "b") != nullptr; }));
  EXPECT_EQ((*inf.get("ns/b"))["data"]["v"], "1");

  // While "disconnected" an object is deleted and the history compacted: the
  // relist must report the deletion.
  ASSERT_TRUE(api.remove(Resource::configMaps(), "ns", "gone").ok());
  api.compact();
  api.closeWatches();
  ASSERT_TRUE(testing::waitUntil([&] { return inf.get("ns", "gone") == nullptr; }));
  EXPECT_GE(inf.watcher().relists(), 1);
  inf.stop();
  std::lock_guard<std::mutex> l(mu);
  EXPECT_NE(std::find(seen.begin(), seen.end(), "add b"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "delete gone"), seen.end());
  EXPECT_EQ(inf.listNamespace("ns").size(), 2u);
}

TEST(Informer, ResyncReportsEveryObjectAsAnUpdate) {
  FakeClient api;
  SystemClock& clock = SystemClock::instance();
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("a")).ok());
  Informer inf(api, clock, cmOptions(), Duration::zero());
  std::atomic<int> updates{0};
  inf.addHandler([&](const ObjectPtr& o, const ObjectPtr& n) {
    if (o && n && o == n) ++updates;
  });
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(5)));
  inf.resyncNow();
  EXPECT_EQ(updates.load(), 1);
}

TEST(Informer, CachesObjectsWithoutManagedFieldsOrLastAppliedAnnotation) {
  FakeClient api;
  SystemClock& clock = SystemClock::instance();
  Json a = cm("a");
  a["metadata"]["managedFields"] = Json::array({{{"manager", "kubectl"}, {"operation", "Apply"}}});
  a["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{}"},
                                  {"team", "logs"}};
  Json b = cm("b");
  b["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{}"}};
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", a).ok());
  Informer inf(api, clock, cmOptions(), Duration::zero());
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(5)));
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", b).ok());  // arrives as a watch event
  ASSERT_TRUE(testing::waitUntil([&] { return inf.get("ns", "b") != nullptr; }));

  const Json& listed = *inf.get("ns", "a");
  EXPECT_FALSE(listed["metadata"].contains("managedFields"));
  EXPECT_EQ(listed["metadata"]["annotations"], (Json{{"team", "logs"}}));
  EXPECT_EQ(listed["data"]["v"], "1");
  const Json& watched = *inf.get("ns", "b");
  EXPECT_FALSE(watched["metadata"].contains("annotations")) << watched.dump();
  EXPECT_EQ(watched["data"]["v"], "1");
  inf.stop();
}

TEST(Informer, WithoutATransformObjectsAreCachedAsServed) {
  FakeClient api;
  SystemClock& clock = SystemClock::instance();
  Json a = cm("a");
  a["metadata"]["managedFields"] = Json::array({{{"manager", "kubectl"}}});
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", a).ok());
  Informer inf(api, clock, cmOptions(), Duration::zero());
  inf.setTransform(nullptr);
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(5)));
  EXPECT_TRUE((*inf.get("ns", "a"))["metadata"].contains("managedFields"));
  inf.stop();
}

TEST(FakeClient, OptimisticConcurrencyAndSubresources) {
  FakeClient api;
  Json d = {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", "d"}}},
            {"spec", {{"replicas", 1}}}};
  auto created = api.create(Resource::deployments(), "ns", d);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(api.create(Resource::deployments(), "ns", d).error().isAlreadyExists());
  Json stale = *created;
  stale["spec"]["replicas"] = 2;
  ASSERT_TRUE(api.update(Resource::deployments(), "ns", "d", stale).ok());
  stale["spec"]["replicas"] = 3;
  auto conflict = api.update(Resource::deployments(), "ns", "d", stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_TRUE(conflict.error().isConflict());

  ASSERT_TRUE(api.setReplicas(Resource::deployments(), "ns", "d", 5).ok());
  auto scale = api.getScale(Resource::deployments(), "ns", "d");
  ASSERT_TRUE(scale.ok());
  EXPECT_EQ((*scale)["spec"]["replicas"], 5);
  auto cur = *api.get(Resource::deployments(), "ns", "d");
  EXPECT_EQ(cur["metadata"]["generation"], 3);
  cur["status"] = {{"readyReplicas", 5}};
  ASSERT_TRUE(api.updateStatus(Resource::deployments(), "ns", "d", cur).ok());
  auto after = *api.get(Resource::deployments(), "ns", "d");
  EXPECT_EQ(after["status"]["readyReplicas"], 5);
  EXPECT_EQ(after["metadata"]["generation"], 3) << "status writes do not bump generation";

  // JSON patch with a failing test op is Invalid and changes nothing.
  Json ops = Json::array({{{"op", "test"}, {"path", "/spec/replicas"}, {"value", 9}},
                          {{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 1}}});
  auto bad = api.jsonPatch(Resource::deployments(), "ns", "d", ops);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().isInvalid());
  ops[0]["value"] = 5;
  ASSERT_TRUE(api.jsonPatch(Resource::deployments(), "ns", "d", ops).ok());
  EXPECT_EQ((*api.get(Resource::deployments(), "ns", "d"))["spec"]["replicas"], 1);
  EXPECT_TRUE(api.get(Resource::deployments(), "ns", "nope").error().isNotFound());
}

TEST(FakeClient, FinalizersDelayDeletionAndPagingWalksEverything) {
  FakeClient api;
  Json o = cm("f");
  o["metadata"]["finalizers"] = {"shoal.dev/cleanup"};
  ASSERT_TRUE(api.create(Resource::configMaps(), "ns", o).ok());
  ASSERT_TRUE(api.remove(Resource::configMaps(), "ns", "f").ok());
  auto still = api.get(Resource::configMaps(), "ns", "f");
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE((*still)["metadata"].contains("deletionTimestamp"));
  Json ops = Json::array({{{"op", "test"}, {"path", "/metadata/finalizers/0"}, {"value", "shoal.dev/cleanup"}},
                          {{"op", "remove"}, {"path", "/metadata/finalizers/0"}}});
  ASSERT_TRUE(api.jsonPatch(Resource::configMaps(), "ns", "f", ops).ok());
  EXPECT_TRUE(api.get(Resource::configMaps(), "ns", "f").error().isNotFound());

  for (int i = 0; i < 7; ++i) ASSERT_TRUE(api.create(Resource::configMaps(), "ns", cm("p" + std::to_string(i))).ok());
  auto all = api.listAll(Resource::configMaps(), "ns", {}, 3);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 7u);
  ListOptions sel;
  sel.labelSelector = "app=shoal,tier!=db";
  EXPECT_EQ(api.list(Resource::configMaps(), "ns", sel)->items.size(), 7u);
  sel.labelSelector = "app=other";
  EXPECT_EQ(api.list(Resource::configMaps(), "ns", sel)->items.size(), 0u);
}

TEST(EventRecorder, DeduplicatesByIncrementingTheCount) {
  FakeClient api;
  ManualClock clock;
  EventRecorder rec(api, clock, "shoal-operator", "", std::chrono::minutes(10));
  Json pool = {{"apiVersion", "shoal.dev/v1alpha1"},
               {"kind", "WorkerPool"},
               {"metadata", {{"name", "wp"}, {"namespace", "ns"}, {"uid", "u1"}}}};
  auto e1 = rec.normal(pool, "ScaledUp", "scaled from 1 to 3");
  ASSERT_TRUE(e1.ok());
  auto e2 = rec.normal(pool, "ScaledUp", "scaled from 1 to 3");
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(nameOf(*e1), nameOf(*e2));
  EXPECT_EQ((*e2)["count"], 2);
  EXPECT_EQ((*e2)["involvedObject"]["uid"], "u1");
  EXPECT_EQ((*e2)["reason"], "ScaledUp");
  auto other = rec.warning(pool, "BacklogUnavailable", "redis down");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(nameOf(*other), nameOf(*e1));
  EXPECT_EQ((*other)["type"], "Warning");
  EXPECT_EQ(api.list(Resource::events(), "ns")->items.size(), 2u);
  clock.advance(std::chrono::minutes(11));
  auto e3 = rec.normal(pool, "ScaledUp", "scaled from 1 to 3");
  ASSERT_TRUE(e3.ok());
  EXPECT_NE(nameOf(*e3), nameOf(*e1)) << "outside the window a new Event is written";
  // A failing API is a value, not a crash.
  api.failNext("create", ApiError{403, "Forbidden", "no", nullptr, std::nullopt});
  EXPECT_FALSE(rec.normal(pool, "X", "y").ok());
}

TEST(EventRecorder, EventNamesFitEvenForObjectsWithTheLongestNames) {
  FakeClient api;
  ManualClock clock;
  EventRecorder rec(api, clock, "shoal-operator", "", std::chrono::minutes(10));
  // 253 characters (a valid name) with dashes wherever the cut lands.
  std::string name = std::string(200, 'p') + std::string(52, '-') + "q";
  Json pool = {{"apiVersion", "shoal.dev/v1alpha1"},
               {"kind", "WorkerPool"},
               {"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", "u1"}}}};
  auto e = rec.normal(pool, "ScaledUp", "scaled from 1 to 3");
  ASSERT_TRUE(e.ok());
  const std::string evName = nameOf(*e);
  EXPECT_LE(evName.size(), 253u) << evName;
  EXPECT_EQ(evName.find("-."), std::string::npos) << evName;
  EXPECT_EQ(evName.substr(0, 100), name.substr(0, 100));
  EXPECT_EQ((*e)["involvedObject"]["name"], name);  // the full name, untouched
  auto short1 =
      rec.normal(Json{{"kind", "WorkerPool"}, {"metadata", {{"name", "wp"}, {"namespace", "ns"}}}},
                 "ScaledUp", "x");
  ASSERT_TRUE(short1.ok());
  EXPECT_EQ(nameOf(*short1).rfind("wp.", 0), 0u) << "short names are used whole";
}

}  // namespace
}  // namespace shoal::kube
