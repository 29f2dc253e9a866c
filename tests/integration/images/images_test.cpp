// The container images of `make images` (scripts/images.sh), built from this
// tree's shoal-operator and shoal-worker: each archive is an OCI image layout
// whose blobs match their digests (checked with sha256sum, not the builder's
// own hashing), whose config runs the binary as 65532:65532 with the
// Dockerfile's entrypoint and ports, and whose names are the chart's defaults.
// umoci, an independent OCI implementation, unpacks each image; the root
// filesystem has no shell; the entrypoint then runs from it with --help, under
// chroot as the image's user with only the image's environment, and in a real
// container (runc) with the pod's security context. The same binaries give the
// same digests.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource = SHOAL_SOURCE_DIR;
// Fixed so that two builds can be compared and `created` is known.
constexpr const char* kEpoch = "1700000000";
constexpr const char* kCreated = "2023-11-14T22:13:20Z";

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

std::string sha256Of(const std::string& shellInput) {
  const std::string out = runCommand(shellInput + " | sha256sum");
  return "sha256:" + out.substr(0, out.find(' '));
}

std::string buildImages(const std::string& out) {
  return runCommand("SOURCE_DATE_EPOCH=" + std::string(kEpoch) +
                    " SHOAL_OPERATOR_BINARY=" + quote(SHOAL_OPERATOR_BINARY) +
                    " SHOAL_WORKER_BINARY=" + quote(SHOAL_WORKER_BINARY) + " " +
                    quote((kSource / "scripts/images.sh").string()) + " --no-build " +
                    quote(SHOAL_BINARY_DIR) + " " + quote(out) + " 2>&1");
}

// scripts/images.sh, run once for every test of this binary.
struct Images {
  TempDir dir;
  std::string out;    // the images directory
  std::string log;    // what images.sh printed
  std::string error;  // non-empty when the build failed
};

const Images& images() {
  static Images* built = [] {
    auto* b = new Images;
    b->out = b->dir.file("images");
    try {
      b->log = buildImages(b->out);
    } catch (const std::exception& e) {
      b->error = e.what();
    }
    return b;
  }();
  return *built;
}

// One image, unpacked from its archive into a directory of its own.
struct Layout {
  std::string dir;
  json index, manifest, config;
  std::string blob(const std::string& digest) const {
    return dir + "/blobs/sha256/" + digest.substr(7);
  }
};

Layout unpackArchive(const std::string& name, const std::string& into) {
  Layout l;
  l.dir = into + "/" + name + ".layout";
  fs::create_directories(l.dir);
  runCommand("tar -xf " + quote(images().out + "/" + name + ".oci.tar") + " -C " + quote(l.dir));
  l.index = json::parse(readFile(l.dir + "/index.json"));
  const std::string manifestDigest = l.index["manifests"][0]["digest"];
  l.manifest = json::parse(readFile(l.blob(manifestDigest)));
  l.config = json::parse(readFile(l.blob(l.manifest["config"]["digest"])));
  return l;
}

struct Chart {
  std::string appVersion, operatorRepository, workerRepository;
};

Chart chart() {
  const YAML::Node c = YAML::LoadFile((kSource / "charts/shoal/Chart.yaml").string());
  const YAML::Node v = YAML::LoadFile((kSource / "charts/shoal/values.yaml").string());
  EXPECT_EQ(v["image"]["tag"].as<std::string>(), "")
      << "the chart's operator tag should default to appVersion";
  EXPECT_EQ(v["workerImage"]["tag"].as<std::string>(), "")
      << "the worker tag should default to appVersion";
  return {c["appVersion"].as<std::string>(), v["image"]["repository"].as<std::string>(),
          v["workerImage"]["repository"].as<std::string>()};
}

// What the image's Dockerfile says (deploy/docker/<name>.Dockerfile).
struct Dockerfile {
  std::string user;
  std::string entrypoint;
  std::set<std::string> ports;
};

