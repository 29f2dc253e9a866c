// shoal-operator's wiring. See operator_app.h.
#include "operator_app.h"

#include <httplib.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "operator_metrics.h"
#include "shoal/common/clock.h"
#include "shoal/common/log.h"
#include "shoal/controllers/kube_backends.h"
#include "shoal/controllers/pipeline_controller.h"
#include "shoal/controllers/worker_pool_controller.h"
#include "shoal/kube/client.h"
#include "shoal/kube/event_recorder.h"
#include "shoal/kube/informer.h"
#include "shoal/kube/leader_election.h"
#include "shoal/kube/work_queue.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::operator_app {

using nlohmann::json;

std::pair<std::string, int> splitBindAddress(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return {"", -1};
  std::string host = addr.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  try {
    size_t used = 0;
    int port = std::stoi(addr.substr(colon + 1), &used);
    if (used != addr.size() - colon - 1 || port < 0 || port > 65535) return {"", -1};
    return {host, port};
  } catch (...) {
    return {"", -1};
  }
}

namespace {

kube::ReconcileOutcome outcomeOf(const controllers::ReconcileResult& r) {
  if (!r.ok()) return kube::ReconcileOutcome::failed();
  if (r.value().requeueAfter) return kube::ReconcileOutcome::after(*r.value().requeueAfter);
  return kube::ReconcileOutcome::done();
}

/// Informers, queues and reconcilers of both controllers. Started when this
/// process leads (or at once without leader election).
class ControllerSet {
 public:
  /// mayAct is asked before every reconcile: with leader election, whether
  /// the lease was renewed within the renew deadline (LeaderElector::leadingNow).
  ControllerSet(kube::Client& client, Clock& clock, const Options& opts, OperatorMetrics& metrics,
                std::function<bool()> mayAct)
      : mayAct_(std::move(mayAct)),
        client_(client),
        clock_(clock),
        opts_(opts),
        metrics_(metrics),
        pools_(client, clock, watcherOptions(controllers::workerPoolsResource())),
        pipelines_(client, clock, watcherOptions(controllers::pipelinesResource())),
        deployments_(client, clock,
                     watcherOptions(kube::Resource::deployments(),
                                    "app.kubernetes.io/managed-by=shoal-operator")),
        configMaps_(client, clock,
                    watcherOptions(kube::Resource::configMaps(),
                                   "app.kubernetes.io/managed-by=shoal-operator")),
        poolQueue_(clock),
        pipelineQueue_(clock),
        store_(client, clock, &pools_, &pipelines_),
        backend_(client, &deployments_, &configMaps_),
        recorder_(client, clock, "shoal-operator", hostName()),
        events_(recorder_),
        probe_(probe::makeRedisStreamInspector(clock), clock, &metrics),
        poolReconciler_(store_, backend_, events_, probe_, clock, &metrics),
        pipelineReconciler_(store_, events_, probe_, clock) {}

  ~ControllerSet() { stop(); }

  bool start() {
    pools_.addHandler([this](const kube::ObjectPtr& o, const kube::ObjectPtr& n) {
      for (const auto& obj : {o, n}) {
        if (!obj) continue;
        poolQueue_.add(kube::keyOf(*obj));
        std::string ref = api::stringAt(api::objectAt(api::objectAt(*obj, "spec"), "pipelineRef"),
                                        "name");
        if (!ref.empty()) pipelineQueue_.add(kube::makeKey(kube::namespaceOf(*obj), ref));
      }
    });
    pipelines_.addHandler([this](const kube::ObjectPtr& o, const kube::ObjectPtr& n) {
      const kube::ObjectPtr& obj = n ? n : o;
      if (!obj) return;
      pipelineQueue_.add(kube::keyOf(*obj));
      const std::string ns = kube::namespaceOf(*obj);
      const std::string name = kube::nameOf(*obj);
      for (const auto& p : pools_.listNamespace(ns)) {
        if (api::stringAt(api::objectAt(api::objectAt(*p, "spec"), "pipelineRef"), "name") ==
            name) {
          poolQueue_.add(kube::keyOf(*p));
        }
      }
    });
    deployments_.addHandler(kube::enqueueOwnerHandler(poolQueue_, api::kWorkerPoolKind,
                                                      api::kGroup));
    pools_.start();
    pipelines_.start();
    deployments_.start();
    configMaps_.start();
    for (auto* inf : {&pools_, &pipelines_, &deployments_, &configMaps_}) {
      if (!inf->waitForSync(std::chrono::seconds(60))) {
        log::error("informer did not sync within 60 s");
        return false;
      }
    }
    poolWorkers_ = std::make_unique<kube::ReconcileWorkers>(
        poolQueue_,
        [this](const std::string& key) {
          return timed("workerpool", key, [&](const std::string& ns, const std::string& name) {
            return poolReconciler_.reconcile(ns, name);
          });
        },
        opts_.workers);
    pipelineWorkers_ = std::make_unique<kube::ReconcileWorkers>(
        pipelineQueue_,
        [this](const std::string& key) {
          return timed("pipeline", key, [&](const std::string& ns, const std::string& name) {
            return pipelineReconciler_.reconcile(ns, name);
          });
        },
        std::max(1, opts_.workers / 2));
    synced_ = true;
    log::info("controllers started", {{"namespace", opts_.ns.empty() ? "*" : opts_.ns}});
    return true;
  }

