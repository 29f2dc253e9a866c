// Real servers for integration tests, each started as a plain child process on
// a free loopback port and stopped when its handle goes out of scope.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shoal/testing/process.h"

namespace shoal::testing {

/// redis-server (Debian's 7.0), optionally with TLS, a password or AOF.
class RedisServer {
 public:
  struct Options {
    bool tls = false;          // generates a self-signed CA and server cert
    std::string password;      // requirepass (user "default")
    bool appendOnly = false;   // AOF on, for restart tests
    bool requireClientCert = false;  // with tls: clients must present a cert signed by the CA
  };
  RedisServer() : RedisServer(Options{}) {}
  explicit RedisServer(Options o);
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  /// redis:// or rediss:// URL usable by shoal-worker.
  std::string url() const;
  const std::string& caFile() const { return caFile_; }
  /// A client certificate and key signed by the CA (tls only).
  std::string clientCertFile() const { return dir_.path() + "/client.crt"; }
  std::string clientKeyFile() const { return dir_.path() + "/client.key"; }
  const std::string& dir() const { return dir_.path(); }
  /// Runs redis-cli with args against this server, returns its stdout.
  std::string cli(const std::string& args) const;
  /// Stops and starts the server again on the same port and data dir.
  void restart();
  void stop();
  Process& process() { return proc_; }

 private:
  void start();
  Options opts_;
  TempDir dir_;
  int port_ = 0;
  std::string caFile_;
  Process proc_;
};

/// A real Redis Cluster (Debian's redis-server 7.0 with --cluster-enabled):
/// `primaries` primaries with `replicasPerPrimary` replicas each, created by
/// `redis-cli --cluster create`; the constructor returns once every node says
/// cluster_state:ok. Ports are free loopback ports whose bus port (+10000) is
/// free too.
class RedisCluster {
 public:
  struct Options {
    int primaries = 3;
    int replicasPerPrimary = 1;
    int nodeTimeoutMs = 1000;  // failure detection (and so failover) takes about this long
  };
  /// One line of CLUSTER NODES.
  struct NodeInfo {
    std::string id;
    int port = 0;
    bool primary = false;
    bool failed = false;
    std::string primaryId;           // of a replica
    std::vector<std::string> slots;  // "0-5460", "[1-<-id]" while migrating
  };
  RedisCluster() : RedisCluster(Options{}) {}
  explicit RedisCluster(Options o);
  ~RedisCluster();
  std::vector<int> ports() const;
  /// "127.0.0.1:p1,127.0.0.1:p2,..." (every node).
  std::string seeds() const;
  /// redis-cli against one node (no -c: redirects are returned, not followed).
  std::string cli(int port, const std::string& args) const;
  /// CLUSTER NODES as seen by the node on askPort.
  std::vector<NodeInfo> nodes(int askPort) const;
  /// Primaries serving slots, as a running node sees them.
  std::vector<int> primaryPorts() const;
  /// The port of the primary serving key's slot now (-1 if none).
  int primaryFor(const std::string& key) const;
  /// A healthy replica of the primary on primaryPort (-1 if none).
  int replicaOf(int primaryPort) const;
  /// CLUSTER MYID of the node on port.
  std::string idOf(int port) const;
  /// SIGKILL of one node (it stays down).
  void kill(int port);
  /// Whether every running node reports cluster_state:ok within the deadline.
  bool waitHealthy(std::chrono::milliseconds deadline);

 private:
  struct Node {
    int port = 0;
    std::string dir;
    Process proc;
    bool down = false;
  };
  void startNode(Node& n);
  int firstRunningPort() const;
  Options opts_;
  TempDir dir_;
  std::vector<Node> nodes_;
};

/// Prometheus 2.42 with the remote-write receiver on.
class PrometheusServer {
 public:
  struct Options {
    std::string scrapeInterval = "15s";  // global scrape_interval (and evaluation_interval)
    std::string scrapeConfigs;           // YAML list items under scrape_configs; empty: none
    std::vector<std::string> ruleFiles;  // paths for rule_files
    std::string remoteWrite;             // YAML list items under remote_write; empty: none
  };
  PrometheusServer() : PrometheusServer(Options{}) {}
  explicit PrometheusServer(Options o);
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void stop();
  void start();

 private:
  TempDir dir_;
  int port_ = 0;
  Process proc_;
};

/// prometheus-pushgateway 1.5.
class PushgatewayServer {
 public:
  PushgatewayServer();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  Process proc_;
};

/// PostgreSQL 15, initdb'd into a temp dir, run as user postgres, trust auth.
class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  int port() const { return port_; }
  /// libpq connection string to database "postgres" as user "postgres".
  std::string conninfo() const;
  /// Runs psql -At -c sql and returns its stdout.
  std::string psql(const std::string& sql) const;

 private:
  TempDir dir_;
  int port_ = 0;
};

/// etcd 3.4 for the Kubernetes API server.
class EtcdServer {
 public:
  EtcdServer();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir dir_;
  int port_ = 0;
  int peerPort_ = 0;
  Process proc_;
};

/// Runs a shell command, returns stdout; throws on failure if check.
std::string runCommand(const std::string& cmd, bool check = true, int* exitCode = nullptr);

/// Simple blocking HTTP GET on 127.0.0.1; returns the body, empty on error.
std::string httpGet(int port, const std::string& path, int* status = nullptr);
/// Any method with an optional JSON body, on 127.0.0.1.
std::string httpRequest(int port, const std::string& method, const std::string& path,
                        const std::string& body = "", int* status = nullptr);

}  // namespace shoal::testing
