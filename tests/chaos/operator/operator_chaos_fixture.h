// What every operator fault scenario stands on: one real control plane per
// test binary (etcd, kube-apiserver without the watch cache so a compacted
// resourceVersion really answers 410, controller-manager, scheduler) with
// shoal-node-agent as the kubelet, and per scenario a namespace holding one
// Pipeline and one WorkerPool, its own redis-server, shoal-bulk-server and
// shoal-operator process(es), plus the accounting of the worker fault suite.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../worker/chaos_harness.h"
#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"
#include "tcp_proxy.h"

namespace shoal::chaos {

/// Paths of the binaries the scenarios run; empty when missing. From this
/// build tree or SHOAL_{NODE_AGENT,WORKER,OPERATOR,BULK_SERVER,LOADGEN}_BIN.
struct OperatorBinaries {
  OperatorBinaries();
  std::string agent, worker, operator_, bulk, loadgen;
  /// Names of the missing ones ("" when all are there).
  std::string missing() const;
};

testing::KubeControlPlane::Options chaosControlPlaneOptions();

/// \brief The control plane and the node agent, started once per binary.
struct ChaosCluster {
  explicit ChaosCluster(const OperatorBinaries& b);
  ~ChaosCluster();
  testing::KubeControlPlane cp{chaosControlPlaneOptions()};
  testing::TempDir agentDir;
  testing::Process agent;
  std::string agentLog;
  static constexpr const char* kNode = "shoal-chaos-node";
  bool nodeReady() const;
};

/// The shared cluster (CRDs applied, node Ready), or nullptr with *why set.
ChaosCluster* sharedChaosCluster(const OperatorBinaries& b, std::string* why);

/// \brief One scenario's namespace, Redis, sink, Pipeline, WorkerPool and
/// operators. Not thread-safe.
class PoolUnderTest {
 public:
  struct Options {
    std::string ns;
    bool operatorViaProxy =
        false;  // the Pipeline's address is a TcpProxy; workers get Redis directly
    int minReplicas = 1;
    int maxReplicas = 4;
    double drainSeconds = 5;  // spec.scaling.drainSeconds
  };
  PoolUnderTest(ChaosCluster& c, const OperatorBinaries& b, Options o);
  /// Deletes the WorkerPool and Pipeline (while an operator still runs, for
  /// the finalizers), waits for the pods to go, stops the operators.
  ~PoolUnderTest();

  static constexpr const char* kName = "chaos";
  static constexpr const char* kStream = "logs:chaos";
  static constexpr const char* kGroup = "shoal-chaos";
  static constexpr const char* kIndex = "chaos";

  testing::KubeControlPlane& cp() { return cluster_.cp; }
  const std::string& ns() const { return o_.ns; }
  testing::RedisServer& redis() { return redis_; }
  BulkServer& sink() { return sink_; }
  TcpProxy* proxy() { return proxy_.get(); }

  /// kubectl apply of the Pipeline and WorkerPool.
  void apply();
  /// Starts shoal-operator (watching only this namespace); returns its index.
  size_t startOperator(bool leaderElect);
  testing::Process& operatorProcess(size_t i) { return *operators_[i]; }
  std::string operatorLog(size_t i) const;
  std::string operatorLogs() const;

  /// XADDs n JSON entries, every 1000th malformed (shoal-loadgen).
  void load(int64_t n);
  int64_t sent() const { return sent_; }
  int64_t expectedDeadLetters() const { return badSent_; }
  /// Every request to the sink answered this much later (0 clears): keeps
  /// the backlog alive long enough for a fault to land mid-run.
  bool setSinkDelay(int ms);

  int replicas();       // Deployment spec.replicas (-1 if unreadable)
  int readyReplicas();  // Deployment status.readyReplicas
  int podCount();       // pods of the pool that exist
  /// The pool's status condition of this type (null if absent).
  nlohmann::json condition(const std::string& type);
  /// One string field of that condition ("" if absent).
  std::string conditionField(const std::string& type, const std::string& field);
  nlohmann::json workerPool();
  /// Holder of the leader-election Lease ("" if none/unreadable).
  std::string leaseHolder();

  int64_t delivered();
  int64_t deadLettered();
  int64_t pending();
  /// Every sent entry delivered or dead-lettered and nothing pending.
  bool settled();
  /// The accounting; prints the `chaos:` line.
  Tally tally(const std::string& scenario);
  std::string describe();
  /// What the node agent did to this namespace's pods: processes started,
  /// exited (and how many not with 0), SIGKILLs after the grace period.
  std::string podLifecycle();

 private:
  ChaosCluster& cluster_;
  const OperatorBinaries& b_;
  Options o_;
  testing::TempDir dir_;
  testing::RedisServer redis_;
  BulkServer sink_{64};  // room for every worker's keep-alive connection plus control calls
  std::unique_ptr<TcpProxy> proxy_;
  std::vector<std::unique_ptr<testing::Process>> operators_;
  int64_t sent_ = 0;
  int64_t badSent_ = 0;
};

/// Last JSON log line containing `needle` (parsed; null if none).
nlohmann::json lastLogRecord(const std::string& log, const std::string& needle);

}  // namespace shoal::chaos
