// Static checks of the CustomResourceDefinitions in crds/: the Helm chart's
// copies have not drifted, and the schemas keep the promises the API makes
// (every field described and bounded, defaults where documented, CEL rules with
// messages, printer columns and subresources pointing at real fields). What the
// API server itself accepts and rejects is proven in tests/integration/chart.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "shoal/api/pipeline.h"
#include "shoal/policy/scaling_policy.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kSource = SHOAL_SOURCE_DIR;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> crdFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("shoal.dev_", 0) == 0 && e.path().extension() == ".yaml") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

YAML::Node loadCrd(const std::string& file) { return YAML::LoadFile((kSource / "crds" / file).string()); }

YAML::Node versionOf(const YAML::Node& crd) { return crd["spec"]["versions"][0]; }

YAML::Node rootSchema(const YAML::Node& crd) { return versionOf(crd)["schema"]["openAPIV3Schema"]; }

// Follows a dotted path ("spec.scaling.scaleDown") through `properties`.
YAML::Node schemaAt(const YAML::Node& root, const std::string& dotted) {
  YAML::Node n = YAML::Clone(root);
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (part.empty()) continue;
    if (n["type"] && n["type"].as<std::string>() == "array") n = n["items"];
    if (!n["properties"] || !n["properties"][part]) return YAML::Node();
    n = n["properties"][part];
  }
  return n;
}

// Collects every violation of the field rules below the given schema node.
void checkField(const YAML::Node& n, const std::string& path, bool isItemOrValue,
                std::vector<std::string>& problems) {
  const bool intOrString = n["x-kubernetes-int-or-string"] && n["x-kubernetes-int-or-string"].as<bool>();
  const bool preserve =
      n["x-kubernetes-preserve-unknown-fields"] && n["x-kubernetes-preserve-unknown-fields"].as<bool>();
  if (!n["type"] && !intOrString) problems.push_back(path + ": no type (schemas must be structural)");
  const std::string type = n["type"] ? n["type"].as<std::string>() : "";
  if (!isItemOrValue && !n["description"]) problems.push_back(path + ": no description");
  if (type == "string" && !n["maxLength"] && !n["enum"] && !n["format"])
    problems.push_back(path + ": string without maxLength, enum or format");
  if (type == "array") {
    if (!n["maxItems"]) problems.push_back(path + ": array without maxItems");
    if (!n["items"]) {
      problems.push_back(path + ": array without items");
    } else {
      checkField(n["items"], path + "[]", true, problems);
      if (n["x-kubernetes-list-type"] && n["x-kubernetes-list-type"].as<std::string>() == "map") {
        for (const auto& key : n["x-kubernetes-list-map-keys"]) {
          bool required = false;
          for (const auto& r : n["items"]["required"]) required |= r.as<std::string>() == key.as<std::string>();
          if (!required) problems.push_back(path + ": list-map key " + key.as<std::string>() + " not required");
        }
      }
    }
  }
  if (type == "object" && n["additionalProperties"]) {
    if (!n["maxProperties"]) problems.push_back(path + ": map without maxProperties");
    checkField(n["additionalProperties"], path + "{}", true, problems);
  }
  if (type == "object" && !n["properties"] && !n["additionalProperties"] && !preserve && path != "metadata")
    problems.push_back(path + ": object with no properties (would prune everything)");
  for (const auto& rule : n["x-kubernetes-validations"]) {
    if (!rule["rule"] || !rule["message"]) problems.push_back(path + ": CEL rule without rule or message");
  }
  if (n["properties"]) {
    std::set<std::string> props;
    for (const auto& p : n["properties"]) {
      const std::string name = p.first.as<std::string>();
      props.insert(name);
      const std::string child = path.empty() ? name : path + "." + name;
      if (path.empty() && (name == "apiVersion" || name == "kind")) continue;  // standard, unbounded
      if (path.empty() && name == "metadata") continue;
      checkField(p.second, child, false, problems);
    }
    for (const auto& r : n["required"]) {
      if (!props.count(r.as<std::string>())) problems.push_back(path + ": required " + r.as<std::string>() + " is not a property");
    }
  }
}

