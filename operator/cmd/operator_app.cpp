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
#include "shoal/common/signals.h"
#include "shoal/controllers/kube_backends.h"
#include "shoal/controllers/kube_receiver_backends.h"
#include "shoal/controllers/pipeline_controller.h"
#include "shoal/controllers/worker_pool_controller.h"
#include "shoal/kube/client.h"
#include "shoal/kube/controller.h"
#include "shoal/kube/event_recorder.h"
#include "shoal/kube/informer.h"
#include "shoal/kube/leader_election.h"
#include "shoal/kube/work_queue.h"
#include "shoal/probe/backlog_probe.h"
#include "shoal/probe/redis_ping.h"

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

/// Whether Receivers can be served: their CRD is installed and this process
/// may list them. An operator started before the CRD was applied runs
/// without the Receiver controller (restart it after installing the CRD).
bool receiversServed(kube::Client& client, const std::string& ns) {
  kube::ListOptions o;
  o.limit = 1;
  auto r = client.list(controllers::receiversResource(), ns, o);
  if (r.ok()) return true;
  log::warn("Receivers are not reconciled: cannot list them (is crds/shoal.dev_receivers.yaml applied?)",
            {{"error", r.error().toError().message}});
  return false;
}

/// The Receiver controller's parts: an informer of Receivers and one of the
/// Services it renders, the seams, the reconciler (measuring Throttling with
/// the operator's BacklogProbe) and its Controller.
struct ReceiverParts {
  ReceiverParts(kube::Client& client, Clock& clock, kube::WatcherOptions receivers, kube::WatcherOptions services,
                controllers::KubeResourceStore& secrets, kube::Informer& deployments, kube::Informer& configMaps,
                controllers::EventSink& events, probe::BacklogProbe& probe, kube::Controller::Options options)
      : receiverInformer(client, clock, std::move(receivers)),
        serviceInformer(client, clock, std::move(services)),
        store(client, secrets, &receiverInformer),
        backend(client, &deployments, &configMaps, &serviceInformer),
        pinger(probe::makeRedisPinger(clock)),
        reconciler(store, backend, events, *pinger, clock, &probe),
        controller(receiverInformer, clock, std::move(options)) {
    controller.owns(deployments, api::kReceiverKind, api::kGroup);
    controller.owns(serviceInformer, api::kReceiverKind, api::kGroup);
  }
  kube::Informer receiverInformer, serviceInformer;
  controllers::KubeReceiverStore store;
  controllers::ReceiverDeploymentBackend backend;
  std::unique_ptr<probe::RedisPinger> pinger;
  controllers::ReceiverReconciler reconciler;
  kube::Controller controller;
};

/// Informers, controllers and reconcilers of WorkerPools, Pipelines and
/// (when their CRD is served) Receivers.
/// Started when this process leads (or at once without leader election).
class ControllerSet {
 public:
  /// mayAct is asked before every reconcile: with leader election, whether
  /// the lease was renewed within the renew deadline (LeaderElector::leadingNow).
  ControllerSet(kube::Client& client, Clock& clock, const Options& opts, OperatorMetrics& metrics,
                std::function<bool()> mayAct)
      : opts_(opts),
        pools_(client, clock, watcherOptions(controllers::workerPoolsResource())),
        pipelines_(client, clock, watcherOptions(controllers::pipelinesResource())),
        deployments_(client, clock,
                     watcherOptions(kube::Resource::deployments(),
                                    "app.kubernetes.io/managed-by=shoal-operator")),
        configMaps_(client, clock,
                    watcherOptions(kube::Resource::configMaps(),
                                   "app.kubernetes.io/managed-by=shoal-operator")),
        store_(client, clock, &pools_, &pipelines_),
        backend_(client, &deployments_, &configMaps_),
        recorder_(client, clock, "shoal-operator", hostName()),
        events_(recorder_),
        probe_(probe::makeRedisStreamInspector(clock), clock, &metrics),
        poolReconciler_(store_, backend_, events_, probe_, clock, &metrics),
        pipelineReconciler_(store_, events_, probe_, clock, std::chrono::seconds(5), &metrics),
        poolController_(pools_, clock, controllerOptions("workerpool", opts.workers, mayAct, metrics)),
        pipelineController_(pipelines_, clock,
                            controllerOptions("pipeline", std::max(1, opts.workers / 2), mayAct, metrics)) {
    // A pool's Pipeline is revisited when the pool changes (its status shows
    // the pools using it); a Pipeline's pools when the Pipeline changes.
    pipelineController_.watches(pools_, [](const kube::Json& pool) -> std::vector<std::string> {
      const std::string ref = pipelineRefOf(pool);
      if (ref.empty()) return {};
      return {kube::makeKey(kube::namespaceOf(pool), ref)};
    });
    poolController_.watches(pipelines_, [this](const kube::Json& pipeline) {
      std::vector<std::string> keys;
      for (const auto& p : pools_.listNamespace(kube::namespaceOf(pipeline)))
        if (pipelineRefOf(*p) == kube::nameOf(pipeline)) keys.push_back(kube::keyOf(*p));
      return keys;
    });
    poolController_.owns(deployments_, api::kWorkerPoolKind, api::kGroup);
    if (receiversServed(client, opts.ns)) {
      receivers_ = std::make_unique<ReceiverParts>(
          client, clock, watcherOptions(controllers::receiversResource()),
          watcherOptions(controllers::servicesResource(), "app.kubernetes.io/managed-by=shoal-operator"), store_,
          deployments_, configMaps_, events_, probe_,
          controllerOptions("receiver", std::max(1, opts.workers / 2), mayAct, metrics));
    }
  }

