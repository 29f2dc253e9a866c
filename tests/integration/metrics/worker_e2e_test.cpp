// End to end through a real shoal-worker process: Redis stream -> metrics
// pipeline -> Prometheus remote write, with an invalid event dead-lettered
// and everything acknowledged.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>

#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal {
namespace {

using testing::waitUntil;

std::string urlEncode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (isalnum(c) || c == '_') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

TEST(MetricsWorkerE2E, StreamToPrometheusWithDeadLetters) {
  testing::RedisServer redis;
  testing::PrometheusServer prom;
  testing::TempDir dir;
  const int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count() - 5000;
  for (int i = 0; i < 3; ++i) {
    const std::string ev = R"({"name":"e2e_jobs_total","type":"counter","value":)" + std::to_string(10 + i) +
                           R"(,"labels":{"worker":"w)" + std::to_string(i) + R"("},"timestamp":)" + std::to_string(t) + "}";
    redis.cli("XADD metrics '*' event '" + ev + "'");
  }
  redis.cli(R"(XADD metrics '*' event '{"name":"bad name","type":"gauge","value":1}')");
  std::ofstream(dir.file("pipeline.yaml"))
      << "spec:\n  type: metrics\n  source:\n    redis:\n      url: " << redis.url()
      << "\n      stream: metrics\n      consumerGroup: shoal\n      startId: \"0\"\n  sink:\n"
      << "    prometheusRemoteWrite:\n      url: " << prom.url() << "/api/v1/write\n";
  testing::Process worker({.argv = {SHOAL_WORKER_PATH, "--config", dir.file("pipeline.yaml"), "--listen",
                                    "127.0.0.1:0", "--log-level", "warn"},
                           .env = {{"SHOAL_CONSUMER_NAME", "e2e-1"}},
                           .stderrPath = dir.file("worker.log")});
  auto queried = [&] {
    int st = 0;
    const std::string body = testing::httpGet(
        prom.port(), "/api/v1/query?query=" + urlEncode("sum(e2e_jobs_total)") + "&time=" + std::to_string(t / 1000.0), &st);
    auto j = nlohmann::json::parse(body, nullptr, false);
    return st == 200 && !j.is_discarded() && j["data"]["result"].size() == 1 &&
           j["data"]["result"][0]["value"][1] == "33";
  };
  EXPECT_TRUE(waitUntil(queried, std::chrono::seconds(20))) << testing::Process::readFile(dir.file("worker.log"));
  EXPECT_TRUE(waitUntil([&] { return redis.cli("XLEN metrics:dead").find("1") == 0; }, std::chrono::seconds(10)));
  const std::string dead = redis.cli("XRANGE metrics:dead - +");
  EXPECT_NE(dead.find("not a valid metric name"), std::string::npos) << dead;
  // Everything acknowledged: nothing pending in the group.
  EXPECT_TRUE(waitUntil([&] { return redis.cli("XPENDING metrics shoal").rfind("0\n", 0) == 0; },
                        std::chrono::seconds(10)))
      << redis.cli("XPENDING metrics shoal");
  worker.signal(SIGTERM);
  auto st = worker.wait(std::chrono::seconds(20));
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << testing::Process::readFile(dir.file("worker.log"));
}

}  // namespace
}  // namespace shoal