// A printer-column JSONPath like .status.conditions[?(@.type=="Ready")].status
// or .status.pools[*].name, reduced to a dotted schema path.
std::string columnPathToDotted(std::string p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '[') {
      int depth = 0;
      for (; i < p.size(); ++i) {
        if (p[i] == '[') ++depth;
        if (p[i] == ']' && --depth == 0) break;
      }
      continue;
    }
    out += p[i];
  }
  if (!out.empty() && out[0] == '.') out.erase(0, 1);
  return out;
}

class CrdFileTest : public ::testing::TestWithParam<std::string> {};

TEST(CrdDrift, ChartCrdsAreIdenticalToTopLevelCrds) {
  const auto top = crdFiles(kSource / "crds");
  const auto chart = crdFiles(kSource / "charts/shoal/crds");
  ASSERT_EQ(top.size(), 3u) << "expected the Pipeline, Receiver and WorkerPool CRDs in crds/";
  ASSERT_EQ(chart.size(), top.size()) << "charts/shoal/crds/ must hold exactly the CRDs of crds/";
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i].filename(), chart[i].filename());
    const std::string a = readFile(top[i]), b = readFile(chart[i]);
    if (a == b) continue;
    // Name the first differing line rather than dumping both files.
    std::stringstream sa(a), sb(b);
    std::string la, lb;
    int line = 0;
    while (true) {
      ++line;
      const bool ga = static_cast<bool>(std::getline(sa, la)), gb = static_cast<bool>(std::getline(sb, lb));
      if (!ga || !gb || la != lb) break;
    }
    ADD_FAILURE() << chart[i] << " drifted from " << top[i] << " at line " << line << ":\n  crds/:  " << la
                  << "\n  chart:  " << lb << "\nfix: cp crds/shoal.dev_*.yaml charts/shoal/crds/";
  }
}

TEST(CrdDrift, KustomizationListsEveryCrd) {
  const YAML::Node k = YAML::LoadFile((kSource / "crds/kustomization.yaml").string());
  std::set<std::string> listed;
  for (const auto& r : k["resources"]) listed.insert(r.as<std::string>());
  for (const auto& f : crdFiles(kSource / "crds")) EXPECT_TRUE(listed.count(f.filename().string())) << f;
}

TEST_P(CrdFileTest, IsAServedStoredV1alpha1InTheShoalGroupAndCategory) {
  const YAML::Node crd = loadCrd(GetParam());
  EXPECT_EQ(crd["apiVersion"].as<std::string>(), "apiextensions.k8s.io/v1");
  EXPECT_EQ(crd["kind"].as<std::string>(), "CustomResourceDefinition");
  EXPECT_EQ(crd["spec"]["group"].as<std::string>(), "shoal.dev");
  EXPECT_EQ(crd["spec"]["scope"].as<std::string>(), "Namespaced");
  EXPECT_EQ(crd["metadata"]["name"].as<std::string>(),
            crd["spec"]["names"]["plural"].as<std::string>() + ".shoal.dev");
  ASSERT_EQ(crd["spec"]["versions"].size(), 1u);
  const YAML::Node v = versionOf(crd);
  EXPECT_EQ(v["name"].as<std::string>(), "v1alpha1");
  EXPECT_TRUE(v["served"].as<bool>());
  EXPECT_TRUE(v["storage"].as<bool>());
  EXPECT_TRUE(v["subresources"]["status"].IsDefined());
  bool inCategory = false;
  for (const auto& c : crd["spec"]["names"]["categories"]) inCategory |= c.as<std::string>() == "shoal";
  EXPECT_TRUE(inCategory);
  EXPECT_GE(crd["spec"]["names"]["shortNames"].size(), 1u);
}

TEST_P(CrdFileTest, EveryFieldIsTypedDescribedAndBounded) {
  std::vector<std::string> problems;
  checkField(rootSchema(loadCrd(GetParam())), "", false, problems);
  std::string all;
  for (const auto& p : problems) all += "\n  " + p;
  EXPECT_TRUE(problems.empty()) << GetParam() << ":" << all;
}

TEST_P(CrdFileTest, ConditionsAreAListMapKeyedByType) {
  const YAML::Node c = schemaAt(rootSchema(loadCrd(GetParam())), "status.conditions");
  ASSERT_TRUE(c.IsDefined());
  EXPECT_EQ(c["x-kubernetes-list-type"].as<std::string>(), "map");
  ASSERT_EQ(c["x-kubernetes-list-map-keys"].size(), 1u);
  EXPECT_EQ(c["x-kubernetes-list-map-keys"][0].as<std::string>(), "type");
  for (const char* f : {"type", "status", "observedGeneration", "lastTransitionTime", "reason", "message"})
    EXPECT_TRUE(c["items"]["properties"][f].IsDefined()) << f;
}

