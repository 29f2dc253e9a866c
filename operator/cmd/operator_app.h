// shoal-operator's wiring: informers and work queues for Pipelines,
// WorkerPools, Receivers and their Deployments (and the Receivers' Services)
// feeding the reconcilers, leader election,
// /metrics, /healthz and /readyz. main.cpp only parses flags and calls run().
#pragma once

#include <string>

namespace shoal::operator_app {

struct Options {
  std::string kubeconfig;
  std::string context;
  std::string ns;  // "" = all namespaces
  std::string metricsBindAddress = ":8080";
  std::string healthProbeBindAddress = ":8081";
  bool leaderElect = false;
  std::string leaderElectionNamespace;  // "" = the kubeconfig's namespace
  std::string leaderElectionId = "shoal-operator";
  std::string logLevel = "info";
  int workers = 4;
};

/// Runs until SIGTERM/SIGINT (0) or lost leadership / fatal error (1);
/// startup configuration errors return 2.
int run(const Options& opts);

/// ":8080" -> {"0.0.0.0", 8080}; "127.0.0.1:0" -> {"127.0.0.1", 0}. Port -1 on error.
std::pair<std::string, int> splitBindAddress(const std::string& addr);

}  // namespace shoal::operator_app
