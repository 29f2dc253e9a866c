// Local mode runs Receivers: the real shoal-local starts the real
// shoal-receiver from a resource file against a real redis-server; curl (a
// real client) posts NDJSON, every line is in the stream once shoal-local
// reports the Receiver Ready, and SIGTERM stops the receiver before
// shoal-local exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "local_status.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

bool conditionIs(const json& st, const std::string& type, const std::string& status) {
  return condition(st, type).value("status", "") == status;
}

TEST(LocalReceiver, ShoalLocalRunsTheReceiverAndEveryPostedLineReachesTheStream) {
  RedisServer redis;
  TempDir dir;
  const int httpPort = freePort(), metricsPort = freePort();
  const std::string yaml = dir.file("receiver.yaml");
  {
    std::ofstream f(yaml);
    f << "apiVersion: shoal.dev/v1alpha1\nkind: Receiver\nmetadata: {name: front}\nspec:\n"
         "  redis: {address: \"127.0.0.1:1\"}   # replaced by --redis-url\n"
         "  http: {port: " << httpPort << ", routes: {logs: {stream: \"logs:front\"}}}\n"
         "  metricsPort: " << metricsPort << "\n";
  }
  const std::string status = dir.file("status.json");
  Process::Options o;
  o.argv = {SHOAL_LOCAL_BINARY, "--file", yaml, "--status-file", status, "--receiver-binary",
            SHOAL_RECEIVER_BINARY, "--worker-binary", SHOAL_WORKER_BINARY, "--view", "none",
            "--redis-url", redis.url(), "--work-dir", dir.file("work")};
  o.stdoutPath = dir.file("local.out");
  o.stderrPath = dir.file("local.err");
  Process local(o);
  auto diagnostics = [&] { return readFile(dir.file("local.err")) + "\n" + readFile(status); };

  ASSERT_TRUE(waitUntil([&] { return conditionIs(receiverStatus(status), "Ready", "True"); }, 30s, 50ms))
      << diagnostics();
  EXPECT_TRUE(conditionIs(receiverStatus(status), "RedisReachable", "True")) << diagnostics();

  std::string body;
  for (int i = 0; i < 500; ++i) body += R"({"message":"line )" + std::to_string(i) + "\"}\n";
  const std::string bodyFile = dir.file("body.ndjson");
  std::ofstream(bodyFile) << body;
  int rc = -1;
  const std::string code =
      runCommand("curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/x-ndjson' "
                 "--data-binary @" + bodyFile + " http://127.0.0.1:" + std::to_string(httpPort) + "/v1/logs",
                 false, &rc);
  EXPECT_EQ(code, "200") << diagnostics();
  EXPECT_EQ(redis.cli("XLEN logs:front"), "500\n");

  local.signal(SIGTERM);
  auto exit = local.wait(60000ms);
  ASSERT_TRUE(exit.has_value()) << diagnostics();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << diagnostics();
  const json procs = json::parse(readFile(status), nullptr, false).value("receiverProcesses", json::array());
  ASSERT_EQ(procs.size(), 1u) << diagnostics();
  EXPECT_TRUE(procs[0]["pid"].is_null()) << "the receiver was stopped: " << procs.dump();
  EXPECT_EQ(procs[0]["restarts"], 0);
}

}  // namespace
}  // namespace shoal::testing
