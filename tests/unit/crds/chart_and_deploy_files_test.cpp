// Static checks of the Helm chart's values and of deploy/: every value is
// documented by a comment starting with its name and declared in
// values.schema.json; the example and plain manifests are well-formed YAML
// whose Secret references resolve; the Dockerfiles are multi-stage, Debian
// based, non-root, assemble the image like `make images`, and name the runtime
// packages for every shared library the built binaries load (checked with ldd
// and dpkg when the binaries exist).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shoal/testing/servers.h"

namespace fs = std::filesystem;

namespace {

const fs::path kSource = SHOAL_SOURCE_DIR;
const fs::path kBinary = SHOAL_BINARY_DIR;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string l;
  while (std::getline(ss, l)) out.push_back(l);
  return out;
}

size_t indentOf(const std::string& l) { return l.find_first_not_of(' '); }

// One key line of values.yaml: its dotted path and the comment block above it.
struct DocumentedKey {
  std::string path;
  std::string firstCommentLine;  // empty when undocumented
};

// Walks values.yaml line by line (yaml-cpp drops comments), tracking the
// indentation stack to name each key by its dotted path.
std::vector<DocumentedKey> valuesKeys(const std::string& text) {
  std::vector<DocumentedKey> out;
  std::vector<std::pair<size_t, std::string>> stack;  // indent, key
  std::vector<std::string> comment;
  static const std::regex keyLine(R"(^(\s*)([A-Za-z][A-Za-z0-9_]*):(\s.*)?$)");
  for (const auto& l : lines(text)) {
    const size_t ind = indentOf(l);
    if (ind == std::string::npos) {
      comment.clear();
      continue;
    }
    if (l[ind] == '#') {
      comment.push_back(l.substr(ind));
      continue;
    }
    std::smatch m;
    if (l[ind] == '-' || !std::regex_match(l, m, keyLine)) {
      comment.clear();
      continue;
    }
    while (!stack.empty() && stack.back().first >= ind) stack.pop_back();
    std::string path;
    for (const auto& s : stack) path += s.second + ".";
    path += m[2].str();
    stack.emplace_back(ind, m[2].str());
    out.push_back({path, comment.empty() ? "" : comment.front()});
    comment.clear();
  }
  return out;
}

// Dotted paths of every property values.schema.json declares.
void schemaPaths(const nlohmann::json& s, const std::string& prefix, std::set<std::string>& out) {
  if (!s.contains("properties")) return;
  for (const auto& [k, v] : s["properties"].items()) {
    const std::string p = prefix.empty() ? k : prefix + "." + k;
    out.insert(p);
    schemaPaths(v, p, out);
  }
}

TEST(ChartValues, EveryDeclaredValueIsDocumentedByACommentStartingWithItsName) {
  const auto keys = valuesKeys(readFile(kSource / "charts/shoal/values.yaml"));
  const auto schema = nlohmann::json::parse(readFile(kSource / "charts/shoal/values.schema.json"));
  std::set<std::string> declared;
  schemaPaths(schema, "", declared);
  declared.erase("global");  // set by Helm for subcharts, not a value of ours
  std::map<std::string, std::string> documented;
  for (const auto& k : keys) documented[k.path] = k.firstCommentLine;
  for (const auto& p : declared) {
    auto it = documented.find(p);
    ASSERT_NE(it, documented.end()) << p << " is in values.schema.json but not in values.yaml";
    const std::string& c = it->second;
    EXPECT_EQ(c.rfind("# " + p, 0), 0u) << p << ": its comment must start with its name, got '" << c << "'";
  }
}

TEST(ChartValues, EveryValueKeyOfAStructuredSectionIsDeclaredInTheSchema) {
  const auto keys = valuesKeys(readFile(kSource / "charts/shoal/values.yaml"));
  const auto schema = nlohmann::json::parse(readFile(kSource / "charts/shoal/values.schema.json"));
  std::set<std::string> declared;
  schemaPaths(schema, "", declared);
  for (const auto& k : keys) {
    const auto dot = k.path.rfind('.');
    const std::string parent = dot == std::string::npos ? "" : k.path.substr(0, dot);
    // Keys inside free-form values (resources, securityContext, ...) are data.
    if (!parent.empty() && !declared.count(parent)) continue;
    bool parentFreeForm = false;
    if (!parent.empty()) {
      nlohmann::json node = schema;
      std::stringstream ss(parent);
      std::string part;
      while (std::getline(ss, part, '.')) node = node["properties"][part];
      parentFreeForm = !node.contains("properties");
    }
    if (parentFreeForm) continue;
    EXPECT_TRUE(declared.count(k.path)) << k.path << " is in values.yaml but not in values.schema.json";
  }
}

