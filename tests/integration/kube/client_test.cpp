// shoal_kube against a real kube-apiserver (label k8s): CRUD, paging, merge
// and JSON patches, server-side apply, conflicts on stale resourceVersions,
// the scale and status subresources, watches that resume and relist on 410,
// informers surviving an API-server restart, Lease leader election between
// two electors, Events, and token authentication under RBAC.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "shoal/kube/client.h"
#include "shoal/kube/event_recorder.h"
#include "shoal/kube/informer.h"
#include "shoal/kube/leader_election.h"
#include "shoal/kube/watcher.h"
#include "shoal/testing/kube_control_plane.h"

namespace shoal::kube {
namespace {

using shoal::testing::KubeControlPlane;
using shoal::testing::waitUntil;

// One API server for the whole binary (starting one takes seconds).
class KubeClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (KubeControlPlane::missing()) return;
    // Without the watch cache, watches are served by etcd, so compacting
    // etcd makes old resourceVersions answer 410 Gone deterministically.
    KubeControlPlane::Options o;
    o.watchCache = false;
    cp_ = new KubeControlPlane(o);
    auto cfg = loadKubeconfigFile(cp_->kubeconfig());
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    auto c = makeHttpClient(*cfg);
    ASSERT_TRUE(c.ok()) << c.error().message;
    client_ = new std::shared_ptr<Client>(*c);
  }
  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
    delete cp_;
    cp_ = nullptr;
  }
  void SetUp() override {
    SHOAL_REQUIRE_K8S();
    ASSERT_NE(cp_, nullptr);
    // A namespace per test keeps them independent.
    ns_ = "t-" + std::to_string(++seq_);
    auto r = api().create(Resource::namespaces(), "",
                          Json{{"apiVersion", "v1"}, {"kind", "Namespace"},
                               {"metadata", {{"name", ns_}}}});
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  Client& api() { return **client_; }
  static Json cm(const std::string& name, const std::string& v = "1") {
    return Json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", name}, {"labels", {{"app", "shoal-test"}}}}},
                {"data", {{"v", v}}}};
  }
  static Json deployment(const std::string& name, int replicas) {
    Json labels = {{"app", name}};
    return Json{{"apiVersion", "apps/v1"},
                {"kind", "Deployment"},
                {"metadata", {{"name", name}}},
                {"spec",
                 {{"replicas", replicas},
                  {"selector", {{"matchLabels", labels}}},
                  {"template",
                   {{"metadata", {{"labels", labels}}},
                    {"spec", {{"containers", {{{"name", "w"}, {"image", "registry.invalid/w:1"}}}}}}}}}}};
  }

  static KubeControlPlane* cp_;
  static std::shared_ptr<Client>* client_;
  static int seq_;
  std::string ns_;
};
KubeControlPlane* KubeClientTest::cp_ = nullptr;
std::shared_ptr<Client>* KubeClientTest::client_ = nullptr;
int KubeClientTest::seq_ = 0;

TEST_F(KubeClientTest, CreateGetUpdatePatchDelete) {
  const Resource r = Resource::configMaps();
  auto created = api().create(r, ns_, cm("a"));
  ASSERT_TRUE(created.ok()) << created.error().describe();
  EXPECT_FALSE(uidOf(*created).empty());
  auto dup = api().create(r, ns_, cm("a"));
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(dup.error().isAlreadyExists()) << dup.error().describe();

  auto got = api().get(r, ns_, "a");
  ASSERT_TRUE(got.ok());
  Json obj = *got;
  obj["data"]["v"] = "2";
  auto updated = api().update(r, ns_, "a", obj);
  ASSERT_TRUE(updated.ok()) << updated.error().describe();
  EXPECT_EQ((*updated)["data"]["v"], "2");

  auto merged = api().mergePatch(r, ns_, "a", Json{{"data", {{"w", "x"}}}});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ((*merged)["data"]["v"], "2");
  EXPECT_EQ((*merged)["data"]["w"], "x");

  Json failingTest = Json::array({{{"op", "test"}, {"path", "/data/v"}, {"value", "nope"}},
                                  {{"op", "replace"}, {"path", "/data/v"}, {"value", "3"}}});
  auto rejected = api().jsonPatch(r, ns_, "a", failingTest);
  ASSERT_FALSE(rejected.ok());
  EXPECT_TRUE(rejected.error().isInvalid()) << rejected.error().describe();
  failingTest[0]["value"] = "2";
  auto patched = api().jsonPatch(r, ns_, "a", failingTest);
  ASSERT_TRUE(patched.ok()) << patched.error().describe();
  EXPECT_EQ((*patched)["data"]["v"], "3");

  auto del = api().remove(r, ns_, "a");
  ASSERT_TRUE(del.ok()) << del.error().describe();
  auto gone = api().get(r, ns_, "a");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().isNotFound());
  EXPECT_EQ(gone.error().reason, "NotFound");
  EXPECT_TRUE(api().remove(r, ns_, "a").error().isNotFound());
}

