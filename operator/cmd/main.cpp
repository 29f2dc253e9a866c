// shoal-operator: flags in the usual controller style, then run().
#include <CLI/CLI.hpp>

#include "operator_app.h"

int main(int argc, char** argv) {
  shoal::operator_app::Options o;
  CLI::App app{"shoal-operator: runs Shoal Pipelines, WorkerPools and Receivers on Kubernetes"};
  app.add_option("--kubeconfig", o.kubeconfig,
                 "Path to a kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)");
  app.add_option("--context", o.context, "kubeconfig context (default: current-context)");
  app.add_option("--namespace", o.ns, "Only watch this namespace (default: all)");
  app.add_option("--metrics-bind-address", o.metricsBindAddress,
                 "Address of the Prometheus /metrics endpoint")
      ->capture_default_str();
  app.add_option("--health-probe-bind-address", o.healthProbeBindAddress,
                 "Address of /healthz and /readyz")
      ->capture_default_str();
  app.add_flag("--leader-elect", o.leaderElect,
               "Elect a leader with a Lease so only one replica reconciles");
  app.add_option("--leader-election-namespace", o.leaderElectionNamespace,
                 "Namespace of the leader-election Lease (default: the kubeconfig's)");
  app.add_option("--leader-election-id", o.leaderElectionId, "Name of the Lease")
      ->capture_default_str();
  app.add_option("--log-level", o.logLevel, "debug, info, warn or error")->capture_default_str();
  app.add_option("--workers", o.workers, "Concurrent reconciles per controller")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  return shoal::operator_app::run(o);
}
