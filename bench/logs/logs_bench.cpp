// Benchmarks of the logs pipeline:
//   bench: logs_handler_batch100_p99_ms   processing a 100-entry batch (ECS
//          mapping, index/id rendering, NDJSON building, response reading),
//          sink time excluded: time inside the transport is subtracted.
//   bench: logs_handler_batch100_cpu_p99_ms  the same in thread CPU time:
//          unaffected by other processes preempting this one on a busy box
//   bench: logs_handler_batch100_p50_ms
//   bench: logs_handler_entries_per_cpu_s entries per CPU-second of that work
//   bench: bulk_server_docs_per_s         shoal-bulk-server ingest rate with
//          500-document `create` requests over one keep-alive connection
// Usage: logs_bench [--batches N] [--server-docs N]
#include <httplib.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "shoal/http/transport.h"
#include "shoal/logs/bulk.h"
#include "shoal/logs/logs_handler.h"
#include "shoal/testing/bulk_server.h"

using namespace shoal;
using Steady = std::chrono::steady_clock;

namespace {

double threadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Answers every bulk request with "all created"; accounts its own time so
// the benchmark can exclude it.
class NullSink final : public http::Transport {
 public:
  http::Response send(const http::Request& req) override {
    if (req.method == "GET") return {200, "{}", {}};
    auto t0 = Steady::now();
    const std::string& body = req.body;
    // Echo each action's _id, as Elasticsearch does (the sink checks them).
    std::string out = "{\"took\":1,\"errors\":false,\"items\":[";
    bool first = true;
    for (size_t pos = 0; (pos = body.find("\"_id\":", pos)) != std::string::npos;) {
      size_t start = pos + 6, end = body.find("}}", start);
      if (!first) out += ',';
      first = false;
      out += R"({"create":{"_index":"x","_id":)";
      out.append(body, start, end - start);
      out += R"(,"_version":1,"result":"created","status":201}})";
      pos = end;
    }
    out += "]}";
    spent += Steady::now() - t0;
    return {200, std::move(out), {}};
  }
  Steady::duration spent{};
};

std::string payload(int i) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                R"({"@timestamp":"2024-05-06T07:08:%02d.%03dZ","level":"info","service":"checkout",)"
                R"("host":"web-%d","trace_id":"4bf92f3577b34da6a3ce929d0e0e%04d","span_id":"00f067aa0ba9%04d",)"
                R"("msg":"GET /api/v1/cart/%d 200 12ms","http":{"method":"GET","status":200},"user_id":"u-%d"})",
                i % 60, i % 1000, i % 8, i % 10000, i % 10000, i, i % 977);
  return buf;
}

void benchHandler(int batches) {
  PipelineConfig p;
  p.type = "logs";
  p.redis.stream = "logs:bench";
  p.sink = YAML::Load("elasticsearch: {url: 'http://null:9200', index: 'logs-{service.name}-{yyyy.MM.dd}'}");
  p.transform = YAML::Load("logs: {fields: {environment: bench, version: '1.0'}}");
  auto lc = logs::parseLogsConfig(p, {});
  auto sinkOwned = std::make_unique<NullSink>();
  NullSink* sink = sinkOwned.get();
  prometheus::Registry registry;
  auto handler = logs::makeLogsHandler(p, lc, std::move(sinkOwned), registry, SystemClock::instance());
  CancelToken cancel;

  std::vector<std::vector<StreamEntry>> data(16);
  int n = 0;
  for (auto& batch : data) {
    for (int i = 0; i < 100; ++i, ++n) {
      StreamEntry e;
      e.id = std::to_string(1714979289000LL + n) + "-0";
      e.fields = {{"message", payload(n)}};
      batch.push_back(std::move(e));
    }
  }
  std::vector<double> ms, cpu;
  ms.reserve(static_cast<size_t>(batches));
  cpu.reserve(static_cast<size_t>(batches));
  for (int b = -50; b < batches; ++b) {  // 50 warm-up batches
    auto& batch = data[static_cast<size_t>((b + 50) % 16)];
    sink->spent = {};
    const double c0 = threadCpuMs();
    auto t0 = Steady::now();
    auto r = handler->handle(batch, cancel);
    auto d = Steady::now() - t0 - sink->spent;
    const double c = threadCpuMs() - c0 - std::chrono::duration<double, std::milli>(sink->spent).count();
    if (r.size() != 100 || r[0].outcome != EntryOutcome::kDelivered) {
      std::fprintf(stderr, "unexpected result\n");
      std::exit(1);
    }
    if (b < 0) continue;
    ms.push_back(std::chrono::duration<double, std::milli>(d).count());
    cpu.push_back(c);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  auto pct = [](const std::vector<double>& v, double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
  };
  double cpuTotal = 0;
  for (double c : cpu) cpuTotal += c;
  std::printf("bench: logs_handler_batch100_p50_ms %.3f ms\n", pct(ms, 0.50));
  std::printf("bench: logs_handler_batch100_p99_ms %.3f ms\n", pct(ms, 0.99));
  std::printf("bench: logs_handler_batch100_cpu_p99_ms %.3f ms\n", pct(cpu, 0.99));
  std::printf("bench: logs_handler_entries_per_cpu_s %.0f entries/s\n", 100.0 * cpu.size() / (cpuTotal / 1e3));
  std::printf("bench: logs_payload_bytes %zu bytes\n", payload(12345).size());
}

void benchServer(int docs) {
  testing::BulkServer::Options o;
  o.storeSources = false;
  testing::BulkServer server(o);
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  const int perRequest = 500;
  std::vector<std::string> bodies;
  for (int sent = 0; sent < docs; sent += perRequest) {
    std::string body;
    for (int i = 0; i < perRequest; ++i)
      logs::appendBulkCreate(body, "logs-bench", "s/" + std::to_string(sent + i) + "-0", payload(i));
    bodies.push_back(std::move(body));
  }
  auto t0 = Steady::now();
  for (auto& body : bodies) {
    auto r = client.Post("/_bulk", body, "application/x-ndjson");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "bulk request failed\n");
      std::exit(1);
    }
  }
  double secs = std::chrono::duration<double>(Steady::now() - t0).count();
  if (server.totalDocs() != static_cast<int64_t>(bodies.size()) * perRequest) {
    std::fprintf(stderr, "server stored %lld docs\n", static_cast<long long>(server.totalDocs()));
    std::exit(1);
  }
  std::printf("bench: bulk_server_docs_per_s %.0f docs/s\n", bodies.size() * perRequest / secs);
}

}  // namespace

int main(int argc, char** argv) {
  int batches = 2000, serverDocs = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batches")) batches = std::max(1, std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--server-docs")) serverDocs = std::max(500, std::atoi(argv[i + 1]));
  }
  benchHandler(batches);
  benchServer(serverDocs);
  return 0;
}