Dockerfile dockerfile(const std::string& name) {
  const std::string text = readFile(kSource / "deploy/docker" / (name + ".Dockerfile"));
  Dockerfile d;
  std::smatch m;
  if (std::regex_search(text, m, std::regex(R"(\nUSER (\S+))"))) d.user = m[1];
  if (std::regex_search(text, m, std::regex(R"re(\nENTRYPOINT \["([^"]+)"\])re"))) d.entrypoint = m[1];
  if (std::regex_search(text, m, std::regex(R"(\nEXPOSE ([0-9 ]+))"))) {
    std::stringstream ss(m[1].str());
    std::string p;
    while (ss >> p) d.ports.insert(p + "/tcp");
  }
  return d;
}

class ImageTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(images().error.empty()) << images().error;
    layout_ = unpackArchive(GetParam(), work_.path());
  }
  std::string entrypoint() const { return "/usr/local/bin/" + GetParam(); }
  // Unpacks the image with umoci into a runtime bundle (rootfs + config.json).
  std::string umociBundle() {
    int rc = 0;
    runCommand("command -v umoci >/dev/null", false, &rc);
    if (rc != 0) return "";
    const std::string bundle = work_.file("bundle");
    const std::string tag =
        layout_.index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"];
    runCommand("umoci unpack --image " + quote(layout_.dir + ":" + tag) + " " + quote(bundle) +
               " 2>&1");
    return bundle;
  }

  TempDir work_;
  Layout layout_;
};

TEST_P(ImageTest, ArchiveIsAnOciLayoutWhoseBlobsMatchTheirDigests) {
  EXPECT_EQ(json::parse(readFile(layout_.dir + "/oci-layout")),
            json({{"imageLayoutVersion", "1.0.0"}}));
  EXPECT_EQ(layout_.index["schemaVersion"], 2);
  EXPECT_EQ(layout_.index["mediaType"], "application/vnd.oci.image.index.v1+json");
  ASSERT_EQ(layout_.index["manifests"].size(), 1u);
  const json& desc = layout_.index["manifests"][0];
  EXPECT_EQ(desc["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(desc["platform"]["os"], "linux");

  // Every descriptor's digest and size against the blob, hashed by sha256sum.
  std::vector<json> descriptors{desc, layout_.manifest["config"]};
  for (const auto& layer : layout_.manifest["layers"]) descriptors.push_back(layer);
  for (const auto& d : descriptors) {
    const std::string blob = layout_.blob(d["digest"]);
    ASSERT_TRUE(fs::exists(blob)) << d.dump();
    EXPECT_EQ(sha256Of("cat " + quote(blob)), d["digest"].get<std::string>()) << blob;
    EXPECT_EQ(fs::file_size(blob), d["size"].get<uintmax_t>()) << blob;
  }
  // No blob that nothing references.
  size_t blobs = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(layout_.dir + "/blobs/sha256"))
    ++blobs;
  EXPECT_EQ(blobs, descriptors.size());

  EXPECT_EQ(layout_.manifest["schemaVersion"], 2);
  EXPECT_EQ(layout_.manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
  ASSERT_EQ(layout_.manifest["layers"].size(), 1u);
  const json& layer = layout_.manifest["layers"][0];
  EXPECT_EQ(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
  // diff_ids are the digests of the uncompressed layers.
  ASSERT_EQ(layout_.config["rootfs"]["diff_ids"].size(), 1u);
  EXPECT_EQ(layout_.config["rootfs"]["type"], "layers");
  EXPECT_EQ(sha256Of("gzip -dc " + quote(layout_.blob(layer["digest"]))),
            layout_.config["rootfs"]["diff_ids"][0].get<std::string>());

  // images.sh printed and recorded this digest.
  const std::string digest = desc["digest"];
  EXPECT_EQ(readFile(images().out + "/" + GetParam() + ".digest"), digest + "\n");
  EXPECT_NE(images().log.find(GetParam()), std::string::npos);
  EXPECT_NE(images().log.find(digest), std::string::npos) << images().log;
}

TEST_P(ImageTest, NamesAreTheChartDefaults) {
  const Chart c = chart();
  const std::string repository =
      GetParam() == "shoal-operator" ? c.operatorRepository : c.workerRepository;
  const json& annotations = layout_.index["manifests"][0]["annotations"];
  EXPECT_EQ(annotations["org.opencontainers.image.ref.name"], c.appVersion);
  EXPECT_EQ(annotations["io.containerd.image.name"], repository + ":" + c.appVersion);
  EXPECT_EQ(layout_.config["config"]["Labels"]["org.opencontainers.image.version"], c.appVersion);
  EXPECT_EQ(layout_.config["config"]["Labels"]["org.opencontainers.image.title"], GetParam());
}

TEST_P(ImageTest, ConfigRunsTheBinaryAsNonrootLikeTheDockerfile) {
  const json& cfg = layout_.config["config"];
  EXPECT_EQ(cfg["User"], "65532:65532");
  EXPECT_EQ(cfg["Entrypoint"], json::array({entrypoint()}));
  EXPECT_FALSE(cfg.contains("Cmd"));
  EXPECT_EQ(layout_.config["os"], "linux");
  EXPECT_EQ(layout_.config["architecture"],
            layout_.index["manifests"][0]["platform"]["architecture"]);
  EXPECT_EQ(layout_.config["created"], kCreated);
  bool path = false;
  for (const auto& e : cfg["Env"]) path = path || e.get<std::string>().rfind("PATH=", 0) == 0;
  EXPECT_TRUE(path) << cfg["Env"].dump();

  const Dockerfile d = dockerfile(GetParam());
  EXPECT_EQ(cfg["User"], d.user);
  EXPECT_EQ(entrypoint(), d.entrypoint);
  std::set<std::string> ports;
  for (const auto& [port, _] : cfg["ExposedPorts"].items()) ports.insert(port);
  EXPECT_EQ(ports, d.ports);
}

TEST_P(ImageTest, LayerEntriesAreOwnedByRootAndStampedWithTheEpoch) {
  const std::string listing =
      runCommand("TZ=UTC tar --numeric-owner --full-time -tvzf " +
                 quote(layout_.blob(layout_.manifest["layers"][0]["digest"])));
  std::vector<std::string> names;
  std::stringstream ss(listing);
  std::string line;
  static const std::regex entry(R"(^\S+ (\d+)/(\d+) +\d+ (\S+ \S+) (.+?)( -> .*)?$)");
  while (std::getline(ss, line)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, entry)) << line;
    EXPECT_EQ(m[1].str() + "/" + m[2].str(), "0/0") << line;
    EXPECT_EQ(m[3].str(), "2023-11-14 22:13:20") << line;
    names.push_back(m[4]);
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_GT(names.size(), 20u);
}

TEST_P(ImageTest, RootFilesystemHasTheBinaryItsLibrariesAndNoShell) {
  const std::string bundle = umociBundle();
  if (bundle.empty())
    GTEST_SKIP() << "umoci is not installed (scripts/install-deps.sh installs it)";
  const fs::path root = bundle + "/rootfs";
  // umoci's runtime config from the image config: user and argv.
  const json spec = json::parse(readFile(bundle + "/config.json"));
  EXPECT_EQ(spec["process"]["user"]["uid"], 65532);
  EXPECT_EQ(spec["process"]["user"]["gid"], 65532);
  EXPECT_EQ(spec["process"]["args"], json::array({entrypoint()}));

  EXPECT_TRUE(fs::is_regular_file(root / entrypoint().substr(1)));
  for (const char* shell :
       {"bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/bash", "bin/busybox", "usr/bin/busybox"})
    EXPECT_FALSE(fs::exists(fs::symlink_status(root / shell))) << shell;
  EXPECT_FALSE(fs::exists(root / "usr/bin")) << "nothing but our binary should be executable";
  EXPECT_FALSE(fs::exists(root / "usr/bin/apt-get"));
  EXPECT_NE(readFile(root / "etc/passwd").find("nonroot:x:65532:65532:"), std::string::npos);
  EXPECT_NE(readFile(root / "etc/group").find("nonroot:x:65532:"), std::string::npos);
  EXPECT_GT(fs::file_size(root / "etc/ssl/certs/ca-certificates.crt"), 1000u);
  // OpenSSL's default verify paths point at the bundle.
  EXPECT_EQ(fs::read_symlink(root / "usr/lib/ssl/cert.pem"), "/etc/ssl/certs/ca-certificates.crt");

  // Every library the binary loads on this machine (ldd), by the name the
  // loader looks for, and the Dockerfile's runtime packages among the image's.
  const std::string binary =
      GetParam() == "shoal-operator" ? SHOAL_OPERATOR_BINARY : SHOAL_WORKER_BINARY;
  const std::string ldd = runCommand("ldd " + quote(binary));
  static const std::regex lib(R"(=> (/\S+) \(0x)");
  int count = 0;
  for (auto it = std::sregex_iterator(ldd.begin(), ldd.end(), lib); it != std::sregex_iterator();
       ++it, ++count) {
    const std::string name = fs::path((*it)[1].str()).filename();
    EXPECT_TRUE(fs::exists(root / "usr/lib/x86_64-linux-gnu" / name) ||
                fs::exists(root / "lib" / name))
        << name << " is not in the image";
  }
  EXPECT_GT(count, 5);
  const std::string packages = layout_.config["config"]["Labels"]["dev.shoal.debian-packages"];
  for (const char* p : {"libc6", "libstdc++6", "libssl3", "ca-certificates"})
    EXPECT_NE((" " + packages + " ").find(std::string(" ") + p + " "), std::string::npos)
        << packages;
  for (const char* p : {"libc6", "libssl3"})
    EXPECT_TRUE(fs::exists(root / "var/lib/dpkg/status.d" / p)) << p;
}

TEST_P(ImageTest, EntrypointRunsFromTheRootFilesystemAsTheImageUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  const std::string bundle = umociBundle();
  if (bundle.empty())
    GTEST_SKIP() << "umoci is not installed (scripts/install-deps.sh installs it)";
  // Exactly the image's user, environment and entrypoint; nothing of the host.
  const json& cfg = layout_.config["config"];
  std::string cmd = "env -i";
  for (const auto& e : cfg["Env"]) cmd += " " + quote(e.get<std::string>());
  cmd += " chroot --userspec=" + cfg["User"].get<std::string>() + " " + quote(bundle + "/rootfs");
  for (const auto& a : cfg["Entrypoint"]) cmd += " " + quote(a.get<std::string>());
  int rc = -1;
  const std::string out = runCommand(cmd + " --help 2>&1", false, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out.rfind(GetParam() + ": ", 0), 0u) << out;
  EXPECT_NE(out.find("Usage: " + entrypoint() + " [OPTIONS]"), std::string::npos) << out;
}

// The same in a real container: runc (the runtime containerd and CRI-O start
// Kubernetes containers with) on the bundle umoci made from the image, with
// its namespaces, user and rlimits, and the pod security context the chart
// and the operator's rendering ask for: read-only root filesystem, every
// capability dropped, no privilege escalation.
TEST_P(ImageTest, EntrypointRunsInARuncContainerLikeThePod) {
  if (::geteuid() != 0) GTEST_SKIP() << "runc needs root here";
  int rc = 0;
  runCommand("command -v runc >/dev/null", false, &rc);
  if (rc != 0) GTEST_SKIP() << "runc is not installed (scripts/install-deps.sh installs it)";
  const std::string bundle = umociBundle();
  if (bundle.empty())
    GTEST_SKIP() << "umoci is not installed (scripts/install-deps.sh installs it)";
  json spec = json::parse(readFile(bundle + "/config.json"));
  spec["process"]["terminal"] = false;
  spec["process"]["args"].push_back("--help");
  spec["root"]["readonly"] = true;
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"})
    spec["process"]["capabilities"][set] = json::array();
  spec["process"]["noNewPrivileges"] = true;
  std::ofstream(bundle + "/config.json") << spec.dump();

  TempDir state;
  const std::string id = "shoal-images-" + std::to_string(::getpid()) + "-" + GetParam();
  const std::string out = runCommand("runc --root " + quote(state.path()) + " run --bundle " +
                                         quote(bundle) + " " + id + " 2>&1 </dev/null",
                                     false, &rc);
  runCommand("runc --root " + quote(state.path()) + " delete --force " + id + " >/dev/null 2>&1",
             false);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out.rfind(GetParam() + ": ", 0), 0u) << out;
  EXPECT_NE(out.find("Usage: " + entrypoint() + " [OPTIONS]"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Images, ImageTest, ::testing::Values("shoal-operator", "shoal-worker"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

TEST(Images, SameBinariesGiveTheSameDigests) {
  ASSERT_TRUE(images().error.empty()) << images().error;
  TempDir again;
  buildImages(again.file("images"));
  for (const char* name : {"shoal-operator", "shoal-worker"}) {
    const std::string first = images().out + "/" + name;
    const std::string second = again.file("images/") + name;
    EXPECT_EQ(readFile(first + ".digest"), readFile(second + ".digest")) << name;
    int rc = 0;
    runCommand("cmp -s " + quote(first + ".oci.tar") + " " + quote(second + ".oci.tar"), false,
               &rc);
    EXPECT_EQ(rc, 0) << name << ": the archives differ";
  }
}

}  // namespace
}  // namespace shoal::testing
