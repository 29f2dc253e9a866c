// The operator's Prometheus metrics. See operator_metrics.h.
#include "operator_metrics.h"

namespace shoal::operator_app {

OperatorMetrics::OperatorMetrics(prometheus::Registry& reg)
    : reconciles_(prometheus::BuildCounter()
                      .Name("shoal_operator_reconciles_total")
                      .Help("Reconciles by controller and result")
                      .Register(reg)),
      durations_(prometheus::BuildHistogram()
                     .Name("shoal_operator_reconcile_duration_seconds")
                     .Help("Reconcile duration by controller")
                     .Register(reg)),
      backlog_(
          prometheus::BuildGauge()
              .Name("shoal_workerpool_backlog")
              .Help("Backlog (lag + pending) of the pool's consumer group; absent when unknown")
              .Register(reg)),
      desired_(prometheus::BuildGauge()
                   .Name("shoal_workerpool_desired_replicas")
                   .Help("Replicas the scaler wants")
                   .Register(reg)),
      replicas_(prometheus::BuildGauge()
                    .Name("shoal_workerpool_replicas")
                    .Help("Worker replicas running")
                    .Register(reg)),
      ready_(prometheus::BuildGauge()
                 .Name("shoal_workerpool_ready_replicas")
                 .Help("Worker replicas ready")
                 .Register(reg)),
      probeErrors_(prometheus::BuildCounter()
                       .Name("shoal_operator_backlog_probe_errors_total")
                       .Help("Backlog reads (Redis round trips) that failed, by the reason the "
                             "conditions give")
                       .Register(reg)),
      leader_(prometheus::BuildGauge()
                  .Name("shoal_operator_leader")
                  .Help("1 while this process is the leader and runs the controllers (always "
                        "without --leader-elect), 0 while it is a standby")
                  .Register(reg)
                  .Add({})) {
  // Every reason exists from the start at 0, so rate() and alerts see the
  // first failure as an increase rather than as a new series.
  for (auto f : {probe::ReadFailure::kUnreachable, probe::ReadFailure::kStreamNotFound,
                 probe::ReadFailure::kGroupNotFound, probe::ReadFailure::kAuth,
                 probe::ReadFailure::kProtocol}) {
    probeErrors_.Add({{"reason", probe::failureReason(f)}});
  }
}

void OperatorMetrics::reconciled(const std::string& controller, bool ok, double seconds) {
  reconciles_.Add({{"controller", controller}, {"result", ok ? "success" : "error"}}).Increment();
  durations_
      .Add({{"controller", controller}},
           prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25, 0.5, 1, 2.5, 5})
      .Observe(seconds);
}

void OperatorMetrics::setLeader(bool leading) {
  leader_.Set(leading ? 1 : 0);
}

void OperatorMetrics::observePool(const api::WorkerPool& pool, const api::WorkerPoolStatus& st) {
  prometheus::Labels l{{"namespace", pool.metadata.namespace_}, {"pool", pool.metadata.name}};
  std::lock_guard lock(mu_);
  if (st.backlog.total) {
    backlog_.Add(l).Set(static_cast<double>(*st.backlog.total));
  } else if (backlog_.Has(l)) {
    backlog_.Remove(&backlog_.Add(l));
  }
  desired_.Add(l).Set(st.desiredReplicas);
  replicas_.Add(l).Set(st.replicas);
  ready_.Add(l).Set(st.readyReplicas);
}

void OperatorMetrics::forgetPool(const std::string& ns, const std::string& name) {
  prometheus::Labels l{{"namespace", ns}, {"pool", name}};
  std::lock_guard lock(mu_);
  for (auto* fam : {&backlog_, &desired_, &replicas_, &ready_}) {
    if (fam->Has(l)) fam->Remove(&fam->Add(l));
  }
}

void OperatorMetrics::readFailed(probe::ReadFailure failure) {
  probeErrors_.Add({{"reason", probe::failureReason(failure)}}).Increment();
}

}  // namespace shoal::operator_app
