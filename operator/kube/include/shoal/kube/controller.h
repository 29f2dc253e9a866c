// Controller: the controller runtime in the shape of kube-rs's Controller.
// One primary resource (its Informer), a WorkQueue of its keys and reconcile
// workers; secondary resources are mapped to the primary keys they affect
// (`watches` with a mapper, `owns` by controller owner reference). The
// primary's own changes enqueue its key. Before each reconcile a gate
// (mayAct: "do we still lead?") is asked; a closed gate writes nothing and
// revisits the key later. Every reconcile is timed on the injected Clock and
// reported to the onReconciled hook (metrics, logs).
//
// Informers are shared between controllers and started by the caller; a
// Controller only registers handlers on them, so create every Controller (and
// call watches/owns) before starting the informers, then start() it once they
// have synced.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/kube/informer.h"
#include "shoal/kube/work_queue.h"

namespace shoal::kube {

class Controller {
 public:
  /// Reconciles the object ns/name; the outcome drives the queue.
  using Reconcile = std::function<ReconcileOutcome(const std::string& ns, const std::string& name)>;
  /// The primary keys ("ns/name") a changed secondary object affects.
  using Mapper = std::function<std::vector<std::string>(const Json& obj)>;
  /// Told after every reconcile that ran: the controller's name, the key,
  /// whether it succeeded and how long it took on the Clock.
  using ReconciledHook =
      std::function<void(const std::string& controller, const std::string& key, bool ok, double seconds)>;

  struct Options {
    std::string name;                  // "workerpool": for logs and the hook
    int workers = 2;                   // reconcile threads
    std::function<bool()> mayAct;      // empty: always
    Duration gatedRetry = seconds(1);  // revisit a key the gate held back after this
    ReconciledHook onReconciled;       // may be empty
  };

  /// Registers the primary handler on `primary` (enqueue the changed object's key).
  Controller(Informer& primary, Clock& clock, Options opts);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  /// Revisit mapper(obj) for the old and the new version of every changed
  /// object of `secondary`.
  Controller& watches(Informer& secondary, Mapper mapper);
  /// Revisit the controller owner (kind, API group) of every changed object of `owned`.
  Controller& owns(Informer& owned, const std::string& ownerKind, const std::string& ownerApiGroup);

  /// Starts the reconcile workers. Call once, after the informers synced.
  void start(Reconcile reconcile);
  /// Shuts the queue down and joins the workers. Idempotent.
  void stop();

  /// The queue (for tests and for other controllers' mappings).
  WorkQueue& queue() { return queue_; }
  const Informer& primary() const { return primary_; }

  /// One pass of what a worker does with `key` (gate, reconcile, timing,
  /// outcome); public so that tests can drive it without threads.
  ReconcileOutcome reconcileKey(const std::string& key);

 private:
  Informer& primary_;
  Clock& clock_;
  Options opts_;
  WorkQueue queue_;
  Reconcile reconcile_;
  std::unique_ptr<ReconcileWorkers> workers_;
};

}  // namespace shoal::kube
