// The process backend's logic on a fake ProcessRunner and a ManualClock:
// which workers start and stop, drain then SIGKILL, crash restarts with
// backoff, rollouts on a config change.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "shoal/api/pipeline.h"
#include "shoal/api/worker_pool.h"
#include "shoal/controllers/render.h"
#include "shoal/local/event_log.h"
#include "shoal/local/file_store.h"
#include "shoal/local/process_backend.h"

namespace shoal::local {
namespace {

using namespace std::chrono_literals;

WorkerProcess worker(int64_t id, const std::string& hash, bool ready, bool stopping = false) {
  WorkerProcess w;
  w.id = id;
  w.slot = static_cast<int32_t>(id);
  w.configHash = hash;
  w.ready = ready;
  w.stopping = stopping;
  return w;
}

TEST(PlanConvergence, StartsWhatIsMissing) {
  auto plan = planConvergence({}, 3, "h1");
  EXPECT_EQ(plan.start, 3);
  EXPECT_TRUE(plan.stop.empty());
  plan = planConvergence({worker(1, "h1", true)}, 3, "h1");
  EXPECT_EQ(plan.start, 2);
}

TEST(PlanConvergence, ScaleInStopsTheNewestWorkers) {
  std::vector<WorkerProcess> ws{worker(1, "h1", true), worker(4, "h1", true), worker(2, "h1", true),
                                worker(3, "h1", false)};
  auto plan = planConvergence(ws, 2, "h1");
  EXPECT_EQ(plan.start, 0);
  EXPECT_EQ(plan.stop, (std::vector<int64_t>{4, 3}));
  plan = planConvergence(ws, 0, "h1");
  EXPECT_EQ(plan.stop.size(), 4u);
  EXPECT_EQ(plan.stop.front(), 4);
}

TEST(PlanConvergence, DrainingWorkersCountForNothing) {
  std::vector<WorkerProcess> ws{worker(1, "h1", true), worker(2, "h1", false, /*stopping=*/true)};
  auto plan = planConvergence(ws, 1, "h1");
  EXPECT_EQ(plan.start, 0);
  EXPECT_TRUE(plan.stop.empty()) << "a worker already stopping is not stopped again";
  plan = planConvergence(ws, 2, "h1");
  EXPECT_EQ(plan.start, 1);
}

TEST(PlanConvergence, RolloutKeepsOldWorkersUntilNewOnesAreReady) {
  std::vector<WorkerProcess> ws{worker(1, "old", true), worker(2, "old", true)};
  auto plan = planConvergence(ws, 2, "new");
  EXPECT_EQ(plan.start, 2) << "surge: new workers start first";
  EXPECT_TRUE(plan.stop.empty());
  ws.push_back(worker(3, "new", true));
  ws.push_back(worker(4, "new", false));
  plan = planConvergence(ws, 2, "new");
  EXPECT_EQ(plan.start, 0);
  EXPECT_EQ(plan.stop, (std::vector<int64_t>{2})) << "one new ready: one old may go";
  ws[3].ready = true;
  plan = planConvergence(ws, 2, "new");
  EXPECT_EQ(plan.stop, (std::vector<int64_t>{2, 1}));
}

TEST(PlanConvergence, LowestFreeSlotReusesGaps) {
  std::vector<WorkerProcess> ws{worker(0, "h", true), worker(2, "h", true)};
  EXPECT_EQ(lowestFreeSlot(ws), 1);
  EXPECT_EQ(lowestFreeSlot({}), 0);
}

TEST(RestartBackoff, DoublesUpToTheCapAndResetsAfterAStableRun) {
  ManualClock clock;
  RestartBackoff b(1s, 8s, 10s);
  EXPECT_TRUE(b.mayStart(clock.now()));
  EXPECT_EQ(b.delayAfter(1), 1s);
  EXPECT_EQ(b.delayAfter(2), 2s);
  EXPECT_EQ(b.delayAfter(4), 8s);
  EXPECT_EQ(b.delayAfter(30), 8s);

  b.recordCrash(clock.now());
  EXPECT_FALSE(b.mayStart(clock.now()));
  clock.advance(999ms);
  EXPECT_FALSE(b.mayStart(clock.now()));
  clock.advance(1ms);
  EXPECT_TRUE(b.mayStart(clock.now()));
  b.recordCrash(clock.now());
  EXPECT_EQ(b.consecutiveCrashes(), 2);
  clock.advance(1s);
  EXPECT_FALSE(b.mayStart(clock.now()));
  clock.advance(1s);
  const MonoTime started = clock.now();
  EXPECT_TRUE(b.mayStart(started));
  clock.advance(9s);
  b.observeRunning(started, clock.now());
  EXPECT_EQ(b.consecutiveCrashes(), 2) << "not stable long enough yet";
  clock.advance(1s);
  b.observeRunning(started, clock.now());
  EXPECT_EQ(b.consecutiveCrashes(), 0);
}

/// Processes that exist only in memory. A worker exits on SIGTERM when
/// `drainsOnTerm`, always on SIGKILL.
class FakeRunner final : public ProcessRunner {
 public:
  struct Proc {
    WorkerLaunch launch;
    int port = 0;
    std::vector<int> signals;
    std::optional<int> exit;
    bool reaped = false;
    bool ready = true;
  };
  std::map<pid_t, Proc> procs;
  pid_t nextPid = 1000;
  int nextPort = 30000;
  bool drainsOnTerm = true;
  bool failSpawn = false;

