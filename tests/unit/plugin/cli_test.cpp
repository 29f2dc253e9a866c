// The command line of `kubectl shoal` without a cluster: help per command,
// usage errors (exit 2, naming the flag), and failures to find a kubeconfig
// or reach the API server (exit 1, saying which).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "shoal/plugin/cli.h"
#include "shoal/testing/process.h"

namespace shoal::plugin {
namespace {

struct Invocation {
  int code = -1;
  std::string out, err;
};

Invocation run(std::vector<std::string> args, const std::string& stdinText = "") {
  args.insert(args.begin(), "kubectl-shoal");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in(stdinText);
  std::ostringstream out, err;
  Invocation r;
  r.code = runPlugin(static_cast<int>(argv.size()), argv.data(), in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(PluginCli, HelpPerCommand) {
  Invocation r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"status", "why", "dlq", "replay", "--kubeconfig", "--context",
                        "--namespace", "--all-namespaces", "--output"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  r = run({"replay", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"--ids", "--all", "--yes", "--dry-run", "--redis-url"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  r = run({"why", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--kubeconfig"), std::string::npos) << "global flags are named\n" << r.out;
  r = run({"dlq", "-h"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--tail"), std::string::npos) << r.out;
}

TEST(PluginCli, UsageErrorsNameTheFlagAndExit2) {
  Invocation r = run({"status", "--bogus"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  r = run({"status", "-o", "xml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--output"), std::string::npos) << r.err;
  r = run({"dlq", "p", "--tail", "many"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--tail"), std::string::npos) << r.err;
  r = run({"why"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("pool"), std::string::npos) << r.err;
  r = run({"replay", "p"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--ids"), std::string::npos) << r.err;
  r = run({"replay", "p", "--ids", "1-1", "--all"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--all"), std::string::npos) << r.err;
  r = run({"why", "x", "-A"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--all-namespaces"), std::string::npos) << r.err;
  r = run({});
  EXPECT_EQ(r.code, 2);
  r = run({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
}

TEST(PluginCli, MissingKubeconfigIsAClearFailure) {
  Invocation r = run({"status", "--kubeconfig", "/nonexistent/kubeconfig"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot load a kubeconfig"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/kubeconfig"), std::string::npos) << r.err;
}

TEST(PluginCli, TheLastOfARepeatedFlagCounts) {
  Invocation r =
      run({"status", "--kubeconfig", "/first/kubeconfig", "--kubeconfig", "/second/kubeconfig"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("/second/kubeconfig"), std::string::npos) << r.err;
}

TEST(PluginCli, UnreachableApiServerIsAClearFailure) {
  shoal::testing::TempDir dir;
  const int port = shoal::testing::freePort();  // nothing listens there
  const std::string server = "https://127.0.0.1:" + std::to_string(port);
  std::ofstream(dir.file("config")) << "apiVersion: v1\nkind: Config\n"
                                       "clusters: [{name: c, cluster: {server: '"
                                    << server
                                    << "', insecure-skip-tls-verify: true}}]\n"
                                       "users: [{name: u, user: {token: t}}]\n"
                                       "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                                       "current-context: x\n";
  Invocation r = run({"status", "--kubeconfig", dir.file("config")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach the Kubernetes API server at " + server), std::string::npos)
      << r.err;
  r = run({"status", "--kubeconfig", dir.file("config"), "--context", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace shoal::plugin
