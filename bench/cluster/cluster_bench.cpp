// The sharded-pipeline benchmark: a real 6-node Redis Cluster (3 primaries)
// on loopback, a pipeline of 8 shard streams preloaded with ~300-byte JSON
// logs, drained by one shoal-worker process and then by two into
// shoal-bulk-server; the same 8 shards on one redis-server for comparison;
// and one operator probe of a 100-shard pipeline across the cluster. Prints
// `bench:` lines (see run.sh).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "shoal/probe/backlog_probe.h"
#include "shoal/redis/client.h"
#include "shoal/redis_cluster/cluster_client.h"
#include "shoal/sim/fleet.h"
#include "shoal/stream/shards.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/servers.h"

namespace {

// Counters summed over the cluster's primaries (INFO stats).
struct NodeStats {
  bool ok = true;
  double commands = 0, bytesIn = 0, bytesOut = 0;
};

NodeStats primaryStats(const shoal::testing::RedisCluster& cluster) {
  NodeStats s;
  for (int port : cluster.primaryPorts()) {
    const std::string info = cluster.cli(port, "INFO stats");
    auto field = [&](const std::string& name) -> double {
      const auto at = info.find(name + ":");
      if (at == std::string::npos) {
        s.ok = false;
        return 0;
      }
      return std::stod(info.substr(at + name.size() + 1));
    };
    s.commands += field("total_commands_processed");
    s.bytesIn += field("total_net_input_bytes");
    s.bytesOut += field("total_net_output_bytes");
  }
  return s;
}

double cpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

using SteadyClock = std::chrono::steady_clock;
constexpr int kShards = 8;

std::string logLine(int64_t i) {
  std::string s = R"({"@timestamp":"2026-11-21T05:00:00.000Z","log":{"level":"info"},"service":{"name":"checkout"},)"
                  R"("message":"GET /api/v1/orders/)" +
                  std::to_string(i) + R"( 200 in 12ms","http":{"request":{"method":"GET"},"response":{"status_code":200}},)"
                  R"("user":{"id":"u-)" + std::to_string(i % 977) + R"("},"trace":{"id":"4bf92f3577b34da6a3ce929d0e0e4736"}})";
  return s;
}

// Preloads `count` entries round-robin over the shards, pipelined per shard
// through the node that serves it.
template <typename Route>
bool preload(Route&& on, const std::string& stream, int64_t count) {
  const auto shards = shoal::shardStreams(stream, kShards);
  for (size_t s = 0; s < shards.size(); ++s) {
    std::vector<shoal::redis::Command> batch;
    auto flush = [&] {
      if (batch.empty()) return true;
      auto r = on(shards[s], [&](shoal::redis::Client& c) { return c.pipeline(batch); });
      batch.clear();
      return r.ok();
    };
    for (int64_t i = static_cast<int64_t>(s); i < count; i += kShards) {
      batch.push_back({"XADD", shards[s], "*", "message", logLine(i)});
      if (batch.size() == 1000 && !flush()) return false;
    }
    if (!flush()) return false;
  }
  return true;
}

pid_t startWorker(const std::string& binary, const std::string& config, const std::string& consumer) {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("SHOAL_CONSUMER_NAME", consumer.c_str(), 1);
    execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), "--listen", "127.0.0.1:0", "--log-level",
          "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Drains the preloaded pipeline with `workers` processes; events/s, or < 0.
