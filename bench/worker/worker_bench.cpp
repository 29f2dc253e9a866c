// worker_bench: the worker benchmark's measuring parts. Subcommands:
//   preload   XADD N ~300-byte JSON log entries (pipelined)
//   ceiling   XREADGROUP COUNT 500 + XACK in a tight loop on its own group:
//             the Redis read/ack ceiling for this machine
//   idle      the machine's idle CPU over one second, in cores (what was free)
//   drain     runs one shoal-worker process on a preloaded stream, measures the
//             time until its group has read and acknowledged everything, the
//             worker's CPU per event (utime+stime of every thread, start to
//             exit), its peak RSS (VmHWM) and the bulk bytes on the wire per
//             event; --parallelism, --compression and a fresh --group per run
//             (a new group reads the same stream again)
//   batch     the consumer loop in-process with the logs handler over an
//             instant fake sink, 100-entry batches: p99 of one batch
//             (read + transform + bulk encode/decode + XACK; sink time excluded)
//   transform the ECS mapping alone, in-process, on the same log lines:
//             entries/s of the general path (DOM) and of the JSON fast path,
//             each with index and _id rendering and the NDJSON line
//   wide      one entry with 10k and 50k JSON fields through the ECS mapping
//             (general and fast path): ms per entry and us per field
// Each prints `bench: <name> <value> <unit>` lines.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "shoal/redis/client.h"
#include "shoal/worker/consumer_loop.h"
#ifdef SHOAL_HAVE_LOGS
#include <nlohmann/json.hpp>

#include "shoal/http/client.h"
#include "shoal/http/transport.h"
#include "shoal/logs/bulk.h"
#include "shoal/logs/ecs_fast.h"
#include "shoal/logs/index_pattern.h"
#include "shoal/logs/logs_config.h"
#include "shoal/logs/logs_handler.h"
#endif

namespace {

using SteadyClock = std::chrono::steady_clock;

shoal::redis::ConnectionOptions connect(const std::string& url) {
  auto o = shoal::redis::parseUrl(url);
  if (!o) {
    std::cerr << o.error().message << "\n";
    std::exit(2);
  }
  return *o;
}

std::string logLine(int64_t i, std::mt19937_64& rng) {
  static const char* levels[] = {"info", "info", "info", "warn", "error", "debug"};
  static const char* services[] = {"checkout", "payments", "search", "cart"};
  char buf[512];
  int n = std::snprintf(buf, sizeof buf,
                        R"({"@timestamp":"2026-11-21T05:%02d:%02d.%03dZ","level":"%s","message":"GET /api/v1/items/%lld )"
                        R"(returned 200 in %d ms for user %llu","service":{"name":"%s"},"host":{"name":"node-%d"},)"
                        R"("trace":{"id":"%016llx%016llx"},"http":{"method":"GET","status":200},"bytes":%d})",
                        static_cast<int>(i / 60000 % 60), static_cast<int>(i / 1000 % 60), static_cast<int>(i % 1000),
                        levels[rng() % 6], static_cast<long long>(i), static_cast<int>(rng() % 900),
                        static_cast<unsigned long long>(rng() % 1000000), services[rng() % 4],
                        static_cast<int>(rng() % 16), static_cast<unsigned long long>(rng()),
                        static_cast<unsigned long long>(rng()), static_cast<int>(rng() % 100000));
  return std::string(buf, static_cast<size_t>(n));
}

int preload(const std::string& url, const std::string& stream, int64_t count) {
  shoal::redis::Client c(connect(url), shoal::SystemClock::instance());
  std::mt19937_64 rng(42);
  const int64_t chunk = 1000;
  size_t bytes = 0;
  for (int64_t done = 0; done < count; done += chunk) {
    std::vector<shoal::redis::Command> cmds;
    for (int64_t i = done; i < std::min(count, done + chunk); ++i) {
      cmds.push_back({"XADD", stream, "*", "message", logLine(i, rng)});
      bytes += cmds.back()[4].size();
    }
    auto r = c.pipeline(cmds);
    if (!r) {
      std::cerr << "preload: " << r.error().message << "\n";
      return 1;
    }
  }
  std::cerr << "preloaded " << count << " entries, mean payload " << bytes / std::max<int64_t>(count, 1)
            << " bytes\n";
  return 0;
}