TEST(ChartValues, ChartMetadataIsComplete) {
  const YAML::Node chart = YAML::LoadFile((kSource / "charts/shoal/Chart.yaml").string());
  EXPECT_EQ(chart["apiVersion"].as<std::string>(), "v2");
  EXPECT_EQ(chart["name"].as<std::string>(), "shoal");
  EXPECT_EQ(chart["type"].as<std::string>(), "application");
  EXPECT_TRUE(chart["appVersion"].IsDefined());
  for (const char* f : {"templates/_helpers.tpl", "templates/NOTES.txt", "templates/deployment.yaml",
                        "templates/rbac.yaml", "templates/serviceaccount.yaml", "templates/service.yaml",
                        "templates/servicemonitor.yaml", "README.md", "values.schema.json"})
    EXPECT_TRUE(fs::exists(kSource / "charts/shoal" / f)) << f;
}

std::vector<YAML::Node> loadAll(const fs::path& p) {
  std::vector<YAML::Node> docs;
  for (auto& d : YAML::LoadAllFromFile(p.string()))
    if (d && !d.IsNull()) docs.push_back(d);
  return docs;
}

// Every `*SecretRef` below node, as (secret name, key).
void secretRefs(const YAML::Node& n, std::vector<std::pair<std::string, std::string>>& out,
                const std::map<std::string, std::string>& defaultKeys, const std::string& field = "") {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string k = kv.first.as<std::string>();
      if (k.size() > 9 && k.compare(k.size() - 9, 9, "SecretRef") == 0 && kv.second.IsMap()) {
        std::string key = kv.second["key"] ? kv.second["key"].as<std::string>() : "";
        if (key.empty()) {
          auto it = defaultKeys.find(k);
          key = it == defaultKeys.end() ? "" : it->second;
        }
        out.emplace_back(kv.second["name"].as<std::string>(), key);
      } else {
        secretRefs(kv.second, out, defaultKeys, k);
      }
    }
  } else if (n.IsSequence()) {
    for (const auto& x : n) secretRefs(x, out, defaultKeys, field);
  }
}

TEST(DeployExamples, EachHasAPipelineAWorkerPoolAndTheSecretsItReferences) {
  const std::map<std::string, std::string> defaultKeys{{"usernameSecretRef", "username"},
                                                       {"passwordSecretRef", "password"},
                                                       {"apiKeySecretRef", "apiKey"},
                                                       {"caSecretRef", "ca.crt"}};
  std::set<std::string> sinks;
  int files = 0;
  for (const auto& e : fs::directory_iterator(kSource / "deploy/examples")) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    std::map<std::string, std::set<std::string>> secrets;  // name -> keys
    std::vector<YAML::Node> pipelines, pools;
    for (const auto& d : loadAll(e.path())) {
      const std::string kind = d["kind"].as<std::string>();
      if (kind == "Secret") {
        auto& keys = secrets[d["metadata"]["name"].as<std::string>()];
        for (const char* section : {"stringData", "data"})
          for (const auto& kv : d[section]) keys.insert(kv.first.as<std::string>());
      } else if (kind == "Pipeline") {
        pipelines.push_back(d);
      } else if (kind == "WorkerPool") {
        pools.push_back(d);
      }
    }
    ASSERT_EQ(pipelines.size(), 1u) << e.path();
    ASSERT_EQ(pools.size(), 1u) << e.path();
    EXPECT_EQ(pools[0]["spec"]["pipelineRef"]["name"].as<std::string>(),
              pipelines[0]["metadata"]["name"].as<std::string>())
        << e.path();
    for (const auto& kv : pipelines[0]["spec"]["sink"]) sinks.insert(kv.first.as<std::string>());
    std::vector<std::pair<std::string, std::string>> refs;
    secretRefs(pipelines[0]["spec"], refs, defaultKeys);
    EXPECT_FALSE(refs.empty()) << e.path() << ": examples should show how credentials are referenced";
    for (const auto& [name, key] : refs) {
      ASSERT_TRUE(secrets.count(name)) << e.path() << ": Secret " << name << " is referenced but not defined";
      EXPECT_TRUE(secrets[name].count(key)) << e.path() << ": Secret " << name << " has no key " << key;
    }
  }
  EXPECT_GE(files, 2);
  EXPECT_TRUE(sinks.count("elasticsearch"));
  EXPECT_TRUE(sinks.count("prometheusRemoteWrite"));
}

TEST(DeployManifests, EveryFileIsWellFormedAndListedInTheKustomization) {
  const YAML::Node k = YAML::LoadFile((kSource / "deploy/manifests/kustomization.yaml").string());
  std::set<std::string> listed;
  for (const auto& r : k["resources"]) listed.insert(r.as<std::string>());
  for (const auto& e : fs::directory_iterator(kSource / "deploy/manifests")) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".yaml" || name == "kustomization.yaml") continue;
    EXPECT_TRUE(listed.count(name)) << name << " is not in kustomization.yaml";
    for (const auto& d : loadAll(e.path())) {
      EXPECT_TRUE(d["apiVersion"].IsDefined() && d["kind"].IsDefined() && d["metadata"]["name"].IsDefined())
          << name;
    }
  }
  EXPECT_TRUE(listed.count("../../crds"));
}

