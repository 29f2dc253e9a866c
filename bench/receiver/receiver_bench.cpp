// receiver_bench: the receiver benchmark's measuring parts. Subcommands:
//   ceiling  XADD 500-entry pipelines of ~300-byte logs straight to Redis from
//            N connections: the Redis write ceiling on this machine
//   http     POSTs 500-entry NDJSON batches of the same logs to a running
//            shoal-receiver over N keep-alive connections. --phase
//            throughput: events/s and the receiver's peak RSS (VmHWM of
//            --pid); --phase latency: the p99 of one request (run it with one
//            connection, so that it is the request's time, not our queue's)
//   syslog   sends ~300-byte RFC 5424 lines (newline framing) to a running
//            shoal-receiver's syslog TCP port over N connections and waits
//            until the target stream holds them all (XLEN through Redis):
//            events/s from the first byte sent to the last entry stored
// Each prints `bench: <name> <value> <unit>` lines.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "shoal/http/client.h"
#include "shoal/redis/client.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

// About 300 bytes of JSON log, unique per i.
std::string logLine(int64_t i) {
  char buf[512];
  const int n = std::snprintf(
      buf, sizeof buf,
      R"({"@timestamp":"2026-12-04T10:%02d:%02d.%03dZ","level":"info","message":"GET /api/v1/items/%lld returned 200 )"
      R"(in %d ms","service":{"name":"checkout"},"host":{"name":"node-%d"},"trace":{"id":"%016llx%016llx"},)"
      R"("http":{"method":"GET","status":200,"bytes":%d}})",
      static_cast<int>(i / 60000 % 60), static_cast<int>(i / 1000 % 60), static_cast<int>(i % 1000),
      static_cast<long long>(i), static_cast<int>(i % 997), static_cast<int>(i % 16),
      static_cast<unsigned long long>(i * 2654435761ull), static_cast<unsigned long long>(~i), static_cast<int>(i % 5000));
  std::string s(buf, static_cast<size_t>(n));
  if (s.size() < 300) s.insert(s.size() - 1, ",\"pad\":\"" + std::string(300 - s.size() - 9, 'p') + "\"");
  return s;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int64_t peakRssKib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

int ceiling(const std::string& url, const std::string& stream, int64_t batches, int connections) {
  auto o = shoal::redis::parseUrl(url);
  if (!o) return 2;
  // The same 64 distinct batches as the HTTP run, built before the clock starts.
  std::vector<std::vector<shoal::redis::Command>> prepared(64);
  for (size_t b = 0; b < prepared.size(); ++b)
    for (int64_t i = 0; i < 500; ++i)
      prepared[b].push_back({"XADD", stream, "*", "message", logLine(static_cast<int64_t>(b) * 500 + i)});
  std::atomic<int64_t> next{0}, written{0};
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      shoal::redis::Client client(*o, shoal::SystemClock::instance());
      for (int64_t b; (b = next.fetch_add(1)) < batches;) {
        auto r = client.pipeline(prepared[static_cast<size_t>(b) % prepared.size()]);
        if (!r) {
          std::cerr << "ceiling: " << r.error().message << "\n";
          return;
        }
        written += 500;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::printf("bench: redis_xadd_ceiling_per_s %.0f events/s\n", static_cast<double>(written.load()) / s);
  return written.load() == batches * 500 ? 0 : 1;
}

int httpLoad(const std::string& url, int64_t batches, int connections, int pid, const std::string& phase) {
  // Distinct bodies, built before the clock starts.
  std::vector<std::string> bodies(64);
  for (size_t b = 0; b < bodies.size(); ++b)
    for (int64_t i = 0; i < 500; ++i) bodies[b] += logLine(static_cast<int64_t>(b) * 500 + i) + "\n";
  std::atomic<int64_t> next{0}, accepted{0}, failed{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(connections));
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      shoal::http::ClientOptions co;
      co.url = url;
      auto client = shoal::http::makeClient(co);
      if (!client) return;
      for (int64_t b; (b = next.fetch_add(1)) < batches;) {
        shoal::http::Request req;
        req.path = "/v1/logs";
        req.body = bodies[static_cast<size_t>(b) % bodies.size()];
        req.contentType = "application/x-ndjson";
        const auto s = SteadyClock::now();
        auto res = (*client)->send(req);
        latencies[static_cast<size_t>(c)].push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - s).count());
        if (res.status == 200) {
          accepted += 500;
        } else {
          ++failed;
          if (failed == 1) std::cerr << "http: status " << res.status << " " << res.error << res.body << "\n";
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  if (phase == "throughput") {
    std::printf("bench: receiver_http_ndjson_events_per_s %.0f events/s\n", static_cast<double>(accepted.load()) / s);
    if (pid > 0) std::printf("bench: receiver_peak_rss_mib %.1f MiB\n", static_cast<double>(peakRssKib(pid)) / 1024.0);
  } else {
    std::printf("bench: receiver_p99_request_ms %.2f ms\n", percentile(all, 0.99));
  }
  return failed.load() == 0 ? 0 : 1;
}

// An RFC 5424 line of about 300 bytes, unique per i.
std::string syslogLine(int64_t i) {
  std::string m = "<134>1 2026-12-04T18:00:00.000000+00:00 host-" + std::to_string(i % 50) +
                  " checkout 1234 ID47 - GET /api/v1/items/" + std::to_string(i) + " returned 200 ";
  m.append(300 - std::min<size_t>(m.size(), 299), 'x');
  return m;
}

bool sendAll(int port, const std::string& data) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  for (size_t off = 0; ok && off < data.size();) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    ok = n > 0;
    if (ok) off += static_cast<size_t>(n);
  }
  ::close(fd);
  return ok;
}

