// The file-backed ResourceStore: YAML documents as `kubectl apply -f` takes
// them, errors that name the file and the field, status kept in memory.
#include <gtest/gtest.h>

#include "shoal/common/base64.h"

#include <filesystem>
#include <fstream>

#include "shoal/local/file_store.h"

namespace shoal::local {
namespace {

const char* kGood = R"(# a comment
apiVersion: v1
kind: Secret
metadata:
  name: redis-auth
data:
  password: czNjcjN0          # "s3cr3t"
stringData:
  username: shoal
---
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unrelated
---
apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata:
  name: app-logs
spec:
  type: logs
  source:
    redis:
      address: 127.0.0.1:6379
      stream: "logs:app"
      consumerGroup: g
      passwordSecretRef: {name: redis-auth, key: password}
  transform:
    logs:
      fields: {service.version: "1.10", retries: 3}
  sink:
    elasticsearch:
      url: http://127.0.0.1:9200
  delivery:
    batchSize: 500
    lingerMs: 12.5
---
apiVersion: shoal.dev/v1alpha1
kind: WorkerPool
metadata:
  name: app-logs
  namespace: team-a
spec:
  pipelineRef: {name: app-logs}
  minReplicas: 2
  maxReplicas: 6
)";

TEST(FileStore, ParsesEveryKindAndIgnoresOthersWithAWarning) {
  ResourceSet set;
  auto r = parseResourceText(kGood, "demo.yaml", set);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(set.pipelines.count("default/app-logs"), 1u);
  EXPECT_EQ(set.workerPools.count("team-a/app-logs"), 1u);
  ASSERT_EQ(set.secrets.count("default/redis-auth"), 1u);
  EXPECT_EQ(set.secrets["default/redis-auth"]["password"], "s3cr3t");
  EXPECT_EQ(set.secrets["default/redis-auth"]["username"], "shoal");
  ASSERT_EQ(set.warnings.size(), 1u);
  EXPECT_NE(set.warnings[0].find("demo.yaml: document 3 (ConfigMap unrelated)"), std::string::npos)
      << set.warnings[0];
}

TEST(FileStore, FillsMetadataAsTheApiServerWould) {
  ResourceSet set;
  ASSERT_TRUE(parseResourceText(kGood, "demo.yaml", set).ok());
  const auto& md = set.pipelines["default/app-logs"]["metadata"];
  EXPECT_EQ(md["namespace"], "default");
  EXPECT_EQ(md["generation"], 1);
  EXPECT_EQ(md["uid"].get<std::string>().rfind("local-", 0), 0u);
  ResourceSet again;
  ASSERT_TRUE(parseResourceText(kGood, "other.yaml", again).ok());
  EXPECT_EQ(again.pipelines["default/app-logs"]["metadata"]["uid"], md["uid"]) << "uid is stable";
}

TEST(FileStore, YamlScalarsKeepTheirTypesAndQuotedOnesStayStrings) {
  ResourceSet set;
  ASSERT_TRUE(parseResourceText(kGood, "demo.yaml", set).ok());
  const auto& spec = set.pipelines["default/app-logs"]["spec"];
  EXPECT_TRUE(spec["delivery"]["batchSize"].is_number_integer());
  EXPECT_DOUBLE_EQ(spec["delivery"]["lingerMs"].get<double>(), 12.5);
  EXPECT_EQ(spec["transform"]["logs"]["fields"]["service.version"], "1.10");
  EXPECT_EQ(spec["transform"]["logs"]["fields"]["retries"], 3);
  EXPECT_EQ(spec["source"]["redis"]["stream"], "logs:app");

  auto j = yamlToJson(YAML::Load("{a: ~, b: true, c: 'true', d: -7, e: 1e3, f: 0.5x, g: \"\"}"));
  EXPECT_TRUE(j["a"].is_null());
  EXPECT_EQ(j["b"], true);
  EXPECT_EQ(j["c"], "true");
  EXPECT_EQ(j["d"], -7);
  EXPECT_DOUBLE_EQ(j["e"].get<double>(), 1000.0);
  EXPECT_EQ(j["f"], "0.5x");
  EXPECT_EQ(j["g"], "");
}

void expectError(const std::string& yaml, const std::vector<std::string>& parts) {
  ResourceSet set;
  auto r = parseResourceText(yaml, "bad.yaml", set);
  ASSERT_FALSE(r.ok()) << yaml;
  for (const auto& p : parts) {
    EXPECT_NE(r.error().message.find(p), std::string::npos)
        << "'" << r.error().message << "' lacks '" << p << "'";
  }
}

TEST(FileStore, ErrorsNameTheFileTheDocumentAndTheField) {
  expectError(R"(apiVersion: v1
kind: Secret
metadata: {name: s}
---
apiVersion: shoal.dev/v1alpha1
kind: Pipeline
metadata: {name: p}
spec:
  type: logs
  source: {redis: {address: "h:1"}}
)",
              {"bad.yaml: document 2 (Pipeline p)", "spec.source.redis.stream"});
  expectError("apiVersion: shoal.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: w}\nspec: {}\n",
              {"bad.yaml: document 1 (WorkerPool w)", "spec.pipelineRef.name"});
  expectError("apiVersion: shoal.dev/v1alpha1\nmetadata: {name: w}\n", {"document 1", "kind: missing"});
  expectError("apiVersion: shoal.dev/v1\nkind: WorkerPool\nmetadata: {name: w}\n",
              {"(WorkerPool w)", "apiVersion: must be shoal.dev/v1alpha1"});
  expectError("apiVersion: shoal.dev/v1alpha1\nkind: WorkerPool\nspec: {}\n",
              {"(WorkerPool)", "metadata"});
  expectError("- just\n- a list\n", {"document 1", "not a map"});
  expectError("kind: Pipeline\nmetadata: {name: [unclosed\n", {"bad.yaml:", "invalid YAML"});
  expectError("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: '***'}\n",
              {"(Secret s)", "data.password", "base64"});
  expectError("apiVersion: shoal.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: w}\n"
              "spec: {pipelineRef: {name: p}}\n---\n"
              "apiVersion: shoal.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: w}\n"
              "spec: {pipelineRef: {name: p}}\n",
              {"document 2", "already defined in bad.yaml (document 1)"});
}