// The packages a Dockerfile's rootfs stage installs (the apt-get install
// line(s) of the stage `FROM ... AS rootfs`): the stage that assembles the
// runtime root filesystem from them.
std::set<std::string> runtimePackages(const std::string& dockerfile) {
  const auto at = dockerfile.find(" AS rootfs\n");
  if (at == std::string::npos) return {};
  std::string runtime = dockerfile.substr(at, dockerfile.find("\nFROM ", at) - at);
  // Join continuation lines.
  runtime = std::regex_replace(runtime, std::regex("\\\\\n"), " ");
  std::set<std::string> out;
  for (const auto& l : lines(runtime)) {
    const auto pos = l.find("apt-get install");
    if (pos == std::string::npos) continue;
    std::stringstream ss(l.substr(pos + 15));
    std::string w;
    while (ss >> w) {
      if (w == "&&" || w == ";") break;
      if (w[0] == '-') continue;
      out.insert(w);
    }
  }
  return out;
}

class DockerfileTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DockerfileTest, IsMultiStageDebianAndRunsAsNonRoot) {
  const std::string text = readFile(kSource / "deploy/docker" / (GetParam() + ".Dockerfile"));
  ASSERT_FALSE(text.empty());
  EXPECT_NE(text.find("FROM debian:bookworm AS build"), std::string::npos);
  EXPECT_NE(text.find("FROM debian:bookworm-slim AS rootfs"), std::string::npos);
  EXPECT_NE(text.find("COPY --from=build"), std::string::npos);
  // The rootfs stage runs the staging step of `make images`; the image is
  // that root filesystem alone (no shell, no apt).
  EXPECT_NE(text.find("oci_image.py rootfs /rootfs --binary /out/" + GetParam()),
            std::string::npos);
  EXPECT_NE(text.find("\nFROM scratch\nCOPY --from=rootfs /rootfs/ /\n"), std::string::npos);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(\nUSER ([0-9]+):([0-9]+))")));
  EXPECT_NE(m[1].str(), "0");
  EXPECT_NE(text.find("ENTRYPOINT [\"/usr/local/bin/" + GetParam() + "\""), std::string::npos);
  EXPECT_FALSE(runtimePackages(text).empty());
}

// Where CMake builds the binary (empty when the target is not in this tree).
std::string binaryPath(const std::string& name) {
  if (name == "shoal-operator") return SHOAL_OPERATOR_BINARY;
  if (name == "shoal-worker") return SHOAL_WORKER_BINARY;
  return "";
}

// With the binary built, every shared library it links directly (its NEEDED
// entries) must come from a package the runtime stage installs, or from the
// slim base image's essential set. Transitive libraries come with apt's
// dependencies.
TEST_P(DockerfileTest, RuntimeStageInstallsThePackageOfEveryLinkedLibrary) {
  const std::string binary = binaryPath(GetParam());
  if (binary.empty() || !fs::exists(binary))
    GTEST_SKIP() << GetParam() << " is not built in this build directory (" << binary << ")";
  const std::set<std::string> base{"libc6", "libgcc-s1"};
  const std::set<std::string> installed =
      runtimePackages(readFile(kSource / "deploy/docker" / (GetParam() + ".Dockerfile")));
  std::map<std::string, std::string> resolved;  // soname -> path, from ldd
  const std::string ldd = shoal::testing::runCommand("ldd " + binary);
  static const std::regex libLine(R"((\S+) => (/\S+) \(0x)");
  for (auto it = std::sregex_iterator(ldd.begin(), ldd.end(), libLine); it != std::sregex_iterator(); ++it)
    resolved[(*it)[1].str()] = (*it)[2].str();
  const std::string needed = shoal::testing::runCommand("objdump -p " + binary + " | awk '/NEEDED/{print $2}'");
  std::vector<std::string> missing;
  int count = 0;
  for (const auto& soname : lines(needed)) {
    if (soname.empty()) continue;
    // A sanitizer build (SHOAL_SANITIZE) links the ASan/UBSan runtimes; images
    // are never built from one.
    if (soname.rfind("libasan.so", 0) == 0 || soname.rfind("libubsan.so", 0) == 0) continue;
    ++count;
    auto it = resolved.find(soname);
    if (it == resolved.end()) {
      missing.push_back(soname + " (not resolved by ldd)");
      continue;
    }
    int rc = 0;
    std::string owner =
        shoal::testing::runCommand("dpkg -S \"$(readlink -f " + it->second + ")\" 2>/dev/null", false, &rc);
    if (rc != 0) owner = shoal::testing::runCommand("dpkg -S " + it->second + " 2>/dev/null", false, &rc);
    if (rc != 0) {
      missing.push_back(soname + " (no Debian package owns " + it->second + ")");
      continue;
    }
    const std::string pkg = owner.substr(0, owner.find(':'));
    if (!base.count(pkg) && !installed.count(pkg)) missing.push_back(soname + " from " + pkg);
  }
  EXPECT_GT(count, 0) << "objdump found no NEEDED entries in " << binary;
  EXPECT_TRUE(missing.empty()) << GetParam() << ".Dockerfile misses runtime packages: "
                               << ::testing::PrintToString(missing);
}

INSTANTIATE_TEST_SUITE_P(Images, DockerfileTest, ::testing::Values("shoal-operator", "shoal-worker"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

}  // namespace