TEST_P(CrdFileTest, PrinterColumnsPointAtSchemaFields) {
  const YAML::Node crd = loadCrd(GetParam());
  const YAML::Node root = rootSchema(crd);
  for (const auto& col : versionOf(crd)["additionalPrinterColumns"]) {
    const std::string jp = col["jsonPath"].as<std::string>();
    if (jp == ".metadata.creationTimestamp") continue;
    EXPECT_TRUE(schemaAt(root, columnPathToDotted(jp)).IsDefined())
        << col["name"].as<std::string>() << ": " << jp << " is not in the schema";
  }
}

INSTANTIATE_TEST_SUITE_P(Crds, CrdFileTest,
                         ::testing::Values("shoal.dev_pipelines.yaml", "shoal.dev_workerpools.yaml",
                                           "shoal.dev_receivers.yaml"),
                         [](const auto& info) {
                           if (info.param.find("pipelines") != std::string::npos) return std::string("Pipeline");
                           if (info.param.find("receivers") != std::string::npos) return std::string("Receiver");
                           return std::string("WorkerPool");
                         });

std::vector<std::string> columnNames(const YAML::Node& crd, int priority) {
  std::vector<std::string> out;
  for (const auto& col : versionOf(crd)["additionalPrinterColumns"]) {
    const int p = col["priority"] ? col["priority"].as<int>() : 0;
    if (p == priority) out.push_back(col["name"].as<std::string>());
  }
  return out;
}

TEST(PipelineCrd, ShowsTypeStreamSinkReadyAgeAndBacklogWhenWide) {
  const YAML::Node crd = loadCrd("shoal.dev_pipelines.yaml");
  EXPECT_EQ(columnNames(crd, 0), (std::vector<std::string>{"Type", "Stream", "Sink", "Ready", "Age"}));
  const auto wide = columnNames(crd, 1);
  EXPECT_NE(std::find(wide.begin(), wide.end(), "Backlog"), wide.end());
}

TEST(WorkerPoolCrd, ShowsPoolColumnsAndRatesWhenWide) {
  const YAML::Node crd = loadCrd("shoal.dev_workerpools.yaml");
  EXPECT_EQ(columnNames(crd, 0),
            (std::vector<std::string>{"Pipeline", "Ready", "Replicas", "Desired", "Backlog", "Age"}));
  const auto wide = columnNames(crd, 1);
  for (const char* c : {"Arrival/s", "Consumption/s", "Drain-Seconds"})
    EXPECT_NE(std::find(wide.begin(), wide.end(), c), wide.end()) << c;
  bool wp = false;
  for (const auto& s : crd["spec"]["names"]["shortNames"]) wp |= s.as<std::string>() == "wp";
  EXPECT_TRUE(wp) << "`kubectl get wp` is documented";
}

// /scale reads .spec.replicas, .status.replicas and .status.selector.
void expectScaleSubresourceOnReplicasAndSelector(const YAML::Node& crd) {
  const YAML::Node scale = versionOf(crd)["subresources"]["scale"];
  ASSERT_TRUE(scale.IsDefined());
  EXPECT_EQ(scale["specReplicasPath"].as<std::string>(), ".spec.replicas");
  EXPECT_EQ(scale["statusReplicasPath"].as<std::string>(), ".status.replicas");
  EXPECT_EQ(scale["labelSelectorPath"].as<std::string>(), ".status.selector");
}

TEST(WorkerPoolCrd, ScaleSubresourcePointsAtReplicasAndSelector) {
  const YAML::Node crd = loadCrd("shoal.dev_workerpools.yaml");
  expectScaleSubresourceOnReplicasAndSelector(crd);
  const YAML::Node root = rootSchema(crd);
  EXPECT_EQ(schemaAt(root, "spec.replicas")["type"].as<std::string>(), "integer");
  EXPECT_EQ(schemaAt(root, "status.replicas")["type"].as<std::string>(), "integer");
  EXPECT_EQ(schemaAt(root, "status.selector")["type"].as<std::string>(), "string");
  EXPECT_FALSE(schemaAt(root, "spec.replicas")["default"].IsDefined())
      << "a default would fight the scaler for ownership of spec.replicas";
}