int syslogLoad(int port, const std::string& redisUrl, const std::string& stream, int64_t frames, int connections) {
  auto o = shoal::redis::parseUrl(redisUrl);
  if (!o) return 2;
  shoal::redis::Client client(*o, shoal::SystemClock::instance());
  auto xlen = [&]() -> int64_t {
    auto r = client.command({"XLEN", stream});
    return r ? r->asInt().value_or(-1) : -1;
  };
  const int64_t before = xlen();
  if (before < 0) {
    std::cerr << "syslog: cannot read XLEN " << stream << "\n";
    return 1;
  }
  // Each connection's lines, built before the clock starts.
  std::vector<std::string> parts(static_cast<size_t>(connections));
  for (int64_t i = 0; i < frames; ++i) parts[static_cast<size_t>(i % connections)] += syslogLine(i) + "\n";
  const auto t0 = SteadyClock::now();
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (const auto& p : parts) threads.emplace_back([&] { failed += sendAll(port, p) ? 0 : 1; });
  for (auto& t : threads) t.join();
  int64_t stored = 0;
  while ((stored = xlen() - before) < frames && SteadyClock::now() - t0 < std::chrono::seconds(300))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the figure, not synchronizing a test
  const double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  if (failed.load() != 0 || stored != frames) {
    std::cerr << "syslog: " << stored << " of " << frames << " lines stored, " << failed.load() << " senders failed\n";
    return 1;
  }
  std::printf("bench: receiver_syslog_tcp_events_per_s %.0f events/s\n", static_cast<double>(frames) / s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"receiver_bench"};
  app.require_subcommand(1);
  std::string redisUrl, stream = "bench-ceiling", url;
  int64_t batches = 2000;
  int connections = 4, pid = 0;
  auto* c = app.add_subcommand("ceiling", "XADD ceiling");
  c->add_option("--redis", redisUrl)->required();
  c->add_option("--stream", stream);
  c->add_option("--batches", batches);
  c->add_option("--connections", connections);
  auto* h = app.add_subcommand("http", "POST load against shoal-receiver");
  h->add_option("--url", url)->required();
  h->add_option("--batches", batches);
  h->add_option("--connections", connections);
  h->add_option("--pid", pid, "the receiver's pid, for its peak RSS");
  std::string phase = "throughput";
  h->add_option("--phase", phase, "throughput: events/s and peak RSS; latency: p99 of one request")
      ->check(CLI::IsMember({"throughput", "latency"}));
  auto* sl = app.add_subcommand("syslog", "TCP syslog load against shoal-receiver, stored entries counted in Redis");
  int syslogPort = 0;
  int64_t frames = 500000;
  sl->add_option("--port", syslogPort, "the receiver's syslog TCP port")->required();
  sl->add_option("--redis", redisUrl, "the Redis the receiver writes to")->required();
  sl->add_option("--stream", stream, "the syslog route's stream")->required();
  sl->add_option("--frames", frames);
  sl->add_option("--connections", connections);
  CLI11_PARSE(app, argc, argv);
  if (c->parsed()) return ceiling(redisUrl, stream, batches, connections);
  if (sl->parsed()) return syslogLoad(syslogPort, redisUrl, stream, frames, connections);
  return httpLoad(url, batches, connections, pid, phase);
}