  ~ControllerSet() { stop(); }

  bool start() {
    pools_.start();
    pipelines_.start();
    deployments_.start();
    configMaps_.start();
    std::vector<kube::Informer*> informers = {&pools_, &pipelines_, &deployments_, &configMaps_};
    if (receivers_) {
      receivers_->receiverInformer.start();
      receivers_->serviceInformer.start();
      informers.push_back(&receivers_->receiverInformer);
      informers.push_back(&receivers_->serviceInformer);
    }
    for (auto* inf : informers) {
      if (!inf->waitForSync(std::chrono::seconds(60))) {
        log::error("informer did not sync within 60 s");
        return false;
      }
    }
    poolController_.start([this](const std::string& ns, const std::string& name) {
      return outcomeLogged("workerpool", ns, name, poolReconciler_.reconcile(ns, name));
    });
    pipelineController_.start([this](const std::string& ns, const std::string& name) {
      return outcomeLogged("pipeline", ns, name, pipelineReconciler_.reconcile(ns, name));
    });
    if (receivers_) {
      receivers_->controller.start([this](const std::string& ns, const std::string& name) {
        return outcomeLogged("receiver", ns, name, receivers_->reconciler.reconcile(ns, name));
      });
    }
    synced_ = true;
    log::info("controllers started", {{"namespace", opts_.ns.empty() ? "*" : opts_.ns}});
    return true;
  }

  void stop() {
    poolController_.stop();
    pipelineController_.stop();
    if (receivers_) {
      receivers_->controller.stop();
      receivers_->receiverInformer.stop();
      receivers_->serviceInformer.stop();
    }
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

  static kube::Controller::Options controllerOptions(const char* name, int workers,
                                                     std::function<bool()> mayAct,
                                                     OperatorMetrics& metrics) {
    kube::Controller::Options o;
    o.name = name;
    o.workers = workers;
    o.mayAct = std::move(mayAct);
    o.onReconciled = [&metrics](const std::string& controller, const std::string& key, bool ok,
                                double secs) {
      metrics.reconciled(controller, ok, secs);
      log::debug("reconciled", {{"controller", controller}, {"key", key}, {"ok", ok}, {"seconds", secs}});
    };
    return o;
  }

  static std::string pipelineRefOf(const kube::Json& pool) {
    return api::stringAt(api::objectAt(api::objectAt(pool, "spec"), "pipelineRef"), "name");
  }

  static std::string hostName() {
    char buf[256] = {0};
    if (gethostname(buf, sizeof buf - 1) != 0) return "shoal-operator";
    return buf;
  }

  static kube::ReconcileOutcome outcomeLogged(const char* controller, const std::string& ns,
                                              const std::string& name,
                                              const controllers::ReconcileResult& r) {
    if (!r.ok())
      log::warn("reconcile failed",
                {{"controller", controller}, {"key", kube::makeKey(ns, name)}, {"error", r.error().message}});
    return outcomeOf(r);
  }

  Options opts_;
  kube::Informer pools_, pipelines_, deployments_, configMaps_;
  controllers::KubeResourceStore store_;
  controllers::DeploymentBackend backend_;
  kube::EventRecorder recorder_;
  controllers::KubeEventSink events_;
  probe::BacklogProbe probe_;
  controllers::WorkerPoolReconciler poolReconciler_;
  controllers::PipelineReconciler pipelineReconciler_;
  kube::Controller poolController_, pipelineController_;
  std::unique_ptr<ReceiverParts> receivers_;  // null when Receivers are not served
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
  sigset_t sigs = blockShutdownSignals();

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