TEST(ReceiverCrd, ShowsReplicasReadyThrottlingAndAgeAndScalesThroughSlashScale) {
  const YAML::Node crd = loadCrd("shoal.dev_receivers.yaml");
  EXPECT_EQ(columnNames(crd, 0), (std::vector<std::string>{"Replicas", "Ready", "Throttling", "Age"}));
  expectScaleSubresourceOnReplicasAndSelector(crd);
  const YAML::Node root = rootSchema(crd);
  EXPECT_EQ(schemaAt(root, "status.selector")["type"].as<std::string>(), "string");
  // The operator's default (api::ReceiverSpec) and the CRD's agree.
  EXPECT_EQ(schemaAt(root, "spec.replicas")["default"].as<int>(), 1);
  EXPECT_EQ(schemaAt(root, "spec.metricsPort")["default"].as<int>(), 9090);
}

TEST(Crds, ParentsOfDefaultedFieldsDefaultToEmptyObjects) {
  const YAML::Node pipeline = rootSchema(loadCrd("shoal.dev_pipelines.yaml"));
  for (const char* p : {"spec.delivery", "spec.transform"}) {
    const YAML::Node n = schemaAt(pipeline, p);
    ASSERT_TRUE(n["default"].IsDefined()) << p;
    EXPECT_TRUE(n["default"].IsMap() && n["default"].size() == 0) << p;
  }
  const YAML::Node pool = rootSchema(loadCrd("shoal.dev_workerpools.yaml"));
  for (const char* p : {"spec.scaling", "spec.scaling.scaleUp", "spec.scaling.scaleDown", "spec.template"}) {
    const YAML::Node n = schemaAt(pool, p);
    ASSERT_TRUE(n["default"].IsDefined()) << p;
    EXPECT_TRUE(n["default"].IsMap() && n["default"].size() == 0) << p;
  }
}

// The defaults of the scaling policy (policy::ScalingSpec{}) are the CRD's:
// the test reads both, so a default changed on one side alone fails here.
TEST(WorkerPoolCrd, ScalingDefaultsMatchThePolicy) {
  const YAML::Node pool = rootSchema(loadCrd("shoal.dev_workerpools.yaml"));
  auto num = [&](const char* p) { return schemaAt(pool, p)["default"].as<double>(); };
  auto str = [&](const char* p) { return schemaAt(pool, p)["default"].as<std::string>(); };
  const shoal::policy::ScalingSpec d{};
  const shoal::policy::ScalingParameters& s = d.scaling;
  EXPECT_EQ(str("spec.scaling.policy"), shoal::policy::policyKindName(s.policy));
  EXPECT_EQ(num("spec.minReplicas"), d.minReplicas);
  EXPECT_EQ(num("spec.maxReplicas"), d.maxReplicas);
  EXPECT_EQ(num("spec.scaling.drainSeconds"), s.drainSeconds);
  EXPECT_EQ(num("spec.scaling.targetBacklogPerReplica"), s.targetBacklogPerReplica);
  EXPECT_EQ(num("spec.scaling.perReplicaThroughput"), s.perReplicaThroughput);
  EXPECT_EQ(num("spec.scaling.headroom"), s.headroom);
  EXPECT_EQ(num("spec.scaling.podStartupSeconds"), s.podStartupSeconds);
  EXPECT_EQ(num("spec.scaling.pollIntervalSeconds"), s.pollIntervalSeconds);
  EXPECT_EQ(num("spec.scaling.activationBacklog"), s.activationBacklog);
  EXPECT_EQ(num("spec.scaling.idleSeconds"), s.idleSeconds);
  EXPECT_EQ(num("spec.scaling.scaleUp.stabilizationSeconds"), s.scaleUp.stabilizationSeconds);
  EXPECT_EQ(num("spec.scaling.scaleDown.stabilizationSeconds"), s.scaleDown.stabilizationSeconds);
  EXPECT_EQ(num("spec.scaling.scaleDown.maxPodsPerStep"), s.scaleDown.maxPodsPerStep);
  EXPECT_EQ(num("spec.scaling.scaleDown.percent"), s.scaleDown.percent);
  EXPECT_EQ(num("spec.scaling.scaleDown.periodSeconds"), s.scaleDown.periodSeconds);
  EXPECT_EQ(str("spec.scaling.scaleDown.whenIdle"),
            shoal::policy::idleScaleDownName(s.scaleDown.whenIdle));
  EXPECT_EQ(num("spec.scaling.deadBand"), s.deadBand);
  EXPECT_EQ(num("spec.scaling.failuresBeforeFallback"), s.failuresBeforeFallback);
  EXPECT_EQ(schemaAt(pool, "spec.scaling.fallbackReplicas")["default"].IsDefined(),
            s.fallbackReplicas.has_value());
  EXPECT_EQ(schemaAt(pool, "spec.scaling.paused")["default"].as<bool>(), s.paused);
}