  void stop() {
    if (poolWorkers_) poolWorkers_->stop();
    if (pipelineWorkers_) pipelineWorkers_->stop();
    poolQueue_.shutdown();
    pipelineQueue_.shutdown();
    pools_.stop();
    pipelines_.stop();
    deployments_.stop();
    configMaps_.stop();
  }

  bool synced() const { return synced_.load(); }

 private:
  kube::WatcherOptions watcherOptions(const kube::Resource& r, const std::string& selector = "") {
    kube::WatcherOptions o;
    o.resource = r;
    o.ns = opts_.ns;
    o.labelSelector = selector;
    return o;
  }

  static std::string hostName() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0) return "shoal-operator";
    return buf;
  }

  template <typename F>
  kube::ReconcileOutcome timed(const char* controller, const std::string& key, F&& fn) {
    if (mayAct_ && !mayAct_()) {
      // Paused past our lease (or about to learn we lost it): write nothing;
      // the elector steps down within a retry period and the process exits.
      log::warn("not reconciling: the leader lease was not renewed within the renew deadline",
                {{"controller", controller}, {"key", key}});
      return kube::ReconcileOutcome::after(std::chrono::seconds(1));
    }
    auto [ns, name] = kube::splitKey(key);
    MonoTime start = SystemClock::instance().now();
    controllers::ReconcileResult r = fn(ns, name);
    double secs = toSeconds(SystemClock::instance().now() - start);
    metrics_.reconciled(controller, r.ok(), secs);
    if (!r.ok()) {
      log::warn("reconcile failed", {{"controller", controller},
                                     {"key", key},
                                     {"error", r.error().message}});
    } else {
      log::debug("reconciled", {{"controller", controller}, {"key", key}, {"seconds", secs}});
    }
    return outcomeOf(r);
  }

  std::function<bool()> mayAct_;
  kube::Client& client_;
  Clock& clock_;
  Options opts_;
  OperatorMetrics& metrics_;
  kube::Informer pools_, pipelines_, deployments_, configMaps_;
  kube::WorkQueue poolQueue_, pipelineQueue_;
  controllers::KubeResourceStore store_;
  controllers::DeploymentBackend backend_;
  kube::EventRecorder recorder_;
  controllers::KubeEventSink events_;
  probe::BacklogProbe probe_;
  controllers::WorkerPoolReconciler poolReconciler_;
  controllers::PipelineReconciler pipelineReconciler_;
  std::unique_ptr<kube::ReconcileWorkers> poolWorkers_, pipelineWorkers_;
  std::atomic<bool> synced_{false};
};

std::string randomSuffix() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

}  // namespace

