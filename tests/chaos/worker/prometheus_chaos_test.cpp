// Fault scenario for the metrics pipeline: Prometheus stopped and
// restarted (same port, same data dir) while a shoal-worker writes to it with
// remote write. Every metric event is its own series (`shoal_chaos_event{id}`),
// so the Prometheus query API can tell, per event, whether it arrived and
// whether a second sample was stored for it. Asserts: every event delivered
// or (only if genuinely bad) dead-lettered, no series with two samples, the
// pending list empty. Prints
//   chaos: prometheus_restart sent=N delivered=N duplicates=N lost=N dead_lettered=N ...
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "chaos_harness.h"

using namespace shoal::chaos;
using namespace std::chrono_literals;
using nlohmann::json;
using shoal::testing::waitUntil;

namespace {

constexpr int64_t kInvalidEvery = 1000;  // every 1000th event has a name Prometheus rejects
const std::string kStream = "chaos-metrics";

std::string urlEncode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (isalnum(c) || c == '_' || c == '.' || c == '-') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Instant query at the current time; the result vector, or null if the query failed.
json query(const shoal::testing::PrometheusServer& prom, const std::string& promql) {
  int st = 0;
  const auto now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string body = shoal::testing::httpGet(
      prom.port(), "/api/v1/query?query=" + urlEncode(promql) + "&time=" + std::to_string(now + 1),
      &st);
  auto j = json::parse(body, nullptr, false);
  if (st != 200 || j.is_discarded() || j.value("status", "") != "success") return nullptr;
  return j["data"]["result"];
}

// Samples stored per event id (label `id`) over the last hour; empty on error.
std::map<int64_t, int64_t> samplesPerEvent(const shoal::testing::PrometheusServer& prom) {
  std::map<int64_t, int64_t> out;
  json r = query(prom, "count_over_time(shoal_chaos_event[1h])");
  if (!r.is_array()) return out;
  for (auto& s : r) {
    const std::string id = s["metric"].value("id", "");
    const std::string n = s["value"][1].get<std::string>();
    if (!id.empty()) out[std::stoll(id)] = std::stoll(n);
  }
  return out;
}

int64_t deliveredEvents(const shoal::testing::PrometheusServer& prom) {
  json r = query(prom, "count(count_over_time(shoal_chaos_event[1h]))");
  if (!r.is_array() || r.empty()) return 0;
  return std::stoll(r[0]["value"][1].get<std::string>());
}

std::vector<std::string> events(int64_t from, int64_t to) {
  std::vector<std::string> out;
  for (int64_t i = from; i < to; ++i) {
    // No timestamp: the sample takes the entry id's time, so a redelivery is
    // the very same sample.
    const bool bad = (i + 1) % kInvalidEvery == 0;
    out.push_back(std::string(R"({"name":")") + (bad ? "bad name" : "shoal_chaos_event") +
                  R"(","type":"gauge","value":)" + std::to_string(i) + R"(,"labels":{"id":")" +
                  std::to_string(i) + R"("}})");
  }
  return out;
}

}  // namespace

TEST(Chaos, PrometheusStoppedAndRestarted) {
  const int64_t n = longForm() ? 100'000 : 10'000;
  const auto outage = longForm() ? 30s : 3s;
  shoal::testing::RedisServer redis;
  shoal::testing::PrometheusServer prom;
  shoal::testing::TempDir dir;
  std::ofstream(dir.file("pipeline.yaml"))
      << "apiVersion: shoal.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: chaos-metrics\nspec:\n"
      << "  type: metrics\n  source:\n    redis:\n      stream: " << kStream << "\n"
      << "      consumerGroup: shoal\n      startId: \"0\"\n      maxDeliveries: 1000\n"
      << "      claimMinIdleMs: 1000\n      claimIntervalMs: 250\n      connectTimeoutMs: 1000\n"
      << "      readTimeoutMs: 1000\n      blockMs: 200\n"
      << "  transform:\n    metrics:\n      payloadField: event\n"
      << "  sink:\n    prometheusRemoteWrite:\n      url: " << prom.url() << "/api/v1/write\n"
      << "      timeoutMs: 2000\n      retryInitialMs: 20\n      retryMaxMs: 500\n"
      << "  delivery:\n    batchSize: 500\n    lingerMs: 5\n    shutdownTimeoutMs: 10000\n";

  // entry ids in event order: ids[i] is event i
  std::vector<std::string> ids = addEntries(redis, kStream, "event", events(0, n / 2));
  const std::string log = dir.file("worker.log");
  shoal::testing::Process worker(
      {.argv = {std::string(SHOAL_BINARY_DIR) + "/runtime/worker/shoal-worker", "--config",
                dir.file("pipeline.yaml"), "--listen", "127.0.0.1:0", "--log-level", "warn"},
       .env = {{"SHOAL_CONSUMER_NAME", "chaos-metrics-0"}, {"SHOAL_REDIS_URL", redis.url()}},
       .stdoutPath = log,
       .stderrPath = log});
  ASSERT_TRUE(waitUntil([&] { return deliveredEvents(prom) > 0; }, 60s, 100ms))
      << shoal::testing::Process::readFile(log);

  // Down mid-run; the second half arrives while Prometheus is away, so the
  // worker must hold it and retry rather than drop or dead-letter it.
  prom.stop();
  const auto more = addEntries(redis, kStream, "event", events(n / 2, n));
  ids.insert(ids.end(), more.begin(), more.end());
  ASSERT_TRUE(waitUntil(
      [&] {
        return shoal::testing::Process::readFile(log).find("remote write failed, retrying") !=
               std::string::npos;
      },
      30s, 50ms))
      << shoal::testing::Process::readFile(log);
  std::this_thread::sleep_for(outage);  // the outage itself, not synchronization
  EXPECT_GT(pendingCount(redis, kStream, "shoal"), 0)
      << "entries read during the outage stay pending until Prometheus has them";
  EXPECT_LE(deadLetterCount(redis, kStream), n / kInvalidEvery)
      << "an outage must not dead-letter good events";
  prom.start();  // same port, same data dir

  ASSERT_TRUE(waitUntil(
      [&] {
        return deliveredEvents(prom) + deadLetterCount(redis, kStream) >= n &&
               pendingCount(redis, kStream, "shoal") == 0;
      },
      3min, 250ms))
      << "delivered " << deliveredEvents(prom) << "\n"
      << shoal::testing::Process::readFile(log);
  worker.signal(SIGTERM);
  auto st = worker.wait(30s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << shoal::testing::Process::readFile(log);

  // Per event: stored once, or dead-lettered because it was bad.
  std::set<std::string> delivered;
  int64_t doubled = 0;
  for (auto& [i, samples] : samplesPerEvent(prom)) {
    if (i < 0 || i >= static_cast<int64_t>(ids.size())) continue;
    delivered.insert(ids[static_cast<size_t>(i)]);
    if (samples > 1) ++doubled;
  }
  Tally t = account(redis, kStream, "shoal", delivered, doubled);
  std::cout << t.line("prometheus_restart") << std::endl;
  EXPECT_EQ(t.sent, n);
  EXPECT_EQ(t.lost, 0);
  EXPECT_EQ(t.duplicates, 0);
  EXPECT_EQ(t.pending, 0);
  EXPECT_EQ(t.deadLettered, n / kInvalidEvery) << "only the events with a bad metric name";
  EXPECT_EQ(t.delivered + t.deadLettered, t.sent);
  // The dead letters are exactly the bad events.
  EXPECT_NE(redis.cli("XRANGE " + kStream + ":dead - + COUNT 1").find("not a valid metric name"),
            std::string::npos);
}