TEST_F(KubeClientTest, StaleResourceVersionIsAConflict) {
  const Resource r = Resource::configMaps();
  auto created = api().create(r, ns_, cm("c"));
  ASSERT_TRUE(created.ok());
  Json stale = *created;
  stale["data"]["v"] = "first";
  ASSERT_TRUE(api().update(r, ns_, "c", stale).ok());
  stale["data"]["v"] = "second";
  auto res = api().update(r, ns_, "c", stale);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, 409);
  EXPECT_TRUE(res.error().isConflict()) << res.error().describe();
  EXPECT_FALSE(res.error().isRetryable());
  // A merge patch with a stale resourceVersion precondition is refused too.
  auto p = api().mergePatch(r, ns_, "c",
                            Json{{"metadata", {{"resourceVersion", resourceVersionOf(*created)}}},
                                 {"data", {{"v", "third"}}}});
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.error().isConflict());
}

TEST_F(KubeClientTest, ListIsPagedWithContinueTokens) {
  const Resource r = Resource::configMaps();
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(api().create(r, ns_, cm("p" + std::to_string(i))).ok());
  ListOptions o;
  o.limit = 3;
  o.labelSelector = "app=shoal-test";
  auto first = api().list(r, ns_, o);
  ASSERT_TRUE(first.ok()) << first.error().describe();
  EXPECT_EQ(first->items.size(), 3u);
  EXPECT_FALSE(first->continueToken.empty());
  EXPECT_FALSE(first->resourceVersion.empty());
  ListOptions sel;
  sel.labelSelector = "app=shoal-test";
  auto all = api().listAll(r, ns_, sel, 3);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 7u);
  sel.labelSelector = "app=other";
  EXPECT_EQ(api().listAll(r, ns_, sel, 3)->items.size(), 0u);
}