  Result<pid_t> spawn(const WorkerLaunch& l) override {
    if (failSpawn) return makeError(Errc::kNotFound, "no such binary");
    Proc p;
    p.launch = l;
    const std::string listen = l.args.at(3);
    p.port = std::stoi(listen.substr(listen.rfind(':') + 1));
    procs[nextPid] = p;
    return nextPid++;
  }
  void signal(pid_t pid, int sig) override {
    auto& p = procs.at(pid);
    p.signals.push_back(sig);
    if (sig == SIGKILL) p.exit = SIGKILL;                   // WIFSIGNALED
    if (sig == SIGTERM && drainsOnTerm) p.exit = 0;         // exit code 0
  }
  std::optional<int> poll(pid_t pid) override {
    auto& p = procs.at(pid);
    if (!p.exit || p.reaped) return std::nullopt;
    p.reaped = true;
    return p.exit;
  }
  bool ready(int port) override {
    for (auto& [pid, p] : procs) {
      if (p.port == port) return p.ready && !p.exit;
    }
    return false;
  }
  int freePort() override { return nextPort++; }

  std::vector<pid_t> live() const {
    std::vector<pid_t> out;
    for (const auto& [pid, p] : procs) {
      if (!p.exit) out.push_back(pid);
    }
    return out;
  }
  void crash(pid_t pid, int code = 1) { procs.at(pid).exit = code << 8; }
};

const char* kResources = R"(
apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata: {name: logs}
spec:
  type: logs
  source: {redis: {address: "127.0.0.1:6379", stream: s, passwordSecretRef: {name: r, key: pw}}}
  sink: {elasticsearch: {url: "http://127.0.0.1:9200"}}
---
apiVersion: v1
kind: Secret
metadata: {name: r}
stringData: {pw: hunter2}
---
apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata: {name: pool}
spec:
  pipelineRef: {name: logs}
  terminationGracePeriodSeconds: 20
  template:
    env:
      - {name: EXTRA, value: "1"}
      - {name: FROM_REF, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
)";

class ProcessBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("shoal-pb-test-" + std::to_string(::getpid()) +
                                                    "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
    ResourceSet set;
    auto r = parseResourceText(kResources, "t.yaml", set);
    ASSERT_TRUE(r.ok()) << r.error().message;
    store = std::make_unique<FileResourceStore>(std::move(set), [](const std::string&) {
      return std::optional<std::string>();
    });
    pipeline = *store->getPipeline("default", "logs").value();
    pool = *store->getWorkerPool("default", "pool").value();
    ProcessBackendOptions o;
    o.workerBinary = "/usr/bin/shoal-worker";
    o.workDir = dir.string();
    backend = std::make_unique<ProcessBackend>(o, runner, *store, &events, clock);
  }
  void TearDown() override {
    backend.reset();
    std::filesystem::remove_all(dir);
  }
  Result<controllers::WorkloadObservation> ensure(int32_t replicas, const std::string& config = "cfg: 1\n",
                                                  bool* changed = nullptr) {
    controllers::WorkloadIntent in;
    in.pipeline = &pipeline;
    in.pool = &pool;
    in.config = config;
    in.configHash = controllers::configHash(config);
    in.replicas = replicas;
    return backend->ensure(in, changed);
  }
  std::set<std::string> consumerNames() {
    std::set<std::string> out;
    for (pid_t pid : runner.live()) out.insert(runner.procs[pid].launch.env.at("SHOAL_CONSUMER_NAME"));
    return out;
  }