TEST(FileStore, LoadResourceFilesNamesAMissingFile) {
  auto r = loadResourceFiles({"/nonexistent/shoal.yaml"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/shoal.yaml"), std::string::npos);
}

TEST(FileStore, StatusIsKeptInMemoryAndReadBack) {
  ResourceSet set;
  ASSERT_TRUE(parseResourceText(kGood, "demo.yaml", set).ok());
  FileResourceStore store(std::move(set));
  auto pool = store.getWorkerPool("team-a", "app-logs");
  ASSERT_TRUE(pool.ok() && pool.value());
  EXPECT_EQ(pool.value()->spec.minReplicas, 2);
  ASSERT_TRUE(store.writeWorkerPoolStatus(*pool.value(), {{"replicas", 3}, {"desiredReplicas", 4}}).ok());
  auto again = store.getWorkerPool("team-a", "app-logs");
  EXPECT_EQ(again.value()->status.replicas, 3);
  EXPECT_EQ(again.value()->status.desiredReplicas, 4);
  EXPECT_FALSE(store.getWorkerPool("default", "app-logs").value().has_value());
  EXPECT_EQ(store.listWorkerPools("team-a").value().size(), 1u);
  EXPECT_TRUE(store.listWorkerPools("default").value().empty());

  auto p = store.getPipeline("default", "app-logs");
  ASSERT_TRUE(p.ok() && p.value());
  ASSERT_TRUE(store.setPipelineFinalizer(*p.value(), "shoal.dev/consumer-group", true).ok());
  EXPECT_EQ(store.getPipeline("default", "app-logs").value()->metadata.finalizers.size(), 1u);
  ASSERT_TRUE(store.setPipelineFinalizer(*p.value(), "shoal.dev/consumer-group", false).ok());
  EXPECT_TRUE(store.getPipeline("default", "app-logs").value()->metadata.finalizers.empty());

  auto snap = store.snapshot();
  ASSERT_EQ(snap["workerPools"].size(), 1u);
  EXPECT_EQ(snap["workerPools"][0]["status"]["replicas"], 3);
}

TEST(FileStore, SecretsComeFromFilesThenFromTheEnvironment) {
  ResourceSet set;
  ASSERT_TRUE(parseResourceText(kGood, "demo.yaml", set).ok());
  std::map<std::string, std::string> env{{"SHOAL_SECRET_ES_AUTH_API_KEY", "k-123"}};
  FileResourceStore store(std::move(set), [&](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_EQ(*store.getSecretValue("default", {"redis-auth", "password"}).value(), "s3cr3t");
  EXPECT_EQ(*store.getSecretValue("default", {"es-auth", "api-key"}).value(), "k-123");
  EXPECT_FALSE(store.getSecretValue("default", {"redis-auth", "nope"}).value().has_value());
  EXPECT_EQ(secretEnvName("app-logs.redis", "password"), "SHOAL_SECRET_APP_LOGS_REDIS_PASSWORD");
}

TEST(FileStore, RedisUrlOverrideReplacesTheAddress) {
  ResourceSet set;
  ASSERT_TRUE(parseResourceText(kGood, "demo.yaml", set).ok());
  ASSERT_TRUE(overrideRedisUrl(set, "redis://127.0.0.1:7777/0").ok());
  const auto& redis = set.pipelines["default/app-logs"]["spec"]["source"]["redis"];
  EXPECT_EQ(redis["url"], "redis://127.0.0.1:7777/0");
  EXPECT_FALSE(redis.contains("address"));
  EXPECT_FALSE(overrideRedisUrl(set, "redis://user:pw@127.0.0.1:7777").ok());
  EXPECT_FALSE(overrideRedisUrl(set, "http://127.0.0.1:7777").ok());
}

// Secret data is decoded by the Kubernetes client's decoder, shared with the
// Kubernetes store.
TEST(FileStore, Base64DecodesWithAndWithoutPadding) {
  EXPECT_EQ(shoal::base64Decode("aGVsbG8="), "hello");
  EXPECT_EQ(shoal::base64Decode("aGVsbG8"), "hello");
  EXPECT_EQ(shoal::base64Decode(""), "");
  EXPECT_FALSE(shoal::base64Decode("a").has_value());
  EXPECT_FALSE(shoal::base64Decode("ab$d").has_value());
}

TEST(FileStore, WritesFilesAtomically) {
  const auto dir = std::filesystem::temp_directory_path() / ("shoal-fs-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "status.json").string();
  ASSERT_TRUE(writeFileAtomically(path, "one").ok());
  ASSERT_TRUE(writeFileAtomically(path, "two").ok());
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "two");
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u) << "no temp file left behind";
  EXPECT_FALSE(writeFileAtomically((dir / "missing" / "x").string(), "x").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shoal::local
