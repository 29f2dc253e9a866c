// rw_receiver: a fast Prometheus remote-write receiver for benchmarks and
// tests. It checks the headers, snappy-decodes and protobuf-decodes every
// WriteRequest, counts series and samples, and answers 204 (400 for a body it
// cannot decode). GET /stats returns the counters as JSON; GET /-/ready 200.
//
//   rw_receiver [--port P]     (0 or absent: any free port)
// Prints "listening <port>" on stdout once it accepts connections.
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shoal/metrics/remote_write_codec.h"

namespace {
std::atomic<uint64_t> gRequests{0}, gSamples{0}, gSeries{0}, gBytes{0}, gErrors{0};
httplib::Server* gServer = nullptr;
void onSignal(int) {
  if (gServer) gServer->stop();
}
}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);

  httplib::Server server;
  server.set_tcp_nodelay(true);
  gServer = &server;
  server.Post("/api/v1/write", [](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Content-Encoding") != "snappy" ||
        req.get_header_value("X-Prometheus-Remote-Write-Version").empty()) {
      gErrors.fetch_add(1);
      res.status = 400;
      res.set_content("missing remote write headers", "text/plain");
      return;
    }
    auto raw = shoal::metrics::snappyUncompress(req.body);
    auto counts = raw ? shoal::metrics::countWriteRequest(*raw)
                      : shoal::Result<shoal::metrics::WriteRequestCounts>(raw.error());
    if (!counts) {
      gErrors.fetch_add(1);
      res.status = 400;
      res.set_content(counts.error().message, "text/plain");
      return;
    }
    gRequests.fetch_add(1);
    gSeries.fetch_add(counts->series);
    gSamples.fetch_add(counts->samples);
    gBytes.fetch_add(req.body.size());
    res.status = 204;
  });
  server.Get("/stats", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"requests\":" + std::to_string(gRequests.load()) + ",\"series\":" +
                        std::to_string(gSeries.load()) + ",\"samples\":" + std::to_string(gSamples.load()) +
                        ",\"bytes\":" + std::to_string(gBytes.load()) + ",\"errors\":" +
                        std::to_string(gErrors.load()) + "}\n",
                    "application/json");
  });
  server.Get("/-/ready", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });

  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port <= 0) {
    std::fprintf(stderr, "rw_receiver: cannot bind\n");
    return 1;
  }
  std::printf("listening %d\n", port);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