TEST_F(KubeClientTest, ServerSideApplyOwnsFieldsPerManager) {
  const Resource r = Resource::configMaps();
  Json intent = cm("ssa", "from-a");
  auto a = api().apply(r, ns_, "ssa", intent, "shoal-a", /*force=*/false);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ((*a)["data"]["v"], "from-a");
  Json other = cm("ssa", "from-b");
  auto b = api().apply(r, ns_, "ssa", other, "shoal-b", /*force=*/false);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, 409) << b.error().describe();
  auto forced = api().apply(r, ns_, "ssa", other, "shoal-b", /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.error().describe();
  EXPECT_EQ((*forced)["data"]["v"], "from-b");
  bool bManages = false;
  for (const auto& mf : (*forced)["metadata"]["managedFields"])
    if (mf["manager"] == "shoal-b") bManages = true;
  EXPECT_TRUE(bManages);
  // Re-applying the same intent is a no-op (same resourceVersion).
  auto again = api().apply(r, ns_, "ssa", other, "shoal-b", true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(resourceVersionOf(*again), resourceVersionOf(*forced));
}

TEST_F(KubeClientTest, ScaleAndStatusSubresources) {
  const Resource d = Resource::deployments();
  ASSERT_TRUE(api().create(d, ns_, deployment("web", 1)).ok());
  auto scale = api().getScale(d, ns_, "web");
  ASSERT_TRUE(scale.ok()) << scale.error().describe();
  EXPECT_EQ((*scale)["kind"], "Scale");
  EXPECT_EQ((*scale)["spec"]["replicas"], 1);
  auto set = api().setReplicas(d, ns_, "web", 4);
  ASSERT_TRUE(set.ok()) << set.error().describe();
  auto dep = api().get(d, ns_, "web");
  ASSERT_TRUE(dep.ok());
  EXPECT_EQ((*dep)["spec"]["replicas"], 4);

  Json withStatus = *dep;
  withStatus["status"] = {{"observedGeneration", 99}, {"replicas", 4}};
  auto st = api().updateStatus(d, ns_, "web", withStatus);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  EXPECT_EQ((*st)["status"]["observedGeneration"], 99);
  // The main resource ignores status changes.
  Json plain = *st;
  plain["status"]["observedGeneration"] = 1;
  plain["metadata"]["labels"]["touched"] = "yes";
  auto up = api().update(d, ns_, "web", plain);
  ASSERT_TRUE(up.ok()) << up.error().describe();
  EXPECT_EQ((*up)["status"]["observedGeneration"], 99);
  auto invalid = api().setReplicas(d, ns_, "web", -1);
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(invalid.error().isInvalid()) << invalid.error().describe();
}

struct Recorder : WatchSink {
  void onList(std::vector<Json> items, const std::string&) override {
    std::lock_guard<std::mutex> l(mu);
    lists.push_back(items.size());
  }
  void onEvent(const WatchEvent& ev) override {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(std::string(WatchEvent::typeName(ev.type)) + " " + nameOf(ev.object));
  }
  bool has(const std::string& e) {
    std::lock_guard<std::mutex> l(mu);
    return std::find(events.begin(), events.end(), e) != events.end();
  }
  std::mutex mu;
  std::vector<size_t> lists;
  std::vector<std::string> events;
};

TEST_F(KubeClientTest, WatcherResumesAfterTheServerEndsEachWatch) {
  WatcherOptions o;
  o.resource = Resource::configMaps();
  o.ns = ns_;
  o.watchTimeoutSeconds = 1;  // the server ends every watch after a second
  Recorder sink;
  Watcher w(api(), SystemClock::instance(), o, sink);
  std::jthread t([&](std::stop_token st) { w.run(st); });
  ASSERT_TRUE(waitUntil([&] { return w.watchesStarted() >= 1; }));
  ASSERT_TRUE(api().create(Resource::configMaps(), ns_, cm("w1")).ok());
  ASSERT_TRUE(waitUntil([&] { return sink.has("ADDED w1"); }));
  ASSERT_TRUE(waitUntil([&] { return w.watchesStarted() >= 3; }, std::chrono::seconds(15)));
  ASSERT_TRUE(api().mergePatch(Resource::configMaps(), ns_, "w1", Json{{"data", {{"v", "2"}}}}).ok());
  ASSERT_TRUE(api().remove(Resource::configMaps(), ns_, "w1").ok());
  ASSERT_TRUE(waitUntil([&] { return sink.has("DELETED w1"); }));
  t.request_stop();
  t.join();
  EXPECT_EQ(w.relists(), 1) << "resuming must not relist";
  std::lock_guard<std::mutex> l(sink.mu);
  EXPECT_EQ(sink.events, (std::vector<std::string>{"ADDED w1", "MODIFIED w1", "DELETED w1"}));
}

TEST_F(KubeClientTest, WatchFromATooOldVersionIsGone) {
  ASSERT_TRUE(api().create(Resource::configMaps(), ns_, cm("old")).ok());
  cp_->compactEtcd();
  bool gone = false;
  auto res = api().watch(Resource::configMaps(), ns_,
                         WatchOptions{.resourceVersion = "1", .timeoutSeconds = 10},
                         [&](const WatchEvent& ev) {
                           if (ev.type == WatchEvent::Type::kError && ev.statusError().isGone())
                             gone = true;
                           return false;
                         });
  if (!res.ok()) gone = gone || res.error().isGone();
  EXPECT_TRUE(gone) << (res.ok() ? std::string("watch ended without 410") : res.error().describe());
}

// Forwards to the real client, but the first watch asks for a version the
// server has long forgotten: the watcher must relist and carry on.
class ForgetfulClient : public Client {
 public:
  explicit ForgetfulClient(Client& c) : c_(c) {}
  ApiResult<Json> get(const Resource& r, const std::string& ns, const std::string& n,
                      const std::string& s) override { return c_.get(r, ns, n, s); }
  ApiResult<ListPage> list(const Resource& r, const std::string& ns, const ListOptions& o) override {
    return c_.list(r, ns, o);
  }
  ApiResult<void> watch(const Resource& r, const std::string& ns, const WatchOptions& o,
                        const WatchHandler& h, std::stop_token st) override {
    WatchOptions w = o;
    if (!usedOld_.exchange(true)) w.resourceVersion = "1";
    return c_.watch(r, ns, w, h, st);
  }
  ApiResult<Json> create(const Resource& r, const std::string& ns, const Json& o,
                         const WriteOptions& w) override { return c_.create(r, ns, o, w); }
  ApiResult<Json> update(const Resource& r, const std::string& ns, const std::string& n,
                         const Json& o, const std::string& s, const WriteOptions& w) override {
    return c_.update(r, ns, n, o, s, w);
  }
  ApiResult<Json> patch(const Resource& r, const std::string& ns, const std::string& n, PatchType t,
                        const Json& b, const PatchOptions& o, const std::string& s) override {
    return c_.patch(r, ns, n, t, b, o, s);
  }
  ApiResult<Json> remove(const Resource& r, const std::string& ns, const std::string& n,
                         const DeleteOptions& o) override { return c_.remove(r, ns, n, o); }

 private:
  Client& c_;
  std::atomic<bool> usedOld_{false};
};

TEST_F(KubeClientTest, WatcherRelistsOnGone) {
  ASSERT_TRUE(api().create(Resource::configMaps(), ns_, cm("before")).ok());
  cp_->compactEtcd();
  ForgetfulClient forgetful(api());
  WatcherOptions o;
  o.resource = Resource::configMaps();
  o.ns = ns_;
  Recorder sink;
  Watcher w(forgetful, SystemClock::instance(), o, sink);
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  EXPECT_EQ(w.step(), Watcher::State::kList) << "410 from the server leads to a relist";
  EXPECT_EQ(w.step(), Watcher::State::kWatch);
  EXPECT_EQ(w.relists(), 2);
  std::lock_guard<std::mutex> l(sink.mu);
  EXPECT_EQ(sink.lists, (std::vector<size_t>{1, 1}));
}

TEST_F(KubeClientTest, EventsAreDeduplicated) {
  auto pod = api().create(Resource::configMaps(), ns_, cm("subject"));
  ASSERT_TRUE(pod.ok());
  EventRecorder rec(api(), SystemClock::instance(), "shoal-operator-test");
  auto e1 = rec.normal(*pod, "Scaled", "scaled to 3");
  ASSERT_TRUE(e1.ok()) << e1.error().describe();
  auto e2 = rec.normal(*pod, "Scaled", "scaled to 3");
  ASSERT_TRUE(e2.ok()) << e2.error().describe();
  EXPECT_EQ((*e2)["count"], 2);
  auto events = api().list(Resource::events(), ns_);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->items.size(), 1u);
  EXPECT_EQ(events->items[0]["involvedObject"]["name"], "subject");
  auto described = cp_->kubectl({"get", "events", "-n", ns_, "-o", "jsonpath={.items[0].reason}"});
  EXPECT_EQ(described.out, "Scaled");
}

