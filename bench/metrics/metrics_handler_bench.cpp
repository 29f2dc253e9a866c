// Handler-level throughput of the metrics pipeline: events are generated in
// batches of 500 stream entries (generation not timed) and pushed through the
// real BatchHandler into a real sink started here on a free loopback port:
//   --sink receiver    tests/tools/rw_receiver (decodes and counts)
//   --sink prometheus  Prometheus 2.42 with the remote-write receiver
//   --sink postgres    PostgreSQL 15 aggregates
// No Redis and no consumer loop: see run.sh for the figure through a real
// shoal-worker process. Prints one `bench: <name> <value> <unit>` line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_events.h"
#include "shoal/common/log.h"
#include "shoal/metrics/metrics_handler.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace {

std::vector<shoal::StreamEntry> makeBatch(size_t first, size_t n, int64_t baseMs, size_t series) {
  std::vector<shoal::StreamEntry> out;
  out.reserve(n);
  for (size_t i = first; i < first + n; ++i)
    out.push_back(shoal::StreamEntry{std::to_string(baseMs) + "-" + std::to_string(i),
                                     {{"event", shoal::bench::metricEvent(i, baseMs, series)}}, 1});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sink = "receiver";
  size_t events = 1000000, batch = 500, series = 1000;
  std::string receiverPath;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sink")) sink = argv[i + 1];
    else if (!std::strcmp(argv[i], "--events")) events = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--receiver")) receiverPath = argv[i + 1];
  }
  shoal::log::setLevel(shoal::log::Level::kWarn);
  shoal::PipelineConfig cfg;
  cfg.type = "metrics";
  cfg.redis.stream = "bench";
  std::unique_ptr<shoal::testing::PrometheusServer> prom;
  std::unique_ptr<shoal::testing::PostgresServer> pg;
  shoal::testing::Process receiver;
  shoal::testing::TempDir dir;
  int receiverPort = 0;
  if (sink == "receiver") {
    receiverPort = shoal::testing::freePort();
    receiver = shoal::testing::Process({.argv = {receiverPath, "--port", std::to_string(receiverPort)},
                                        .stdoutPath = dir.file("rw.out")});
    if (!shoal::testing::waitUntil([&] { return shoal::testing::portOpen(receiverPort); })) return 1;
    cfg.sink = YAML::Load("prometheusRemoteWrite: {url: 'http://127.0.0.1:" + std::to_string(receiverPort) +
                          "/api/v1/write'}");
  } else if (sink == "prometheus") {
    prom = std::make_unique<shoal::testing::PrometheusServer>();
    cfg.sink = YAML::Load("prometheusRemoteWrite: {url: '" + prom->url() + "/api/v1/write'}");
  } else if (sink == "postgres") {
    pg = std::make_unique<shoal::testing::PostgresServer>();
    cfg.sink = YAML::Load("postgres: {conninfo: '" + pg->conninfo() + "'}");
  } else {
    std::fprintf(stderr, "unknown --sink %s\n", sink.c_str());
    return 2;
  }
  prometheus::Registry registry;
  auto handler = shoal::makeMetricsHandler(cfg, registry, shoal::SystemClock::instance(), {});
  const int64_t baseMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      600000;
  shoal::CancelToken cancel;
  std::chrono::nanoseconds busy{0};
  size_t delivered = 0;
  for (size_t at = 0; at < events; at += batch) {
    auto entries = makeBatch(at, std::min(batch, events - at), baseMs, series);
    const auto t0 = std::chrono::steady_clock::now();
    auto res = handler->handle(entries, cancel);
    busy += std::chrono::steady_clock::now() - t0;
    for (auto& r : res) delivered += r.outcome == shoal::EntryOutcome::kDelivered;
  }
  const double secs = std::chrono::duration<double>(busy).count();
  if (delivered != events) {
    std::fprintf(stderr, "only %zu of %zu events delivered\n", delivered, events);
    return 1;
  }
  if (sink == "receiver") {
    const std::string stats = shoal::testing::httpGet(receiverPort, "/stats");
    std::fprintf(stderr, "# rw_receiver stats: %s", stats.c_str());
    std::printf("bench: worker_metrics_handler_samples_per_s %.0f samples/s\n", static_cast<double>(events) / secs);
  } else if (sink == "prometheus") {
    std::printf("bench: worker_metrics_handler_to_prometheus_samples_per_s %.0f samples/s\n",
                static_cast<double>(events) / secs);
  } else {
    std::fprintf(stderr, "# postgres rows: %s", pg->psql("SELECT count(*), sum(count) FROM shoal_metric_aggregates").c_str());
    std::printf("bench: worker_metrics_handler_postgres_events_per_s %.0f events/s\n", static_cast<double>(events) / secs);
  }
  return 0;
}