int ceiling(const std::string& url, const std::string& stream) {
  shoal::redis::Client c(connect(url), shoal::SystemClock::instance());
  (void)c.createGroup(stream, "bench-ceiling", "0");
  int64_t total = 0;
  const auto start = SteadyClock::now();
  for (;;) {
    auto r = c.readGroup(stream, "bench-ceiling", "c", ">", 500, -1);
    if (!r) {
      std::cerr << "ceiling: " << r.error().message << "\n";
      return 1;
    }
    if (r->empty()) break;
    std::vector<std::string> ids;
    ids.reserve(r->size());
    for (auto& e : *r) ids.push_back(std::move(e.id));
    if (!c.ack(stream, "bench-ceiling", ids)) return 1;
    total += static_cast<int64_t>(ids.size());
  }
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::printf("bench: redis_read_ack_ceiling_per_s %.0f entries/s\n", static_cast<double>(total) / secs);
  (void)c.command({"XGROUP", "DESTROY", stream, "bench-ceiling"});
  return 0;
}

int64_t vmHwmKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

// Idle CPU of the whole machine over `window`, in cores (from /proc/stat):
// what was free for the worker, Redis and the bulk endpoint before a run.
double idleCores(std::chrono::milliseconds window) {
  auto sample = [] {
    std::ifstream f("/proc/stat");
    std::string cpu;
    f >> cpu;
    int64_t v, total = 0, idle = 0;
    for (int i = 0; i < 10 && (f >> v); ++i) {
      total += v;
      if (i == 3 || i == 4) idle += v;  // idle, iowait
    }
    return std::make_pair(total, idle);
  };
  const auto a = sample();
  std::this_thread::sleep_for(window);  // a measurement window, not synchronization
  const auto b = sample();
  const double share = b.first > a.first ? static_cast<double>(b.second - a.second) / static_cast<double>(b.first - a.first) : 0;
  return share * static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
}

#ifdef SHOAL_HAVE_LOGS
// The bulk endpoint's control API (shoal-bulk-server): reset, and the bytes it received.
nlohmann::json bulkControl(const std::string& sinkUrl, const std::string& method, const std::string& path) {
  auto client = shoal::http::makeClient({.url = sinkUrl});
  if (!client) return {};
  auto r = (*client)->send({.method = method, .path = path, .body = method == "POST" ? "{}" : "",
                            .contentType = "application/json"});
  return r.status == 200 ? nlohmann::json::parse(r.body, nullptr, false) : nlohmann::json();
}
#endif

struct DrainRun {
  int64_t parallelism = 1;
  std::string compression = "none";
  std::string group = "bench";
  std::string suffix;  // appended to every figure's name ("" for the reference run)
};