// spec.retention has no default (absent: never trim), its fields' defaults
// are the API's, and its bounds are the ones the operator enforces.
TEST(PipelineCrd, RetentionDefaultsAndBoundsMatchTheApi) {
  const YAML::Node pipeline = rootSchema(loadCrd("shoal.dev_pipelines.yaml"));
  EXPECT_FALSE(schemaAt(pipeline, "spec.retention")["default"].IsDefined()) << "retention must stay opt-in";
  const shoal::api::RetentionSpec d{};
  EXPECT_EQ(schemaAt(pipeline, "spec.retention.onFull")["default"].as<std::string>(), d.onFull);
  EXPECT_EQ(schemaAt(pipeline, "spec.retention.intervalSeconds")["default"].as<int64_t>(), d.intervalSeconds);
  EXPECT_EQ(schemaAt(pipeline, "spec.retention.intervalSeconds")["maximum"].as<int64_t>(),
            shoal::api::kMaxRetentionIntervalSeconds);
  std::vector<std::string> onFull;
  for (const auto& v : schemaAt(pipeline, "spec.retention.onFull")["enum"]) onFull.push_back(v.as<std::string>());
  EXPECT_EQ(onFull, (std::vector<std::string>{shoal::api::kOnFullThrottle, shoal::api::kOnFullDropOldest}));
  // What the CRD accepts, the API parses, and its bounds are the API's.
  const int64_t maxKeep = schemaAt(pipeline, "spec.retention.keepAcknowledged.count")["maximum"].as<int64_t>();
  nlohmann::json p = {{"spec",
                       {{"type", "logs"},
                        {"source", {{"redis", {{"address", "r:6379"}, {"stream", "s"}}}}},
                        {"retention",
                         {{"keepAcknowledged",
                           {{"count", maxKeep}, {"age", "366d"}}},
                          {"maxLength", schemaAt(pipeline, "spec.retention.maxLength")["maximum"].as<int64_t>()}}}}}};
  auto parsed = shoal::api::pipelineFromJson(p);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  p["spec"]["retention"]["maxLength"] = schemaAt(pipeline, "spec.retention.maxLength")["maximum"].as<int64_t>() + 1;
  EXPECT_FALSE(shoal::api::pipelineFromJson(p).ok());
  p["spec"]["retention"]["maxLength"] = 1000000;
  p["spec"]["retention"]["keepAcknowledged"]["count"] = maxKeep + 1;
  EXPECT_FALSE(shoal::api::pipelineFromJson(p).ok());
}

// Credentials are referenced, never inlined: no schema field may be named like
// a secret value.
TEST(Crds, NoFieldHoldsACredential) {
  for (const char* f : {"shoal.dev_pipelines.yaml", "shoal.dev_workerpools.yaml", "shoal.dev_receivers.yaml"}) {
    std::vector<std::string> offenders;
    std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& n,
                                                                         const std::string& path) {
      if (!n.IsMap()) return;
      for (const auto& p : n["properties"]) {
        const std::string name = p.first.as<std::string>();
        for (const char* bad : {"password", "token", "apiKey", "secret"}) {
          if (name == bad) offenders.push_back(path + "." + name);
        }
        walk(p.second, path + "." + name);
      }
      if (n["items"]) walk(n["items"], path + "[]");
    };
    walk(rootSchema(loadCrd(f)), "");
    EXPECT_TRUE(offenders.empty()) << f << ": " << ::testing::PrintToString(offenders);
  }
}

}  // namespace