TEST_F(KubeClientTest, TokenAuthenticationIsSubjectToRbac) {
  std::string token = cp_->createServiceAccountToken(ns_, "op");
  ClientConfig cfg;
  cfg.server = cp_->server();
  cfg.caPem = shoal::testing::Process::readFile(cp_->caFile());
  cfg.token = token;
  auto c = makeHttpClient(cfg);
  ASSERT_TRUE(c.ok());
  auto denied = (*c)->list(Resource::configMaps(), ns_);
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(denied.error().isForbidden()) << denied.error().describe();
  // Wrong CA: the TLS handshake fails as a transport error, not a crash.
  ClientConfig wrong = cfg;
  wrong.caPem = shoal::testing::Process::readFile(cp_->adminCertFile());
  auto w = makeHttpClient(wrong);
  ASSERT_TRUE(w.ok());
  auto r = (*w)->list(Resource::configMaps(), ns_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 0);
  // A token file is re-read when it changes (rotation).
  shoal::testing::TempDir dir;
  ClientConfig viaFile = cfg;
  viaFile.token.clear();
  viaFile.tokenFile = dir.file("token");
  shoal::testing::runCommand("printf %s garbage > " + viaFile.tokenFile);
  auto f = makeHttpClient(viaFile);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE((*f)->list(Resource::configMaps(), ns_).error().isUnauthorized());
  shoal::testing::runCommand("printf %s '" + token + "' > " + viaFile.tokenFile);
  EXPECT_TRUE((*f)->list(Resource::configMaps(), ns_).error().isForbidden());
}

