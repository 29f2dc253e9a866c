// A real Redis Cluster for tests: N primaries with replicas as plain
// redis-server processes on loopback, created with `redis-cli --cluster
// create`. See RedisCluster in servers.h.
#include <sys/stat.h>

#include <csignal>
#include <sstream>
#include <stdexcept>

#include "shoal/testing/servers.h"

namespace shoal::testing {
namespace {

// A free port whose cluster bus port (port + 10000) is free too.
int freeClusterPort() {
  for (int i = 0; i < 200; ++i) {
    int p = freePort();
    if (p + 10000 <= 65535 && !portOpen(p + 10000)) return p;
  }
  throw std::runtime_error("no free port pair for a cluster node");
}

}  // namespace

RedisCluster::RedisCluster(Options o) : opts_(o) {
  const int total = opts_.primaries * (1 + opts_.replicasPerPrimary);
  std::string create = "redis-cli --cluster create";
  for (int i = 0; i < total; ++i) {
    // Another process may take the port or its bus port between the check
    // and the bind: try a few fresh pairs.
    for (int attempt = 0;; ++attempt) {
      Node n;
      n.port = freeClusterPort();
      n.dir = dir_.path() + "/" + std::to_string(n.port);
      ::mkdir(n.dir.c_str(), 0755);
      try {
        startNode(n);
      } catch (const std::runtime_error&) {
        n.proc.stop(std::chrono::seconds(1));
        if (attempt >= 4) throw;
        continue;
      }
      nodes_.push_back(std::move(n));
      break;
    }
    create += " 127.0.0.1:" + std::to_string(nodes_.back().port);
  }
  create += " --cluster-replicas " + std::to_string(opts_.replicasPerPrimary) + " --cluster-yes";
  int rc = 0;
  std::string out = runCommand(create + " 2>&1", false, &rc);
  if (rc != 0) throw std::runtime_error("redis-cli --cluster create failed: " + out);
  if (!waitHealthy(std::chrono::seconds(30)))
    throw std::runtime_error("the Redis Cluster did not reach cluster_state:ok: " + cli(nodes_[0].port, "CLUSTER INFO"));
  // cluster_state:ok does not wait for replication: wait until every replica
  // has finished its first sync, so that WAIT and failover mean something.
  const bool replicated = waitUntil(
      [&] {
        int linked = 0;
        for (const auto& n : nodes_)
          linked += cli(n.port, "INFO replication").find("master_link_status:up") != std::string::npos;
        return linked == opts_.primaries * opts_.replicasPerPrimary;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!replicated) throw std::runtime_error("the Redis Cluster's replicas did not finish their first sync");
}

RedisCluster::~RedisCluster() {
  for (auto& n : nodes_) n.proc.stop(std::chrono::seconds(2));
}

void RedisCluster::startNode(Node& n) {
  std::vector<std::string> argv = {"redis-server",
                                   "--bind", "127.0.0.1",
                                   "--port", std::to_string(n.port),
                                   "--cluster-enabled", "yes",
                                   "--cluster-config-file", n.dir + "/nodes.conf",
                                   "--cluster-node-timeout", std::to_string(opts_.nodeTimeoutMs),
                                   "--save", "",
                                   "--appendonly", "no",
                                   "--dir", n.dir,
                                   "--daemonize", "no",
                                   "--logfile", n.dir + "/redis.log"};
  n.proc = Process(Process::Options{.argv = argv});
  if (!waitUntil([&] { return portOpen(n.port) || !n.proc.running(); }, std::chrono::seconds(10)) ||
      !n.proc.running())
    throw std::runtime_error("cluster node did not start on port " + std::to_string(n.port) + ": " +
                             Process::readFile(n.dir + "/redis.log"));
}

std::vector<int> RedisCluster::ports() const {
  std::vector<int> out;
  for (const auto& n : nodes_) out.push_back(n.port);
  return out;
}

std::string RedisCluster::seeds() const {
  std::string s;
  for (const auto& n : nodes_) s += (s.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(n.port);
  return s;
}

std::string RedisCluster::cli(int port, const std::string& args) const {
  return runCommand("redis-cli -h 127.0.0.1 -p " + std::to_string(port) + " " + args + " 2>&1", false);
}

std::vector<RedisCluster::NodeInfo> RedisCluster::nodes(int askPort) const {
  std::vector<NodeInfo> out;
  std::istringstream in(cli(askPort, "CLUSTER NODES"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    NodeInfo n;
    std::string addr, flags, master, ping, pong, epoch, link;
    if (!(f >> n.id >> addr >> flags >> master >> ping >> pong >> epoch >> link)) continue;
    auto colon = addr.rfind(':');
    auto at = addr.find('@');
    if (colon == std::string::npos) continue;
    n.port = std::stoi(addr.substr(colon + 1, at == std::string::npos ? std::string::npos : at - colon - 1));
    n.primary = flags.find("master") != std::string::npos;
    n.failed = flags.find("fail") != std::string::npos && flags.find("fail?") == std::string::npos;
    n.primaryId = master == "-" ? "" : master;
    std::string slots;
    while (f >> slots) n.slots.push_back(slots);
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<int> RedisCluster::primaryPorts() const {
  std::vector<int> out;
  for (const auto& n : nodes(firstRunningPort()))
    if (n.primary && !n.failed && !n.slots.empty()) out.push_back(n.port);
  return out;
}

int RedisCluster::primaryFor(const std::string& key) const {
  const int port = firstRunningPort();
  const int slot = std::stoi(cli(port, "CLUSTER KEYSLOT " + key));
  for (const auto& n : nodes(port)) {
    if (!n.primary || n.failed) continue;
    for (const auto& range : n.slots) {
      if (range.empty() || range[0] == '[') continue;  // a migration marker
      auto dash = range.find('-');
      int first = std::stoi(range.substr(0, dash));
      int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
      if (slot >= first && slot <= last) return n.port;
    }
  }
  return -1;
}

int RedisCluster::replicaOf(int primaryPort) const {
  const auto all = nodes(firstRunningPort());
  std::string id;
  for (const auto& n : all)
    if (n.port == primaryPort) id = n.id;
  for (const auto& n : all)
    if (!n.primary && n.primaryId == id && !n.failed) return n.port;
  return -1;
}

std::string RedisCluster::idOf(int port) const { return runCommand("redis-cli -h 127.0.0.1 -p " + std::to_string(port) + " CLUSTER MYID", false).substr(0, 40); }

void RedisCluster::kill(int port) {
  for (auto& n : nodes_)
    if (n.port == port) {
      n.proc.signal(SIGKILL);
      n.proc.wait(std::chrono::seconds(5));
      n.down = true;
    }
}

int RedisCluster::firstRunningPort() const {
  for (const auto& n : nodes_)
    if (!n.down) return n.port;
  throw std::runtime_error("no cluster node is running");
}

bool RedisCluster::waitHealthy(std::chrono::milliseconds deadline) {
  return waitUntil(
      [&] {
        for (const auto& n : nodes_) {
          if (n.down) continue;
          if (cli(n.port, "CLUSTER INFO").find("cluster_state:ok") == std::string::npos) return false;
        }
        return true;
      },
      deadline, std::chrono::milliseconds(100));
}

}  // namespace shoal::testing
