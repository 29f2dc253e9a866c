// Through the front door, end to end, in local mode: the real shoal-local
// runs a Pipeline, its WorkerPool and a Receiver (real shoal-worker and
// shoal-receiver processes) against a real redis-server, with the real
// shoal-bulk-server as the sink. Entries come in over HTTP (shoal-loadgen
// --http: NDJSON batches) and syslog (util-linux logger: octet-counted
// RFC 5424 over TCP, and UDP); each carries a unique token and becomes
// exactly one document, while the pool scales above one worker on the
// backlog. Then the sink stalls: the backlog passes maxBacklog, HTTP is
// answered 429 with Retry-After, a TCP syslog sender's bytes wait unread in
// the socket; once the sink recovers, everything the receiver accepted is
// delivered, once, and nothing it accepted is lost.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "local_status.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/curl.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStream = "logs:e2e";
constexpr const char* kIndex = "e2e-logs";
constexpr int64_t kMaxBacklog = 12000;
// Phase 1 (no throttling: together below maxBacklog).
constexpr int64_t kUdp = 20;
constexpr int64_t kHttp1 = 8000;
constexpr int64_t kSyslog1 = 2000;
// Phase 2 (the sink stalled): more than maxBacklog over HTTP, then syslog
// lines worth far more than a socket's receive buffer (~1 MB).
constexpr int64_t kHttp2 = 16000;
constexpr int64_t kSyslog2 = 6000;

std::string resources(const std::string& sinkUrl, int httpPort, int tcpPort, int udpPort, int metricsPort) {
  std::ostringstream y;
  y << R"(apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata: {name: e2e}
spec:
  type: logs
  source:
    redis:
      address: 127.0.0.1:1   # replaced by --redis-url
      stream: ")" << kStream << R"("
      consumerGroup: shoal-e2e
      startId: "0"
      maxDeliveries: 50
  transform:
    logs: {format: auto}
  sink:
    elasticsearch: {url: ")" << sinkUrl << R"(", index: )" << kIndex << R"(}
  delivery: {batchSize: 200, lingerMs: 20, retryInitialMs: 50, retryMaxMs: 300}
---
apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata: {name: e2e}
spec:
  pipelineRef: {name: e2e}
  minReplicas: 1
  maxReplicas: 3
  terminationGracePeriodSeconds: 20
  scaling:
    policy: targetBacklogPerReplica
    targetBacklogPerReplica: 2000
    pollIntervalSeconds: 0.5
    scaleDown: {stabilizationSeconds: 300}   # no scale-in during the test
---
apiVersion: shoal.dev/v1alpha1
kind: Receiver
metadata: {name: front}
spec:
  replicas: 2   # local mode runs one process anyway
  redis: {address: "127.0.0.1:1"}
  http: {port: )" << httpPort << R"(, routes: {logs: {stream: ")" << kStream << R"("}}}
  syslog:
    tcp: {port: )" << tcpPort << R"(}
    udp: {port: )" << udpPort << R"(}
    route: {stream: ")" << kStream << R"("}
  backpressure: {maxBacklog: )" << kMaxBacklog << R"(, retryAfterSeconds: 1, checkIntervalMilliseconds: 100}
  metricsPort: )" << metricsPort << "\n";
  return y.str();
}

/// `count` syslog messages "tok-<prefix>-<i> ..." one per line, ~150 bytes each.
std::string syslogFile(const TempDir& dir, const std::string& prefix, int64_t count) {
  const std::string path = dir.file(prefix + ".txt");
  std::ofstream f(path);
  for (int64_t i = 0; i < count; ++i) f << "tok-" << prefix << "-" << i << " payment settled " << std::string(100, 'p') << "\n";
  return path;
}

/// One connection's queues from /proc/net/tcp{,6}: bytes the kernel holds.
struct TcpQueues {
  int localPort = 0, remotePort = 0;
  int64_t tx = 0, rx = 0;  // sent but not acknowledged / received but not read
  bool established = false;
};