int run(const Options& opts) {
  log::setLevel(log::parseLevel(opts.logLevel));
  // Signals are taken by a dedicated thread (sigwait), never in a handler.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto cfg = kube::loadDefaultConfig(opts.kubeconfig, opts.context);
  if (!cfg.ok()) {
    log::error("cannot load Kubernetes client configuration", {{"error", cfg.error().message}});
    return 2;
  }
  auto client = kube::makeHttpClient(cfg.value());
  if (!client.ok()) {
    log::error("cannot create Kubernetes client", {{"error", client.error().message}});
    return 2;
  }
  auto [metricsHost, metricsPort] = splitBindAddress(opts.metricsBindAddress);
  auto [healthHost, healthPort] = splitBindAddress(opts.healthProbeBindAddress);
  if (metricsPort < 0 || healthPort < 0) {
    log::error("bad bind address", {{"metrics", opts.metricsBindAddress},
                                    {"health", opts.healthProbeBindAddress}});
    return 2;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(metricsHost + ":" + std::to_string(metricsPort));
    exposer->RegisterCollectable(registry);
  } catch (const std::exception& e) {
    log::error("cannot serve /metrics", {{"address", opts.metricsBindAddress}, {"error", e.what()}});
    return 2;
  }
  OperatorMetrics metrics(*registry);
  metrics.setLeader(!opts.leaderElect);
  Clock& clock = SystemClock::instance();
  kube::Client& api = *client.value();

  std::atomic<bool> leading{!opts.leaderElect};
  std::atomic<bool> lostLeadership{false};
  std::unique_ptr<ControllerSet> controllers;
  std::mutex controllersMu;

  httplib::Server health;
  health.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  health.Get("/readyz", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(controllersMu);
    if (!leading.load()) {
      res.set_content("ok (standby: not the leader)\n", "text/plain");
    } else if (controllers && controllers->synced()) {
      res.set_content("ok\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content("informers not synced\n", "text/plain");
    }
  });
  if (healthPort == 0) {
    healthPort = health.bind_to_any_port(healthHost);
  } else if (!health.bind_to_port(healthHost, healthPort)) {
    healthPort = -1;
  }
  if (healthPort < 0) {
    log::error("cannot serve health probes", {{"address", opts.healthProbeBindAddress}});
    return 2;
  }
  std::thread healthThread([&] { health.listen_after_bind(); });
  log::info("shoal-operator starting",
            {{"server", cfg.value().server},
             {"namespace", opts.ns.empty() ? "*" : opts.ns},
             {"metricsPort", exposer->GetListeningPorts().empty()
                                 ? 0
                                 : exposer->GetListeningPorts().front()},
             {"healthPort", healthPort},
             {"leaderElect", opts.leaderElect}});

  std::stop_source stop;
  std::thread signalThread([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (sig != 0) log::info("signal received, shutting down", {{"signal", sig}});
    stop.request_stop();
  });

  // Without leader election this process always acts; with it, only while
  // its lease is fresh (set below, once the elector exists).
  std::function<bool()> mayAct = [] { return true; };
  auto startControllers = [&]() -> bool {
    auto set = std::make_unique<ControllerSet>(api, clock, opts, metrics, mayAct);
    {
      std::lock_guard lock(controllersMu);
      controllers = std::move(set);
    }
    return controllers->start();
  };

  int exitCode = 0;
  if (opts.leaderElect) {
    kube::LeaderElectionConfig le;
    le.ns = opts.leaderElectionNamespace.empty() ? cfg.value().namespace_
                                                 : opts.leaderElectionNamespace;
    if (le.ns.empty()) le.ns = "default";
    le.name = opts.leaderElectionId;
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    le.identity = std::string(host) + "_" + randomSuffix();
    kube::LeaderCallbacks cb;
    std::thread starter;
    cb.onStartedLeading = [&] {
      log::info("became the leader", {{"identity", le.identity}, {"lease", le.ns + "/" + le.name}});
      leading = true;
      metrics.setLeader(true);
      starter = std::thread([&] {
        if (!startControllers()) {
          exitCode = 1;
          stop.request_stop();
        }
      });
    };
    cb.onStoppedLeading = [&] {
      metrics.setLeader(false);
      if (!stop.stop_requested()) {
        log::error("lost leadership; exiting so a fresh process can campaign again",
                   {{"identity", le.identity}});
        lostLeadership = true;
        exitCode = 1;
        stop.request_stop();
      }
    };
    cb.onNewLeader = [&](const std::string& id) {
      if (id != le.identity) log::info("leader observed", {{"leader", id}});
    };
    kube::LeaderElector elector(api, clock, le, cb);
    mayAct = [&elector] { return elector.leadingNow(); };
    log::info("campaigning for leadership", {{"identity", le.identity},
                                             {"lease", le.ns + "/" + le.name}});
    // run() returns when stop fires (releasing the lease) or leadership is lost.
    std::thread electorThread([&] { elector.run(stop.get_token()); });
    while (!stop.stop_requested()) clock.sleepFor(std::chrono::milliseconds(100));
    if (starter.joinable()) starter.join();
    {
      std::lock_guard lock(controllersMu);
      if (controllers) controllers->stop();
    }
    electorThread.join();
  } else {
    if (!startControllers()) {
      exitCode = 1;
      stop.request_stop();
    }
    while (!stop.stop_requested()) clock.sleepFor(std::chrono::milliseconds(100));
    std::lock_guard lock(controllersMu);
    if (controllers) controllers->stop();
  }

  health.stop();
  healthThread.join();
  // Wake the signal thread if we stop for another reason.
  if (signalThread.joinable()) {
    pthread_kill(signalThread.native_handle(), SIGTERM);
    signalThread.join();
  }
  {
    std::lock_guard lock(controllersMu);
    controllers.reset();
  }
  log::info("shoal-operator stopped", {{"exitCode", exitCode}});
  return exitCode;
}

}  // namespace shoal::operator_app