int drain(const std::string& url, const std::string& stream, const std::string& worker, const std::string& sinkUrl,
          int64_t count, const std::string& dir, const DrainRun& run) {
  const std::string cfgPath = dir + "/bench-pipeline-" + run.group + ".yaml";
  std::ofstream(cfgPath) << "spec:\n  type: logs\n  source:\n    redis:\n      stream: " << stream
                         << "\n      consumerGroup: " << run.group << "\n      startId: \"0\"\n      blockMs: 100\n"
                         << "  delivery: {batchSize: 1000, lingerMs: 5, parallelism: " << run.parallelism << "}\n"
                         << "  transform: {logs: {format: json}}\n"
                         << "  sink:\n    elasticsearch: {url: \"" << sinkUrl
                         << "\", index: \"logs-{service.name}-{yyyy.MM.dd}\", compression: " << run.compression
                         << "}\n";
#ifdef SHOAL_HAVE_LOGS
  bulkControl(sinkUrl, "POST", "/_shoal/reset");  // every run starts from an empty endpoint
#endif
  shoal::redis::Client c(connect(url), shoal::SystemClock::instance());
  const auto start = SteadyClock::now();
  pid_t pid = fork();
  if (pid == 0) {
    setenv("SHOAL_REDIS_URL", url.c_str(), 1);
    setenv("SHOAL_CONSUMER_NAME", "bench-worker", 1);
    execl(worker.c_str(), worker.c_str(), "--config", cfgPath.c_str(), "--listen", "127.0.0.1:0", "--log-level",
          "warn", static_cast<char*>(nullptr));
    _exit(127);
  }
  int64_t peak = 0;
  bool drained = false;
  while (std::chrono::duration<double>(SteadyClock::now() - start).count() < 600) {
    peak = std::max(peak, vmHwmKiB(pid));
    auto g = c.groups(stream);
    if (g) {
      for (auto& gi : *g)
        if (gi.name == run.group && gi.entriesRead.value_or(0) >= count && gi.pending == 0) drained = true;
    }
    if (drained) break;
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      std::cerr << "drain: shoal-worker exited early\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling cadence of a benchmark, not a test
  }
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  peak = std::max(peak, vmHwmKiB(pid));
  kill(pid, SIGTERM);
  int st = 0;
  rusage usage{};
  wait4(pid, &st, 0, &usage);  // the worker's CPU, every thread, start to exit
  if (!drained) {
    std::cerr << "drain: not drained within 600 s\n";
    return 1;
  }
  const double cpuUs = (static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
                        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)) /
                       static_cast<double>(count);
  const char* sfx = run.suffix.c_str();
  std::printf("bench: worker_logs_events_per_s%s %.0f events/s\n", sfx, static_cast<double>(count) / secs);
  std::printf("bench: worker_logs_cpu_us_per_event%s %.2f us\n", sfx, cpuUs);
  std::printf("bench: worker_peak_rss_mib%s %.1f MiB\n", sfx, static_cast<double>(peak) / 1024.0);
#ifdef SHOAL_HAVE_LOGS
  const nlohmann::json stats = bulkControl(sinkUrl, "GET", "/_shoal/stats");
  if (stats.is_object() && stats.contains("wireBytes"))
    std::printf("bench: worker_bulk_bytes_per_event%s %.1f bytes\n", sfx,
                stats["wireBytes"].get<double>() / static_cast<double>(count));
#endif
  std::cerr << "drain" << run.suffix << ": parallelism " << run.parallelism << ", compression " << run.compression
            << ", " << secs << " s, worker CPU " << cpuUs * static_cast<double>(count) / 1e6 << " s\n";
  return 0;
}

#ifdef SHOAL_HAVE_LOGS
// A sink that answers every bulk request at once with 201 for each item.
class InstantBulkSink : public shoal::http::Transport {
 public:
  shoal::http::Response send(const shoal::http::Request& req) override {
    if (req.method == "GET") return {200, R"({"name":"bench","version":{"number":"8.11.0"}})", ""};
    const std::string& body = req.body;
    std::string items;
    size_t pos = 0;
    bool action = true;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string::npos) nl = body.size();
      if (action) {
        std::string_view line(body.data() + pos, nl - pos);
        std::string id, index;
        auto grab = [&](std::string_view key, std::string& out) {
          auto k = line.find(key);
          if (k == std::string_view::npos) return;
          k += key.size();
          auto e = line.find('"', k);
          out.assign(line.substr(k, e - k));
        };
        grab("\"_id\":\"", id);
        grab("\"_index\":\"", index);
        if (!items.empty()) items += ',';
        items += R"({"create":{"_index":")" + index + R"(","_id":")" + id + R"(","_version":1,"result":"created","status":201}})";
      }
      action = !action;
      pos = nl + 1;
    }
    return {200, R"({"took":1,"errors":false,"items":[)" + items + "]}", ""};
  }
};
#endif