TEST_F(KubeClientTest, LeaseTakeoverWhenTheLeaderStopsRenewing) {
  // Short durations so the test takes seconds; same protocol.
  auto cfgFor = [&](const std::string& id) {
    LeaderElectionConfig c;
    c.ns = ns_;
    c.name = "shoal-operator";
    c.identity = id;
    c.leaseDuration = seconds(3);
    c.renewDeadline = seconds(2);
    c.retryPeriod = millis(250);
    return c;
  };
  // "a" talks through a client we can cut off, like a partitioned or frozen pod.
  struct Cuttable : ForgetfulClient {
    explicit Cuttable(Client& c) : ForgetfulClient(c), real(c) {}
    ApiResult<Json> get(const Resource& r, const std::string& ns, const std::string& n,
                        const std::string& s) override {
      if (cut) return ApiError{0, "Transport", "cut", nullptr, std::nullopt};
      return real.get(r, ns, n, s);
    }
    Client& real;
    std::atomic<bool> cut{false};
  } aClient(api());
  std::atomic<bool> aLeads{false}, bLeads{false}, both{false};
  std::atomic<int> aStopped{0};
  auto check = [&] {
    if (aLeads && bLeads) both = true;
  };
  LeaderElector a(aClient, SystemClock::instance(), cfgFor("a"),
                  LeaderCallbacks{[&] { aLeads = true; check(); }, [&] { aLeads = false; ++aStopped; }, nullptr});
  LeaderElector b(api(), SystemClock::instance(), cfgFor("b"),
                  LeaderCallbacks{[&] { bLeads = true; check(); }, [&] { bLeads = false; }, nullptr});
  std::jthread ta([&](std::stop_token st) { a.run(st); });
  ASSERT_TRUE(waitUntil([&] { return aLeads.load(); }));
  std::jthread tb([&](std::stop_token st) { b.run(st); });
  ASSERT_TRUE(waitUntil([&] { return b.observedHolder() == "a"; }));
  EXPECT_FALSE(bLeads.load());
  auto cutAt = std::chrono::steady_clock::now();
  aClient.cut = true;
  ASSERT_TRUE(waitUntil([&] { return bLeads.load(); }, std::chrono::seconds(10)));
  auto took = std::chrono::steady_clock::now() - cutAt;
  EXPECT_EQ(aStopped.load(), 1) << "a stepped down (renew deadline) before b took over";
  EXPECT_LT(took, std::chrono::seconds(3) + std::chrono::milliseconds(1500));
  EXPECT_FALSE(both.load());
  // b shuts down cleanly: it releases the lease.
  tb.request_stop();
  tb.join();
  ta.request_stop();
  ta.join();
  auto lease = api().get(Resource::leases(), ns_, "shoal-operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "");
  EXPECT_GE((*lease)["spec"]["leaseTransitions"].get<int>(), 1);
}

// Last: restarts the shared API server.
TEST_F(KubeClientTest, InformerSurvivesAnApiServerRestart) {
  WatcherOptions o;
  o.resource = Resource::configMaps();
  o.ns = ns_;
  o.backoffBase = millis(100);
  o.backoffMax = seconds(1);
  Informer inf(api(), SystemClock::instance(), o, Duration::zero());
  inf.start();
  ASSERT_TRUE(inf.waitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(api().create(Resource::configMaps(), ns_, cm("pre")).ok());
  ASSERT_TRUE(waitUntil([&] { return inf.get(ns_, "pre") != nullptr; }));
  cp_->restartApiServer();
  ASSERT_TRUE(waitUntil([&] { return api().create(Resource::configMaps(), ns_, cm("post")).ok(); },
                        std::chrono::seconds(30), std::chrono::milliseconds(200)));
  EXPECT_TRUE(waitUntil([&] { return inf.get(ns_, "post") != nullptr; }, std::chrono::seconds(30)));
  EXPECT_NE(inf.get(ns_, "pre"), nullptr);
  inf.stop();
}

}  // namespace
}  // namespace shoal::kube
