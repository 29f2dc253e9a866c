// The controller runtime: primary and secondary watches into one work queue,
// gated and timed reconciles. See controller.h.
#include "shoal/kube/controller.h"

#include <algorithm>

#include "shoal/common/log.h"

namespace shoal::kube {

Controller::Controller(Informer& primary, Clock& clock, Options opts)
    : primary_(primary), clock_(clock), opts_(std::move(opts)), queue_(clock) {
  primary_.addHandler(enqueueHandler(queue_));
}

Controller::~Controller() { stop(); }

Controller& Controller::watches(Informer& secondary, Mapper mapper) {
  secondary.addHandler([this, mapper = std::move(mapper)](const ObjectPtr& o, const ObjectPtr& n) {
    for (const ObjectPtr& obj : {o, n}) {
      if (!obj) continue;
      for (const std::string& key : mapper(*obj)) queue_.add(key);
    }
  });
  return *this;
}

Controller& Controller::owns(Informer& owned, const std::string& ownerKind, const std::string& ownerApiGroup) {
  owned.addHandler(enqueueOwnerHandler(queue_, ownerKind, ownerApiGroup));
  return *this;
}

ReconcileOutcome Controller::reconcileKey(const std::string& key) {
  if (opts_.mayAct && !opts_.mayAct()) {
    // Paused past our lease (or about to learn we lost it): write nothing;
    // the elector steps down within a retry period.
    log::warn("not reconciling: the leader lease was not renewed within the renew deadline",
              {{"controller", opts_.name}, {"key", key}});
    return ReconcileOutcome::after(opts_.gatedRetry);
  }
  auto [ns, name] = splitKey(key);
  const MonoTime start = clock_.now();
  ReconcileOutcome out;
  try {
    out = reconcile_(ns, name);
  } catch (...) {
    out = ReconcileOutcome::failed();  // a reconcile must not kill the worker
  }
  const double secs = toSeconds(clock_.now() - start);
  if (opts_.onReconciled) opts_.onReconciled(opts_.name, key, out.ok, secs);
  return out;
}

void Controller::start(Reconcile reconcile) {
  reconcile_ = std::move(reconcile);
  workers_ = std::make_unique<ReconcileWorkers>(
      queue_, [this](const std::string& key) { return reconcileKey(key); }, std::max(1, opts_.workers));
}

void Controller::stop() {
  if (workers_) workers_->stop();
  queue_.shutdown();
}

}  // namespace shoal::kube
