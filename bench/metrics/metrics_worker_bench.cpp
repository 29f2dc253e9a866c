// End-to-end throughput of one shoal-worker process running the metrics
// pipeline: N events are preloaded into a real Redis stream (pipelined XADD,
// not timed), then one shoal-worker is started and timed until its consumer
// group has read everything and nothing is pending (all acknowledged after the
// sink confirmed). Sinks, each started here on a free loopback port:
//   --sink receiver    tests/tools/rw_receiver (decodes and counts)
//   --sink prometheus  Prometheus 2.42 with the remote-write receiver
//   --sink postgres    PostgreSQL 15 aggregates
// Prints one `bench: <name> <value> <unit>` line.
#include <hiredis/hiredis.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "bench_events.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace {

struct RedisReply {
  redisReply* r;
  ~RedisReply() {
    if (r) freeReplyObject(r);
  }
};

// Sum of `pending` and `lag` of the group, and its `entries-read`.
bool groupState(redisContext* c, const std::string& stream, const std::string& group, long long& pending,
                long long& lag, long long& read) {
  RedisReply rep{static_cast<redisReply*>(redisCommand(c, "XINFO GROUPS %s", stream.c_str()))};
  if (!rep.r || rep.r->type != REDIS_REPLY_ARRAY) return false;
  for (size_t g = 0; g < rep.r->elements; ++g) {
    redisReply* m = rep.r->element[g];
    std::string name;
    long long p = -1, l = -1, rd = -1;
    for (size_t i = 0; i + 1 < m->elements; i += 2) {
      const std::string k(m->element[i]->str, m->element[i]->len);
      redisReply* v = m->element[i + 1];
      if (k == "name" && v->str) name.assign(v->str, v->len);
      else if (k == "pending" && v->type == REDIS_REPLY_INTEGER) p = v->integer;
      else if (k == "lag" && v->type == REDIS_REPLY_INTEGER) l = v->integer;
      else if (k == "entries-read" && v->type == REDIS_REPLY_INTEGER) rd = v->integer;
    }
    if (name == group) {
      pending = p;
      lag = l;
      read = rd;
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sink = "receiver", worker, receiverPath;
  size_t events = 1000000, series = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sink")) sink = argv[i + 1];
    else if (!std::strcmp(argv[i], "--events")) events = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--worker")) worker = argv[i + 1];
    else if (!std::strcmp(argv[i], "--receiver")) receiverPath = argv[i + 1];
  }
  using namespace shoal::testing;
  TempDir dir;
  RedisServer redis;
  std::unique_ptr<PrometheusServer> prom;
  std::unique_ptr<PostgresServer> pg;
  Process receiver;
  int receiverPort = 0;
  std::string sinkYaml;
  if (sink == "receiver") {
    receiverPort = freePort();
    receiver = Process({.argv = {receiverPath, "--port", std::to_string(receiverPort)}, .stdoutPath = dir.file("rw.out")});
    if (!waitUntil([&] { return portOpen(receiverPort); })) return 1;
    sinkYaml = "prometheusRemoteWrite: {url: 'http://127.0.0.1:" + std::to_string(receiverPort) + "/api/v1/write'}";
  } else if (sink == "prometheus") {
    prom = std::make_unique<PrometheusServer>();
    sinkYaml = "prometheusRemoteWrite: {url: '" + prom->url() + "/api/v1/write'}";
  } else if (sink == "postgres") {
    pg = std::make_unique<PostgresServer>();
    sinkYaml = "postgres: {conninfo: '" + pg->conninfo() + "'}";
  } else {
    std::fprintf(stderr, "unknown --sink %s\n", sink.c_str());
    return 2;
  }

  // Preload.
  redisContext* c = redisConnect("127.0.0.1", redis.port());
  if (!c || c->err) return 1;
  const int64_t baseMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      600000;
  const std::string stream = "bench", group = "shoal";
  for (size_t at = 0; at < events; at += 1000) {
    const size_t n = std::min<size_t>(1000, events - at);
    for (size_t i = at; i < at + n; ++i) {
      const std::string ev = shoal::bench::metricEvent(i, baseMs, series);
      redisAppendCommand(c, "XADD %s * event %b", stream.c_str(), ev.data(), ev.size());
    }
    for (size_t i = 0; i < n; ++i) {
      void* r = nullptr;
      if (redisGetReply(c, &r) != REDIS_OK) return 1;
      freeReplyObject(r);
    }
  }
  freeReplyObject(redisCommand(c, "XGROUP CREATE %s %s 0", stream.c_str(), group.c_str()));

  const std::string cfgPath = dir.file("pipeline.yaml");
  std::ofstream(cfgPath) << "spec:\n  type: metrics\n  source:\n    redis:\n      url: redis://127.0.0.1:"
                         << redis.port() << "\n      stream: " << stream << "\n      consumerGroup: " << group
                         << "\n      startId: \"0\"\n  delivery:\n    batchSize: 1000\n    lingerMs: 5\n  sink:\n    "
                         << sinkYaml << "\n";
  const auto t0 = std::chrono::steady_clock::now();
  Process w({.argv = {worker, "--config", cfgPath, "--listen", "127.0.0.1:0", "--log-level", "warn"},
             .env = {{"SHOAL_CONSUMER_NAME", "bench-1"}},
             .stderrPath = dir.file("worker.log")});
  long long pending = -1, lag = -1, read = 0;
  const bool done = waitUntil(
      [&] {
        return groupState(c, stream, group, pending, lag, read) && read >= static_cast<long long>(events) &&
               pending == 0 && lag == 0;
      },
      std::chrono::seconds(600), std::chrono::milliseconds(20));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  w.stop(std::chrono::seconds(30));
  redisFree(c);
  if (!done) {
    std::fprintf(stderr, "worker did not finish: read=%lld pending=%lld lag=%lld\n%s\n", read, pending, lag,
                 Process::readFile(dir.file("worker.log")).substr(0, 4000).c_str());
    return 1;
  }
  const std::string dead = redis.cli("XLEN " + stream + ":dead");
  std::fprintf(stderr, "# %zu events in %.2f s; dead letters: %s", events, secs, dead.c_str());
  if (sink == "receiver") {
    std::fprintf(stderr, "# rw_receiver stats: %s", httpGet(receiverPort, "/stats").c_str());
    std::printf("bench: worker_metrics_samples_per_s %.0f samples/s\n", static_cast<double>(events) / secs);
  } else if (sink == "prometheus") {
    std::printf("bench: worker_metrics_to_prometheus_samples_per_s %.0f samples/s\n", static_cast<double>(events) / secs);
  } else {
    std::fprintf(stderr, "# postgres: %s", pg->psql("SELECT count(*), sum(count) FROM shoal_metric_aggregates").c_str());
    std::printf("bench: worker_metrics_postgres_events_per_s %.0f events/s\n", static_cast<double>(events) / secs);
  }
  return 0;
}