int batchP99(const std::string& url, const std::string& stream, int64_t batches) {
#ifndef SHOAL_HAVE_LOGS
  std::cerr << "batch: built without the logs pipeline\n";
  return 1;
#else
  shoal::PipelineConfig cfg = shoal::loadPipelineConfig(
      YAML::Load("spec:\n  type: logs\n  source:\n    redis:\n      stream: " + stream +
                 "\n      consumerGroup: bench-batch\n      startId: \"0\"\n      claimIntervalMs: 0\n"
                 "      blockMs: 100\n  delivery: {batchSize: 100, lingerMs: 0}\n"
                 "  transform: {logs: {format: json}}\n"
                 "  sink:\n    elasticsearch: {url: \"http://127.0.0.1:9\", index: \"logs-{service.name}-{yyyy.MM.dd}\"}\n"),
      {{"SHOAL_REDIS_URL", url}, {"SHOAL_CONSUMER_NAME", "bench-batch"}});
  prometheus::Registry reg;
  auto& clock = shoal::SystemClock::instance();
  auto logsCfg = shoal::logs::parseLogsConfig(cfg, {});
  auto handler = shoal::logs::makeLogsHandler(cfg, logsCfg, std::make_unique<InstantBulkSink>(), reg, clock);
  shoal::ConsumerLoop loop(cfg, *handler, clock, reg);
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(batches));
  for (int64_t i = 0; i < batches + 20; ++i) {
    const auto t0 = SteadyClock::now();
    int64_t n = loop.step();
    const double d = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
    if (n != 100) continue;
    if (i >= 20) ms.push_back(d);  // skip warm-up
  }
  if (ms.empty()) {
    std::cerr << "batch: no full batches\n";
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  const double p99 = ms[std::min(ms.size() - 1, static_cast<size_t>(static_cast<double>(ms.size()) * 0.99))];
  std::printf("bench: worker_batch100_p99_ms %.3f ms\n", p99);
  std::cerr << "batch: " << ms.size() << " batches, p50 " << ms[ms.size() / 2] << " ms, delivered "
            << loop.stats().delivered << "\n";
  return 0;
#endif
}

int transformRate(int64_t count, const std::string& which) {
#ifndef SHOAL_HAVE_LOGS
  (void)count;
  (void)which;
  std::cerr << "transform: built without the logs pipeline\n";
  return 1;
#else
  namespace logs = shoal::logs;
  std::mt19937_64 rng(7);
  std::vector<shoal::StreamEntry> entries(static_cast<size_t>(std::min<int64_t>(count, 20000)));
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].id = std::to_string(1763700000000 + static_cast<int64_t>(i)) + "-0";
    entries[i].fields = {{"message", logLine(static_cast<int64_t>(i), rng)}};
  }
  std::string err;
  auto pattern = logs::IndexPattern::compile("logs-{service.name}-{yyyy.MM.dd}", "unknown", err);
  logs::LogsTransformConfig cfg;
  cfg.format = logs::LogFormat::kJson;
  const logs::EpochNanos ingest = 1763700000123000000LL;
  auto run = [&](const char* name, auto&& one) {
    std::string body;
    body.reserve(entries.size() * 700);
    const auto start = SteadyClock::now();
    for (int64_t i = 0; i < count; ++i) {
      if (i % static_cast<int64_t>(entries.size()) == 0) body.clear();
      one(entries[static_cast<size_t>(i) % entries.size()], body);
    }
    const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
    std::printf("bench: %s %.0f entries/s\n", name, static_cast<double>(count) / secs);
  };
  if (which != "fast") run("worker_transform_general_per_s", [&](const shoal::StreamEntry& e, std::string& body) {
    auto doc = logs::mapToEcs(e, cfg, ingest);
    std::string source;
    doc->appendJson(source);
    logs::appendBulkCreate(body, pattern->render(*doc), logs::documentId("bench-logs", e.id), source);
  });
  logs::FastJsonEcsMapper fast;
  const std::function<std::optional<std::string>(std::string_view)> text = [&](std::string_view p) {
    return fast.text(p);
  };
  int64_t declined = 0;
  if (which != "general") run("worker_transform_fast_per_s", [&](const shoal::StreamEntry& e, std::string& body) {
    if (!fast.map(e, cfg, ingest)) {
      ++declined;
      return;
    }
    std::string source;
    fast.appendJson(source);
    logs::appendBulkCreate(body, pattern->render(fast.timestamp(), text), logs::documentId("bench-logs", e.id),
                           source);
  });
  if (declined) std::cerr << "transform: fast path declined " << declined << " entries\n";
  return declined ? 1 : 0;
#endif
}