double drain(const std::string& worker, const std::string& dir, const std::string& address, bool cluster,
             const std::string& stream, int64_t count, int workers, shoal::testing::BulkServer& bulk) {
  const std::string cfg = dir + "/" + stream + ".yaml";
  std::ofstream(cfg) << "spec:\n  type: logs\n  source:\n    redis:\n      address: " << address
                     << "\n      stream: " << stream << "\n      consumerGroup: bench\n      startId: \"0\"\n"
                     << "      shards: " << kShards << "\n      cluster: " << (cluster ? "true" : "false")
                     << "\n      blockMs: 100\n"
                     << "  delivery: {batchSize: 1000, lingerMs: 5}\n  transform: {logs: {format: json}}\n"
                     << "  sink:\n    elasticsearch: {url: \"" << bulk.url() << "\", index: bench-" << stream << "}\n";
  const int64_t before = bulk.totalDocs();
  const auto start = SteadyClock::now();
  std::vector<pid_t> pids;
  for (int w = 0; w < workers; ++w) pids.push_back(startWorker(worker, cfg, "bench-" + std::to_string(w)));
  bool drained = false;
  while (std::chrono::duration<double>(SteadyClock::now() - start).count() < 600) {
    if (bulk.totalDocs() - before >= count) {
      drained = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling cadence of a benchmark, not a test
  }
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  for (pid_t p : pids) kill(p, SIGTERM);
  for (pid_t p : pids) waitpid(p, nullptr, 0);
  return drained ? static_cast<double>(count) / secs : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: cluster_bench <shoal-worker> <entries>\n";
    return 2;
  }
  const std::string worker = argv[1];
  const int64_t count = std::stoll(argv[2]);
  auto& clock = shoal::SystemClock::instance();
  shoal::testing::TempDir dir;
  shoal::testing::BulkServer::Options bo;
  bo.storeSources = false;
  shoal::testing::BulkServer bulk(bo);

  // One redis-server: the same 8 shards, one worker.
  {
    shoal::testing::RedisServer redis;
    auto o = shoal::redis::parseUrl(redis.url());
    shoal::redis::Client c(*o, clock);
    auto on = [&](const std::string&, auto&& fn) { return fn(c); };
    if (!preload(on, "single", count)) return 1;
    double r = drain(worker, dir.path(), "127.0.0.1:" + std::to_string(redis.port()), false, "single", count, 1, bulk);
    if (r < 0) return 1;
    std::printf("bench: single_node_8_shards_worker_events_per_s %.0f events/s\n", r);
  }

  shoal::testing::RedisCluster cluster;
  shoal::redis::ClusterOptions co;
  co.seeds.push_back({"127.0.0.1", cluster.ports()[0]});
  shoal::redis::ClusterClient cc(co, clock);
  auto on = [&](const std::string& key, auto&& fn) { return cc.withKey(key, fn); };
  const std::string seed = "127.0.0.1:" + std::to_string(cluster.ports()[0]);
  for (int workers : {1, 2}) {
    const std::string stream = "c" + std::to_string(workers);
    if (!preload(on, stream, count)) return 1;
    double r = drain(worker, dir.path(), seed, true, stream, count, workers, bulk);
    if (r < 0) return 1;
    std::printf("bench: cluster_worker_events_per_s_workers_%d %.0f events/s\n", workers, r);
  }

  // One probe of a 100-shard pipeline spread over the 3 primaries.
  const auto shards = shoal::shardStreams("probe", 100);
  for (const auto& s : shards)
    if (!cc.createGroup(s, "g", "0").ok() || !cc.add(s, {{"message", "x"}}).ok()) return 1;
  shoal::probe::BacklogProbe probe(shoal::probe::makeRedisStreamInspector(clock), clock);
  shoal::probe::RedisTarget t;
  t.address = seed;
  t.cluster = true;
  probe.read(t, shards, "g", shoal::Duration::zero());  // connect and learn the slot map once
  constexpr int kRounds = 20;
  const NodeStats s0 = primaryStats(cluster);
  const double cpu0 = cpuMs();
  const auto p0 = SteadyClock::now();
  for (int i = 0; i < kRounds; ++i) {
    auto r = probe.read(t, shards, "g", shoal::Duration::zero());
    if (!r.ok || r.backlog() != 100) return 1;
  }
  const double ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - p0).count() / kRounds;
  const double cpu = (cpuMs() - cpu0) / kRounds;
  const NodeStats s1 = primaryStats(cluster);
  if (!s0.ok || !s1.ok) return 1;
  const double nodes = static_cast<double>(cluster.primaryPorts().size());
  const double reads = kRounds * 100.0;
  // Each INFO is itself a command: the second round of INFO counts one per node.
  shoal::sim::ShardProbeCost cost{.wallMs = ms / 100.0,
                                  .cpuMs = cpu / 100.0,
                                  .commands = (s1.commands - s0.commands - nodes) / reads,
                                  .bytesToRedis = (s1.bytesIn - s0.bytesIn) / reads,
                                  .bytesFromRedis = (s1.bytesOut - s0.bytesOut) / reads};
  std::printf("bench: operator_probe_ms_100_shards %.2f ms\n", ms);
  std::printf("bench: operator_probe_cpu_ms_100_shards %.2f ms\n", cpu);
  std::printf("bench: operator_probe_commands_per_shard %.2f commands\n", cost.commands);
  std::printf("bench: operator_probe_bytes_per_shard %.0f bytes\n", cost.bytesToRedis + cost.bytesFromRedis);

  // The plan past this machine: 1,000 pipelines of 16 shards at the default poll interval.
  const shoal::sim::Fleet fleet{.pipelines = 1000, .shardsPerPipeline = 16, .pollIntervalSeconds = 2};
  const shoal::sim::FleetPlan plan = shoal::sim::planFleet(fleet, cost);
  std::printf("bench: fleet_1000x16_redis_commands_per_s %.0f commands/s\n", plan.commandsPerSecond);
  std::printf("bench: fleet_1000x16_redis_mib_per_s %.2f MiB/s\n", plan.bytesPerSecond / (1024.0 * 1024.0));
  std::printf("bench: fleet_1000x16_operator_cpu_cores %.2f cores\n", plan.operatorCpuCores);
  std::printf("bench: fleet_1000x16_probe_s_per_poll %.2f s\n", plan.probeSecondsPerPoll);
  std::printf("bench: fleet_max_shard_streams_per_operator %lld streams\n",
              static_cast<long long>(plan.maxShardStreamsPerOperator));
  std::printf("bench: fleet_1000x16_operators_needed %lld operators\n", static_cast<long long>(plan.operatorsNeeded));
  return 0;
}