std::vector<TcpQueues> tcpQueues() {
  std::vector<TcpQueues> out;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string slot, local, remote, state, queues;
      if (!(ls >> slot >> local >> remote >> state >> queues)) continue;
      TcpQueues q;
      q.localPort = std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16);
      q.remotePort = std::stoi(remote.substr(remote.rfind(':') + 1), nullptr, 16);
      q.established = state == "01";
      q.tx = std::stoll(queues.substr(0, queues.find(':')), nullptr, 16);
      q.rx = std::stoll(queues.substr(queues.find(':') + 1), nullptr, 16);
      out.push_back(q);
    }
  }
  return out;
}

/// A syslog sender to `port` is stalled: the receiver's end of its
/// connection holds bytes it does not read, and more wait unsent in the
/// sender's (in whatever state the sender's end is).
bool syslogSenderStalled(int port) {
  bool unread = false, queued = false;
  for (const auto& q : tcpQueues()) {
    unread |= q.established && q.localPort == port && q.rx > 0;
    // The sender may have written everything into its socket and closed it
    // (logger exits): its bytes then wait unsent in FIN_WAIT1, still queued.
    queued |= q.remotePort == port && q.tx > 0;
  }
  return unread && queued;
}

/// The value of one sample ("name{labels}") in a Prometheus text page; -1 if absent.
double metricValue(const std::string& page, const std::string& sample) {
  const auto at = page.find("\n" + sample + " ");
  return at == std::string::npos ? -1 : std::stod(page.substr(at + sample.size() + 2));
}

