// The logs handler against a real OpenSearch 2.11 node (server jars from
// Maven Central, started in-process by tests/tools/bulk_server/opensearch/
// run.sh on free loopback ports). Skipped when java or mvn is missing.
#include <httplib.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "shoal/logs/logs_handler.h"
#include "shoal/testing/process.h"

using namespace shoal;
using namespace shoal::testing;
using nlohmann::json;

namespace {

class OpenSearchNode {
 public:
  OpenSearchNode() {
    httpPort_ = freePort();
    int transportPort = freePort();
    Process::Options o;
    o.argv = {"bash", SHOAL_SOURCE_DIR "/tests/tools/bulk_server/opensearch/run.sh", dir_.file("home"),
              std::to_string(httpPort_), std::to_string(transportPort)};
    o.stdoutPath = dir_.file("stdout");
    o.stderrPath = dir_.file("stderr");
    proc_ = Process(o);
    ready_ = waitUntil(
        [&] {
          if (!proc_.running()) return true;
          auto r = httplib::Client("127.0.0.1", httpPort_).Get("/_cluster/health");
          return r && r->status == 200;
        },
        std::chrono::seconds(240), std::chrono::milliseconds(200));
    ready_ = ready_ && proc_.running();
  }
  bool ready() const { return ready_; }
  std::string log() const { return Process::readFile(dir_.file("stderr")).substr(0, 4000); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(httpPort_); }
  int64_t count(const std::string& index) {
    httplib::Client c("127.0.0.1", httpPort_);
    c.Post(("/" + index + "/_refresh").c_str(), "", "application/json");
    auto r = c.Get(("/" + index + "/_count").c_str());
    if (!r || r->status != 200) return -1;
    return json::parse(r->body).value("count", int64_t{-1});
  }

 private:
  TempDir dir_;
  int httpPort_ = 0;
  Process proc_;
  bool ready_ = false;
};

bool haveJavaAndMaven() {
  return std::system("command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1") == 0;
}

std::vector<StreamEntry> makeEntries(int n, int first, const std::string& status) {
  std::vector<StreamEntry> v;
  for (int i = 0; i < n; ++i) {
    StreamEntry e;
    e.id = std::to_string(1700000000000LL + first + i) + "-0";
    e.fields = {{"message", R"({"@timestamp":"2024-05-06T07:08:09Z","level":"info","service":"web",)"
                            R"("msg":"request","http":{"status":)" + status + "}}"}};
    v.push_back(std::move(e));
  }
  return v;
}

class LogsOpenSearch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!haveJavaAndMaven()) return;
    node_ = new OpenSearchNode();
  }
  static void TearDownTestSuite() {
    delete node_;
    node_ = nullptr;
  }
  void SetUp() override {
    if (!node_) GTEST_SKIP() << "java and mvn are needed for a real OpenSearch";
    ASSERT_TRUE(node_->ready()) << node_->log();
  }
  std::unique_ptr<BatchHandler> handler(prometheus::Registry& registry) {
    PipelineConfig p;
    p.type = "logs";
    p.redis.stream = "logs:os";
    p.delivery.retryInitialMs = 10;
    p.delivery.retryMaxMs = 200;
    p.sink = YAML::Load("elasticsearch: {url: '" + node_->url() +
                        "', index: 'shoal-{service.name}-{yyyy.MM.dd}'}");
    return makeLogsHandler(p, registry, SystemClock::instance(), {});
  }
  static OpenSearchNode* node_;
};
OpenSearchNode* LogsOpenSearch::node_ = nullptr;

size_t delivered(const std::vector<EntryResult>& r) {
  return static_cast<size_t>(std::count_if(
      r.begin(), r.end(), [](auto& x) { return x.outcome == EntryOutcome::kDelivered; }));
}

}  // namespace

TEST_F(LogsOpenSearch, ThousandLogsIndexedAndRedeliveryIsNotDuplicated) {
  prometheus::Registry registry;
  auto h = handler(registry);
  CancelToken cancel;
  auto entries = makeEntries(1000, 1, "200");
  for (size_t i = 0; i < entries.size(); i += 250) {
    std::vector<StreamEntry> batch(entries.begin() + i, entries.begin() + i + 250);
    ASSERT_EQ(delivered(h->handle(batch, cancel)), 250u);
  }
  EXPECT_EQ(node_->count("shoal-web-2024.05.06"), 1000);
  // Redelivered (as after a crash before XACK): 409 from the real engine.
  std::vector<StreamEntry> again(entries.begin(), entries.begin() + 100);
  EXPECT_EQ(delivered(h->handle(again, cancel)), 100u);
  EXPECT_EQ(node_->count("shoal-web-2024.05.06"), 1000);
  EXPECT_TRUE(h->sinkReady());
}

TEST_F(LogsOpenSearch, MappingConflictIsDeadLetteredWithTheEngineError) {
  prometheus::Registry registry;
  auto h = handler(registry);
  CancelToken cancel;
  auto batch = makeEntries(3, 5000, "200");
  auto bad = makeEntries(1, 6000, "\"not-a-number\"");
  batch.push_back(bad[0]);
  auto r = h->handle(batch, cancel);
  EXPECT_EQ(delivered(r), 3u);
  ASSERT_EQ(r[3].outcome, EntryOutcome::kDeadLetter);
  EXPECT_NE(r[3].reason.find("400 mapper_parsing_exception"), std::string::npos) << r[3].reason;
}