  std::filesystem::path dir;
  ManualClock clock;
  FakeRunner runner;
  EventLog events{clock};
  std::unique_ptr<FileResourceStore> store;
  api::Pipeline pipeline;
  api::WorkerPool pool;
  std::unique_ptr<ProcessBackend> backend;
};

TEST_F(ProcessBackendTest, StartsWorkersWithConfigPortsEnvAndDistinctConsumerNames) {
  EXPECT_FALSE(backend->observe(pool).value().exists);
  bool changed = false;
  auto obs = ensure(3, "cfg: 1\n", &changed);
  ASSERT_TRUE(obs.ok()) << obs.error().message;
  EXPECT_TRUE(changed);
  EXPECT_TRUE(obs.value().exists);
  EXPECT_EQ(obs.value().specReplicas, 3);
  EXPECT_EQ(obs.value().replicas, 3);
  EXPECT_EQ(obs.value().readyReplicas, 0) << "not probed yet";
  ASSERT_EQ(runner.live().size(), 3u);
  EXPECT_EQ(consumerNames(), (std::set<std::string>{"pool-0", "pool-1", "pool-2"}));
  std::set<int> ports;
  for (pid_t pid : runner.live()) {
    const auto& l = runner.procs[pid].launch;
    EXPECT_EQ(l.binary, "/usr/bin/shoal-worker");
    EXPECT_EQ(l.args.at(0), "--config");
    std::ifstream cfg(l.args.at(1));
    std::string text((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "cfg: 1\n");
    EXPECT_EQ(l.env.at("SHOAL_REDIS_PASSWORD"), "hunter2");
    EXPECT_EQ(l.env.at("EXTRA"), "1");
    EXPECT_EQ(l.env.count("FROM_REF"), 0u);
    ports.insert(runner.procs[pid].port);
  }
  EXPECT_EQ(ports.size(), 3u);

  backend->tick();
  obs = backend->observe(pool);
  EXPECT_EQ(obs.value().readyReplicas, 3);
  changed = true;
  ensure(3, "cfg: 1\n", &changed);
  EXPECT_FALSE(changed) << "converged: nothing to do";
  EXPECT_EQ(runner.live().size(), 3u);
}

// What a Secret volume holds on Kubernetes (TLS CA bundles, client
// certificates) becomes a private file here, and the worker is pointed at it.
TEST_F(ProcessBackendTest, TlsSecretsBecomePrivateFilesTheWorkerIsPointedAt) {
  pipeline.spec.redis.tlsCaSecretRef = {"r", "pw"};
  ASSERT_TRUE(ensure(1).ok());
  ASSERT_EQ(runner.live().size(), 1u);
  const auto& env = runner.procs[*runner.live().begin()].launch.env;
  ASSERT_EQ(env.count("SHOAL_REDIS_TLS_CA_FILE"), 1u);
  const std::string path = env.at("SHOAL_REDIS_TLS_CA_FILE");
  EXPECT_EQ(path.rfind(dir.string(), 0), 0u) << path;
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "hunter2");
  auto perms = std::filesystem::status(path).permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  // ensure() runs every poll; an unchanged Secret is not written again.
  std::filesystem::permissions(path, std::filesystem::perms::owner_read,
                               std::filesystem::perm_options::replace);
  ASSERT_TRUE(ensure(1).ok());
  EXPECT_EQ(std::filesystem::status(path).permissions(), std::filesystem::perms::owner_read)
      << "rewritten although the value did not change";

  pipeline.spec.redis.tlsCaSecretRef = {"r", "missing"};
  auto r = ensure(1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("Secret r has no key missing"), std::string::npos)
      << r.error().message;
}

// A 253-character pool name (the most Kubernetes allows, and local mode
// checks none) must not turn into a file name longer than the file system
// takes (NAME_MAX, 255) for the config, the secrets directory or the logs.
TEST_F(ProcessBackendTest, TheLongestPoolNamesStillGiveFileNamesThatFit) {
  pool.metadata.name = std::string(253, 'p');
  pipeline.spec.redis.tlsCaSecretRef = {"r", "pw"};
  auto obs = ensure(2);
  ASSERT_TRUE(obs.ok()) << obs.error().message;
  ASSERT_EQ(runner.live().size(), 2u);
  EXPECT_EQ(consumerNames(),
            (std::set<std::string>{pool.metadata.name + "-0", pool.metadata.name + "-1"}));
  for (pid_t pid : runner.live()) {
    const auto& l = runner.procs[pid].launch;
    for (const std::string& path : {l.args.at(1), l.logPath, l.env.at("SHOAL_REDIS_TLS_CA_FILE")}) {
      for (const auto& part : std::filesystem::path(path)) {
        EXPECT_LE(part.string().size(), 255u) << path;
      }
    }
    std::ifstream cfg(l.args.at(1));
    EXPECT_TRUE(cfg.is_open()) << l.args.at(1);
  }
  EXPECT_NE(runner.procs[runner.live().at(0)].launch.logPath,
            runner.procs[runner.live().at(1)].launch.logPath);
}

TEST_F(ProcessBackendTest, ScaleInDrainsTheNewestAndKillsOnlyAfterTheGracePeriod) {
  ASSERT_TRUE(ensure(3).ok());
  backend->tick();
  runner.drainsOnTerm = false;  // drains slowly
  auto obs = ensure(1);
  ASSERT_TRUE(obs.ok());
  EXPECT_EQ(obs.value().replicas, 1) << "draining workers are not counted";
  std::vector<pid_t> termed;
  for (auto& [pid, p] : runner.procs) {
    if (!p.signals.empty()) {
      termed.push_back(pid);
      EXPECT_EQ(p.signals, (std::vector<int>{SIGTERM}));
    }
  }
  EXPECT_EQ(termed, (std::vector<pid_t>{1001, 1002})) << "the two newest";
  clock.advance(19s);
  backend->tick();
  EXPECT_EQ(runner.procs[1002].signals.size(), 1u) << "still within the grace period";
  runner.procs[1001].exit = 0;  // one finishes its drain
  clock.advance(1s);
  backend->tick();
  EXPECT_EQ(runner.procs[1001].signals, (std::vector<int>{SIGTERM}));
  EXPECT_EQ(runner.procs[1002].signals, (std::vector<int>{SIGTERM, SIGKILL}));
  backend->tick();
  EXPECT_EQ(backend->pools().at(0).workers.size(), 1u);
  EXPECT_EQ(backend->pools().at(0).restarts, 0) << "a stopped worker is no crash";
  bool killedEvent = false;
  for (const auto& e : events.recent()) killedEvent |= e.reason == "WorkerKilled";
  EXPECT_TRUE(killedEvent);
}

TEST_F(ProcessBackendTest, CrashedWorkersRestartAfterAGrowingBackoffUnderTheSameName) {
  ASSERT_TRUE(ensure(2).ok());
  backend->tick();
  runner.crash(1001);
  backend->tick();
  EXPECT_EQ(runner.live().size(), 1u) << "not restarted before the backoff";
  EXPECT_EQ(backend->pools().at(0).restarts, 1);
  clock.advance(1s);
  backend->tick();
  ASSERT_EQ(runner.live().size(), 2u);
  EXPECT_EQ(runner.procs[1002].launch.env.at("SHOAL_CONSUMER_NAME"), "pool-1")
      << "the replacement takes over the crashed worker's consumer name (and its pending entries)";

  runner.crash(1002);
  backend->tick();
  clock.advance(1s);
  backend->tick();
  EXPECT_EQ(runner.live().size(), 1u) << "second crash in a row: 2 s";
  clock.advance(1s);
  backend->tick();
  EXPECT_EQ(runner.live().size(), 2u);
  bool crashEvent = false;
  for (const auto& e : events.recent()) crashEvent |= e.reason == "WorkerCrashed" && e.type == "Warning";
  EXPECT_TRUE(crashEvent);

  backend->tick();  // the replacement is probed ready
  clock.advance(10s);
  backend->tick();
  EXPECT_EQ(backend->pools().at(0).consecutiveCrashes, 0) << "stable again";
}

TEST_F(ProcessBackendTest, AConfigChangeRollsTheWorkersAfterTheNewOnesAreReady) {
  ASSERT_TRUE(ensure(2, "cfg: 1\n").ok());
  backend->tick();
  for (auto& [pid, p] : runner.procs) p.ready = true;
  runner.drainsOnTerm = true;
  auto obs = ensure(2, "cfg: 2\n");
  ASSERT_TRUE(obs.ok());
  EXPECT_FALSE(obs.value().rolloutComplete);
  EXPECT_EQ(runner.live().size(), 4u) << "new workers start before old ones stop";
  for (pid_t pid : {1002, 1003}) runner.procs[pid].ready = true;
  backend->tick();  // probes readiness, then converges
  backend->tick();  // reaps the drained old workers
  obs = backend->observe(pool);
  EXPECT_TRUE(obs.value().rolloutComplete);
  EXPECT_EQ(obs.value().updatedReplicas, 2);
  EXPECT_EQ(runner.live(), (std::vector<pid_t>{1002, 1003}));
  std::ifstream cfg(runner.procs[1002].launch.args.at(1));
  std::string text((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "cfg: 2\n");
}

TEST_F(ProcessBackendTest, AMissingSecretIsAnErrorNamingIt) {
  ResourceSet set;
  ASSERT_TRUE(parseResourceText(std::string(kResources).replace(std::string(kResources).find("stringData: {pw: hunter2}"),
                                                                 25, "stringData: {}"),
                                "t.yaml", set)
                  .ok());
  FileResourceStore bare(std::move(set), [](const std::string&) { return std::optional<std::string>(); });
  ProcessBackendOptions o;
  o.workDir = dir.string();
  ProcessBackend b(o, runner, bare, nullptr, clock);
  controllers::WorkloadIntent in{&pipeline, &pool, "cfg\n", "abc", 1};
  auto r = b.ensure(in, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("Secret r has no key pw"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("SHOAL_SECRET_R_PW"), std::string::npos);
  EXPECT_TRUE(runner.live().empty());
}

TEST_F(ProcessBackendTest, AFailedStartBacksOffAndIsReported) {
  runner.failSpawn = true;
  auto r = ensure(1);
  ASSERT_FALSE(r.ok());
  runner.failSpawn = false;
  backend->tick();
  EXPECT_TRUE(runner.live().empty()) << "waits for the backoff";
  clock.advance(1s);
  backend->tick();
  EXPECT_EQ(runner.live().size(), 1u);
}

TEST_F(ProcessBackendTest, ShutdownStopsEveryWorkerAndStartsNoMore) {
  ASSERT_TRUE(ensure(3).ok());
  runner.drainsOnTerm = true;
  backend->shutdown();
  EXPECT_TRUE(backend->idle());
  EXPECT_TRUE(runner.live().empty());
  for (auto& [pid, p] : runner.procs) EXPECT_EQ(p.signals, (std::vector<int>{SIGTERM}));
  backend->tick();
  EXPECT_TRUE(runner.live().empty());
}

TEST_F(ProcessBackendTest, ShutdownKillsWorkersThatOutliveTheirGracePeriod) {
  ASSERT_TRUE(ensure(2).ok());
  runner.drainsOnTerm = false;
  const MonoTime start = clock.now();
  backend->shutdown();
  EXPECT_TRUE(backend->idle());
  EXPECT_GE(clock.now() - start, 20s);
  for (auto& [pid, p] : runner.procs) EXPECT_EQ(p.signals, (std::vector<int>{SIGTERM, SIGKILL}));
}

}  // namespace
}  // namespace shoal::local