Process logger(const TempDir& dir, const std::string& name, std::vector<std::string> args) {
  Process::Options o;
  o.argv = {"logger"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stdoutPath = dir.file(name + ".out");
  o.stderrPath = dir.file(name + ".err");
  return Process(o);
}

int64_t loadgenField(const std::string& out, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("\\b" + name + "=([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

TEST(LocalReceiverEndToEnd, HttpAndSyslogInAreDocumentsOutOnceAndBackPressureLosesNothing) {
  RedisServer redis;
  BulkServer bulk;
  TempDir dir;
  const int httpPort = freePort(), tcpPort = freePort(), udpPort = freePort(), metricsPort = freePort();
  const std::string yaml = dir.file("resources.yaml");
  std::ofstream(yaml) << resources(bulk.url(), httpPort, tcpPort, udpPort, metricsPort);
  const std::string status = dir.file("status.json");
  Process::Options o;
  o.argv = {SHOAL_LOCAL_BINARY, "--file", yaml, "--status-file", status, "--worker-binary", SHOAL_WORKER_BINARY,
            "--receiver-binary", SHOAL_RECEIVER_BINARY, "--view", "log", "--redis-url", redis.url(),
            "--work-dir", dir.file("work")};
  o.stdoutPath = dir.file("local.out");
  o.stderrPath = dir.file("local.err");
  Process local(o);
  auto diagnostics = [&] {
    return "--- shoal-local stderr ---\n" + readFile(dir.file("local.err")) + "\n--- receiver log ---\n" +
           readFile(dir.file("work/default_front-receiver.log")) + "\n--- status ---\n" + readFile(status);
  };
  const std::string metricsUrl = "http://127.0.0.1:" + std::to_string(metricsPort) + "/metrics";
  const std::string receiverUrl = "http://127.0.0.1:" + std::to_string(httpPort);

  // One worker and one receiver process (spec.replicas 2: local mode says it runs one).
  ASSERT_TRUE(waitUntil(
      [&] {
        const json pool = poolStatus(status);
        return pool.is_object() && pool.value("readyReplicas", 0) == 1 &&
               condition(receiverStatus(status), "Ready").value("status", "") == "True";
      },
      30s, 50ms))
      << diagnostics();
  EXPECT_EQ(readStatus(status)["receiverProcesses"].size(), 1u);
  EXPECT_NE(condition(receiverStatus(status), "Ready").value("message", "").find("spec.replicas is 2; local mode "
                                                                                 "runs one shoal-receiver"),
            std::string::npos)
      << diagnostics();

  // Each bulk request takes 100 ms: one worker delivers at most 2,000
  // entries/s (batches of 200) whatever the machine's speed, so the backlog
  // outlasts several polls.
  bulk.delayRequests(100);

  // UDP first, while nothing is throttled (UDP cannot be pushed back).
  Process udp = logger(dir, "udp", {"--udp", "--rfc5424", "-n", "127.0.0.1", "-P", std::to_string(udpPort), "-t",
                                    "e2e", "-f", syslogFile(dir, "u", kUdp)});
  ASSERT_TRUE(waitUntil([&] { return xlen(redis, kStream) == kUdp; }, 20s)) << xlen(redis, kStream) << diagnostics();

  // Phase 1: HTTP and syslog TCP at once; the pool scales on the backlog.
  Process::Options lg;
  lg.argv = {SHOAL_LOADGEN_BINARY, "--http", receiverUrl, "--kind", "json", "--total", std::to_string(kHttp1),
             "--batch", "500", "--payload-bytes", "200", "--quiet"};
  lg.stdoutPath = dir.file("loadgen1.out");
  lg.stderrPath = dir.file("loadgen1.err");
  Process loadgen1(lg);
  Process tcp1 = logger(dir, "tcp1", {"--tcp", "--octet-count", "--rfc5424", "-n", "127.0.0.1", "-P",
                                      std::to_string(tcpPort), "-t", "e2e", "-f", syslogFile(dir, "s1", kSyslog1)});
  int peak = 0;
  const int64_t phase1 = kUdp + kHttp1 + kSyslog1;
  ASSERT_TRUE(waitUntil(
      [&] {
        peak = std::max(peak, poolStatus(status).value("replicas", 0));
        return bulk.totalDocs() == phase1 && !loadgen1.running() && !tcp1.running();
      },
      45s, 20ms))
      << "delivered " << bulk.totalDocs() << " of " << phase1 << "\n" << diagnostics();
  const std::string out1 = readFile(dir.file("loadgen1.out"));
  EXPECT_EQ(loadgenField(out1, "accepted"), kHttp1) << out1 << readFile(dir.file("loadgen1.err"));
  EXPECT_EQ(loadgenField(out1, "rejected"), 0) << out1;
  EXPECT_EQ(tcp1.wait(1s).value_or(-1), 0) << readFile(dir.file("tcp1.err"));
  EXPECT_GE(peak, 2) << "the backlog scaled the pool up\n" << diagnostics();

  // Phase 2: the sink stalls (every bulk request 503; the workers retry).
  bulk.failRequests(503, -1);
  lg.argv = {SHOAL_LOADGEN_BINARY, "--http", receiverUrl, "--kind", "json", "--total", std::to_string(kHttp2),
             "--first-seq", std::to_string(kHttp1), "--batch", "500", "--payload-bytes", "200", "--quiet",
             // Paced (1.6 s in all), so the receiver's backlog check sees
             // maxBacklog passed while batches are still to come.
             "--rate", "10000"};
  lg.stdoutPath = dir.file("loadgen2.out");
  lg.stderrPath = dir.file("loadgen2.err");
  Process loadgen2(lg);
  const std::string throttlingLine = std::string("shoal_receiver_throttling{stream=\"") + kStream + "\"} 1";
  ASSERT_TRUE(waitUntil([&] { return curl({metricsUrl}).body.find(throttlingLine) != std::string::npos; }, 30s))
      << "backlog never passed maxBacklog; stream length " << xlen(redis, kStream) << "\n" << diagnostics();

  // HTTP: 429 with Retry-After, and nothing of the batch is stored.
  const std::string refused = dir.file("refused.ndjson");
  std::ofstream(refused) << "{\"message\":\"tok-c-0\"}\n{\"message\":\"tok-c-1\"}\n";
  const CurlResult r = curl({"--data-binary", "@" + refused, "-H", "Content-Type: application/x-ndjson",
                             receiverUrl + "/v1/logs"});
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.header("Retry-After"), "1") << r.headers;
  const int64_t lengthWhileThrottled = xlen(redis, kStream);
  EXPECT_TRUE(loadgen2.running()) << "loadgen is sending its refused batch again, not giving up";

  // Syslog TCP: the sender's bytes wait unread in the socket.
  Process tcp2 = logger(dir, "tcp2", {"--tcp", "--octet-count", "--rfc5424", "-n", "127.0.0.1", "-P",
                                      std::to_string(tcpPort), "-t", "e2e", "-f", syslogFile(dir, "s2", kSyslog2)});
  ASSERT_TRUE(waitUntil([&] { return syslogSenderStalled(tcpPort); }, 15s))
      << "logger running " << tcp2.running() << ", its stderr: " << readFile(dir.file("tcp2.err")) << "\n"
      << [&] {
           std::string q;
           for (const auto& t : tcpQueues())
             if (t.localPort == tcpPort || t.remotePort == tcpPort)
               q += " local=" + std::to_string(t.localPort) + " remote=" + std::to_string(t.remotePort) +
                    " est=" + std::to_string(t.established) + " tx=" + std::to_string(t.tx) +
                    " rx=" + std::to_string(t.rx) + ";";
           return "queues:" + q;
         }()
      << "\n" << diagnostics();
  EXPECT_EQ(xlen(redis, kStream), lengthWhileThrottled) << "nothing was appended while throttled";
  EXPECT_GT(metricValue(curl({metricsUrl}).body, std::string("shoal_receiver_stream_backlog{stream=\"") + kStream +
                                                     "\"}"),
            static_cast<double>(kMaxBacklog))
      << "the backlog passed maxBacklog";

  // The sink recovers: the backlog drains, the throttle lifts, the held
  // batch and the held syslog lines go in, and everything arrives.
  bulk.clearFaults();
  ASSERT_TRUE(waitUntil([&] { return !loadgen2.running() && !tcp2.running(); }, 40s)) << diagnostics();
  const std::string out2 = readFile(dir.file("loadgen2.out"));
  EXPECT_EQ(loadgenField(out2, "accepted"), kHttp2) << out2 << readFile(dir.file("loadgen2.err"));
  EXPECT_GT(loadgenField(out2, "throttled"), 0) << out2;
  EXPECT_EQ(loadgenField(out2, "unavailable"), 0) << out2;
  EXPECT_EQ(tcp2.wait(1s).value_or(-1), 0) << readFile(dir.file("tcp2.err"));
  const int64_t total = phase1 + kHttp2 + kSyslog2;
  ASSERT_TRUE(waitUntil([&] { return bulk.totalDocs() == total; }, 40s))
      << "delivered " << bulk.totalDocs() << " of " << total << "\n" << diagnostics();

  // Exactly once, by token: every accepted entry is one document.
  std::map<std::string, int> seen;
  const std::regex token("tok-(?:u|s1|s2|c)-[0-9]+|request [0-9]+ handled");
  int untokened = 0;
  for (const auto& d : bulk.docs(kIndex)) {
    const std::string source = d["_source"].dump();
    std::smatch m;
    if (std::regex_search(source, m, token)) ++seen[m[0]];
    else ++untokened;
  }
  EXPECT_EQ(untokened, 0);
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
  auto once = [&](const std::string& t) {
    auto it = seen.find(t);
    return it != seen.end() && it->second == 1;
  };
  int64_t missingOrTwice = 0;
  for (int64_t i = 0; i < kHttp1 + kHttp2; ++i) missingOrTwice += !once("request " + std::to_string(i) + " handled");
  for (int64_t i = 0; i < kUdp; ++i) missingOrTwice += !once("tok-u-" + std::to_string(i));
  for (int64_t i = 0; i < kSyslog1; ++i) missingOrTwice += !once("tok-s1-" + std::to_string(i));
  for (int64_t i = 0; i < kSyslog2; ++i) missingOrTwice += !once("tok-s2-" + std::to_string(i));
  EXPECT_EQ(missingOrTwice, 0);
  EXPECT_EQ(seen.count("tok-c-0") + seen.count("tok-c-1"), 0u) << "the batch answered 429 was not stored";
  EXPECT_EQ(xlen(redis, kStream), total);
  EXPECT_EQ(xlen(redis, std::string(kStream) + ":dead"), 0);
  EXPECT_EQ(xlen(redis, std::string(kStream) + ":rejected"), 0);

  local.signal(SIGTERM);
  auto exited = local.wait(30s);
  ASSERT_TRUE(exited.has_value()) << diagnostics();
  EXPECT_TRUE(WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0) << diagnostics();
}

}  // namespace
}  // namespace shoal::testing