// The cost of one wide entry (N JSON fields) through the ECS mapping, both
// paths, best of a few runs: it must grow linearly with N.
int wideEntry() {
#ifndef SHOAL_HAVE_LOGS
  std::cerr << "wide: built without the logs pipeline\n";
  return 1;
#else
  namespace logs = shoal::logs;
  const logs::EpochNanos ingest = 1763700000123000000LL;
  auto measure = [&](size_t fields, bool fastPath) {
    shoal::StreamEntry e;
    e.id = "1763700000000-0";
    std::string payload = R"({"message":"wide")";
    for (size_t i = 1; i < fields; ++i)
      payload += ",\"field" + std::to_string(i) + "\":\"v" + std::to_string(i) + "\"";
    payload += "}";
    e.fields = {{"message", payload}};
    logs::LogsTransformConfig cfg;
    cfg.format = logs::LogFormat::kJson;
    cfg.maxFields = fields;
    logs::FastJsonEcsMapper fast;
    double best = 1e30;
    for (int run = 0; run < 5; ++run) {
      std::string source;
      const auto start = SteadyClock::now();
      bool ok;
      if (fastPath) {
        ok = fast.map(e, cfg, ingest);
        if (ok) fast.appendJson(source);
      } else {
        auto doc = logs::mapToEcs(e, cfg, ingest);
        ok = doc.ok();
        if (ok) doc->appendJson(source);
      }
      const double ms =
          std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
      if (!ok) {
        std::cerr << "wide: the " << (fastPath ? "fast" : "general")
                  << " path did not map the entry\n";
        return -1.0;
      }
      best = std::min(best, ms);
    }
    return best;
  };
  for (size_t n : {size_t{10000}, size_t{50000}}) {
    const double general = measure(n, false), fastMs = measure(n, true);
    if (general < 0 || fastMs < 0) return 1;
    const std::string k = std::to_string(n / 1000) + "k";
    std::printf("bench: worker_wide_entry_%s_fields_ms %.2f ms\n", k.c_str(), general);
    std::printf("bench: worker_wide_entry_%s_fields_fast_ms %.2f ms\n", k.c_str(), fastMs);
    if (n == 50000)
      std::printf("bench: worker_wide_entry_us_per_field %.3f us\n",
                  general * 1000.0 / static_cast<double>(n));
  }
  return 0;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"worker_bench: measuring parts of the worker benchmark (see bench/worker/run.sh)"};
  std::string url = "redis://127.0.0.1:6379", stream = "bench-logs", worker, sinkUrl, dir = "/tmp";
  int64_t count = 1000000, batches = 2000;
  app.add_option("--redis", url, "Redis URL");
  app.add_option("--stream", stream, "stream key");
  app.add_option("--count", count, "entries (preload, drain)");
  app.add_option("--batches", batches, "100-entry batches to time (batch)");
  app.add_option("--worker", worker, "shoal-worker executable (drain)");
  app.add_option("--sink", sinkUrl, "bulk endpoint URL (drain)");
  app.add_option("--dir", dir, "scratch directory (drain)");
  std::string mode, path = "both";
  app.add_option("--path", path, "general | fast | both (transform)");
  DrainRun run;
  app.add_option("--parallelism", run.parallelism, "delivery.parallelism of the worker (drain)");
  app.add_option("--compression", run.compression, "sink.elasticsearch.compression: none | gzip (drain)");
  app.add_option("--group", run.group, "consumer group of the run: a new group reads the stream again (drain)");
  app.add_option("--suffix", run.suffix, "appended to the figures' names, e.g. _threads_2 (drain)");
  app.add_option("mode", mode, "preload | ceiling | idle | drain | batch | transform | wide")->required();
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (mode == "preload") return preload(url, stream, count);
  if (mode == "ceiling") return ceiling(url, stream);
  if (mode == "idle") {
    std::printf("bench: worker_bench_idle_cores %.2f cores\n", idleCores(std::chrono::milliseconds(1000)));
    return 0;
  }
  if (mode == "drain") return drain(url, stream, worker, sinkUrl, count, dir, run);
  if (mode == "batch") return batchP99(url, stream, batches);
  if (mode == "transform") return transformRate(count, path);
  if (mode == "wide") return wideEntry();
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
