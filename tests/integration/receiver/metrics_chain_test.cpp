// The metrics chain end to end, every part real: a Prometheus remote-writes
// to shoal-receiver's /api/v1/write, the receiver stores each sample as a
// metric event in a Redis stream, a shoal-worker metrics pipeline reads the
// stream and remote-writes the samples to a second Prometheus (its
// remote-write receiver on). A known series (a recording rule's constant)
// must arrive in the second Prometheus with its value and labels.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "shoal/testing/curl.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

#ifndef SHOAL_RECEIVER_BINARY
#error "SHOAL_RECEIVER_BINARY must name the shoal-receiver executable"
#endif
#ifndef SHOAL_WORKER_BINARY
#error "SHOAL_WORKER_BINARY must name the shoal-worker executable"
#endif

namespace shoal {
namespace {

using shoal::testing::freePort;
using shoal::testing::Process;
using shoal::testing::waitUntil;
using Json = nlohmann::json;
using namespace std::chrono_literals;

TEST(ReceiverMetricsChain, APrometheusSeriesArrivesThroughTheReceiverAndAWorkerInASecondPrometheus) {
  shoal::testing::RedisServer redis;
  shoal::testing::PrometheusServer sink;  // the second Prometheus: only receives
  shoal::testing::TempDir dir;

  const int httpPort = freePort(), metricsPort = freePort();
  std::ofstream(dir.file("receiver.yaml"))
      << "spec:\n  redis: {address: \"127.0.0.1:" << redis.port() << "\"}\n"
      << "  http:\n    port: " << httpPort << "\n    routes:\n      remoteWrite: {stream: \"metrics:rw\"}\n"
      << "  metricsPort: " << metricsPort << "\n";
  Process receiver({.argv = {SHOAL_RECEIVER_BINARY, "--config", dir.file("receiver.yaml"), "--log-level", "warn"},
                    .stderrPath = dir.file("receiver.log")});
  ASSERT_TRUE(waitUntil([&] { return shoal::testing::portOpen(httpPort); })) << Process::readFile(dir.file("receiver.log"));

  // The source Prometheus: a recording rule gives a series of known value
  // every second, remote-written to the receiver.
  std::ofstream(dir.file("rules.yaml")) << "groups:\n  - name: chain\n    interval: 1s\n    rules:\n"
                                           "      - record: shoal_chain_probe\n        expr: vector(42.5)\n"
                                           "        labels: {origin: source}\n";
  shoal::testing::PrometheusServer::Options po;
  po.scrapeInterval = "1s";
  po.ruleFiles = {dir.file("rules.yaml")};
  po.remoteWrite = "  - url: http://127.0.0.1:" + std::to_string(httpPort) +
                   "/api/v1/write\n    queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 200ms}\n";
  shoal::testing::PrometheusServer source(po);

  // A metrics pipeline from the receiver's stream to the second Prometheus.
  std::ofstream(dir.file("pipeline.yaml"))
      << "spec:\n  type: metrics\n  source:\n    redis:\n      url: " << redis.url()
      << "\n      stream: metrics:rw\n      consumerGroup: shoal\n      startId: \"0\"\n  sink:\n"
      << "    prometheusRemoteWrite:\n      url: " << sink.url() << "/api/v1/write\n"
      << "  delivery: {lingerMs: 50}\n";
  Process worker({.argv = {SHOAL_WORKER_BINARY, "--config", dir.file("pipeline.yaml"), "--listen", "127.0.0.1:0",
                           "--log-level", "warn"},
                  .env = {{"SHOAL_CONSUMER_NAME", "chain-1"}},
                  .stderrPath = dir.file("worker.log")});

  // In the stream: the sample as the metric event the worker consumes.
  Json event;
  ASSERT_TRUE(waitUntil(
      [&] {
        // redis-cli prints one reply element per line; the events are the JSON lines.
        std::istringstream range(redis.cli("XRANGE metrics:rw - + COUNT 1000"));
        for (std::string line; std::getline(range, line);) {
          if (line.empty() || line[0] != '{') continue;
          event = Json::parse(line, nullptr, false);
          if (event.is_object() && event.value("name", "") == "shoal_chain_probe") return true;
        }
        return false;
      },
      30s))
      << redis.cli("XLEN metrics:rw") << " entries; receiver log:\n" << Process::readFile(dir.file("receiver.log"));
  EXPECT_EQ(event["value"], 42.5);
  EXPECT_EQ(event["labels"]["origin"], "source");
  EXPECT_EQ(event["type"], "gauge");

  // In the second Prometheus, through the worker.
  Json result;
  EXPECT_TRUE(waitUntil(
      [&] {
        int st = 0;
        const std::string body = shoal::testing::httpGet(sink.port(), "/api/v1/query?query=shoal_chain_probe", &st);
        auto j = Json::parse(body, nullptr, false);
        if (st != 200 || j.is_discarded() || j["data"]["result"].size() != 1) return false;
        result = j["data"]["result"][0];
        return true;
      },
      30s))
      << "worker log:\n"
      << Process::readFile(dir.file("worker.log"));
  EXPECT_EQ(result["value"][1], "42.5") << result.dump();
  EXPECT_EQ(result["metric"]["origin"], "source") << result.dump();
  EXPECT_EQ(result["metric"]["__name__"], "shoal_chain_probe");

  // Everything the worker read it acknowledged (nothing dead-lettered).
  EXPECT_EQ(redis.cli("XLEN metrics:rw:dead").rfind("0", 0), 0u) << redis.cli("XRANGE metrics:rw:dead - +");
  for (Process* p : {&worker, &receiver}) {
    p->signal(SIGTERM);
    auto st = p->wait(20s);
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  }
}

}  // namespace
}  // namespace shoal
