// The container images of `make images` (scripts/images.sh), built from this
// tree's shoal-operator and shoal-worker: each archive is an OCI image layout
// whose blobs match their digests (checked with sha256sum, not the builder's
// own hashing), whose config runs the binary as 65532:65532 with the
// Dockerfile's entrypoint and ports, and whose names are the chart's defaults.
// umoci, an independent OCI implementation, unpacks each image; the root
// filesystem has no shell; the entrypoint then runs from it with --help, under
// chroot as the image's user with only the image's environment, and in a real
// container (runc) with the pod's security context; a real containerd imports
// each archive as kind does and runs it. The same binaries give the same
// digests. Last, the worker pod the operator renders runs from the image
// in runc against TLS Redis and a TLS bulk endpoint, and drains on SIGTERM.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "shoal/api/pipeline.h"
#include "shoal/api/worker_pool.h"
#include "shoal/controllers/render.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

#include "image_harness.h"

namespace shoal::testing::images {
namespace {

const fs::path kSource = SHOAL_SOURCE_DIR;

std::string sha256Of(const std::string& shellInput) {
  const std::string out = runCommand(shellInput + " | sha256sum");
  return "sha256:" + out.substr(0, out.find(' '));
}

// What the image's Dockerfile says (deploy/docker/<name>.Dockerfile).
struct Dockerfile {
  std::string user;
  std::string path;  // ENV PATH
  std::string entrypoint;
  std::set<std::string> ports;
};

Dockerfile dockerfile(const std::string& name) {
  const std::string text = readFile(kSource / "deploy/docker" / (name + ".Dockerfile"));
  Dockerfile d;
  std::smatch m;
  if (std::regex_search(text, m, std::regex(R"(\nUSER (\S+))"))) d.user = m[1];
  if (std::regex_search(text, m, std::regex(R"(\nENV PATH=(\S+))"))) d.path = m[1];
  if (std::regex_search(text, m, std::regex(R"re(\nENTRYPOINT \["([^"]+)"\])re")))
    d.entrypoint = m[1];
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
  std::string umociBundle() { return unpackWithUmoci(layout_, work_.file("bundle")); }

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
  std::string path;
  for (const auto& e : cfg["Env"])
    if (e.get<std::string>().rfind("PATH=", 0) == 0) path = e.get<std::string>().substr(5);
  EXPECT_NE(path.find("/usr/local/bin"), std::string::npos) << cfg["Env"].dump();

  const Dockerfile d = dockerfile(GetParam());
  EXPECT_EQ(cfg["User"], d.user);
  EXPECT_EQ(path, d.path);
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

  // Every library the binary loads on this machine, at the path ldd found it
  // (through the image's own relative symlinks such as lib -> usr/lib), and
  // the Dockerfile's runtime packages among the image's.
  const std::string binary =
      GetParam() == "shoal-operator" ? SHOAL_OPERATOR_BINARY : SHOAL_WORKER_BINARY;
  const std::string ldd = runCommand("ldd " + quote(binary));
  static const std::regex lib(R"(=> (/\S+) \(0x)");
  int count = 0;
  for (auto it = std::sregex_iterator(ldd.begin(), ldd.end(), lib); it != std::sregex_iterator();
       ++it, ++count) {
    const fs::path path = (*it)[1].str();
    EXPECT_TRUE(fs::is_regular_file(root / path.relative_path())) << path << " is not in the image";
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
  if (const auto why = missingForRunc(); !why.empty()) GTEST_SKIP() << why;
  const std::string bundle = umociBundle();
  json spec = json::parse(readFile(bundle + "/config.json"));
  spec["process"]["terminal"] = false;
  spec["process"]["args"].push_back("--help");
  spec["root"]["readonly"] = true;
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"})
    spec["process"]["capabilities"][set] = json::array();
  spec["process"]["noNewPrivileges"] = true;
  std::ofstream(bundle + "/config.json") << spec.dump();

  RuncContainer container(bundle);
  const auto status = container.wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << container.output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status << container.output();
  const std::string out = container.output();
  EXPECT_EQ(out.rfind(GetParam() + ": ", 0), 0u) << out;
  EXPECT_NE(out.find("Usage: " + entrypoint() + " [OPTIONS]"), std::string::npos) << out;
}

// containerd 1.6 as a plain process with its own root, state and socket in a
// temporary directory, the CRI plugin off (images and containers through ctr
// only). One per test binary, stopped (by its pid) at exit.
class Containerd {
 public:
  Containerd() {
    std::ofstream(dir_.file("config.toml"))
        << "version = 2\nroot = \"" << dir_.file("root") << "\"\nstate = \"" << dir_.file("state")
        << "\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \""
        << socket() << "\"\n";
    Process::Options po;
    po.argv = {"containerd", "--config", dir_.file("config.toml")};
    po.stdoutPath = po.stderrPath = dir_.file("containerd.log");
    proc_ = Process(po);
    int rc = 1;
    ready_ = waitUntil(
                 [&] {
                   if (!proc_.running()) return true;
                   ctr("version >/dev/null", &rc);
                   return rc == 0;
                 },
                 std::chrono::seconds(20), std::chrono::milliseconds(50)) &&
             rc == 0;
  }
  // Stops containerd and removes the namespace's parent cgroups, which it
  // creates for `ctr run` and leaves behind (each container's own cgroup goes
  // with the container).
  ~Containerd() {
    proc_.stop();
    std::error_code ec;
    fs::remove(fs::path("/sys/fs/cgroup") / ns_, ec);
    for (const auto& controller : fs::directory_iterator("/sys/fs/cgroup", ec))
      fs::remove(controller.path() / ns_, ec);
  }
  Containerd(const Containerd&) = delete;
  Containerd& operator=(const Containerd&) = delete;
  bool ready() const { return ready_; }
  std::string socket() const { return dir_.file("containerd.sock"); }
  std::string log() const { return Process::readFile(dir_.file("containerd.log")); }
  std::string ctr(const std::string& args, int* rc) const {
    return runCommand(
        "ctr --address " + quote(socket()) + " --namespace " + ns_ + " " + args + " 2>&1", false,
        rc);
  }

 private:
  TempDir dir_;
  std::string ns_ = "shoal-images-" + std::to_string(::getpid());
  Process proc_;
  bool ready_ = false;
};

const Containerd& containerd() {
  static const Containerd d;
  return d;
}

// The archive as kind loads it (`ctr images import --all-platforms --digests`
// from stdin) into a real containerd, which checks every blob while it
// unpacks the layer into its overlayfs snapshotter; the image gets the
// chart's name, and containerd runs it through runc with the command the
// operator's Deployment uses: the bare program name, found through the
// image's PATH.
TEST_P(ImageTest, ContainerdImportsItUnderTheChartNameAndRunsIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "containerd needs root here";
  if (!have("containerd") || !have("ctr") || !have("runc"))
    GTEST_SKIP() << "containerd or runc is not installed (scripts/install-deps.sh installs them)";
  const Containerd& d = containerd();
  ASSERT_TRUE(d.ready()) << d.log();
  const json& desc = layout_.index["manifests"][0];
  const std::string name = desc["annotations"]["io.containerd.image.name"];
  const std::string digest = desc["digest"];
  int rc = -1;
  const std::string imported = d.ctr("images import --all-platforms --digests - < " +
                                         quote(images().out + "/" + GetParam() + ".oci.tar"),
                                     &rc);
  ASSERT_EQ(rc, 0) << imported << d.log();
  EXPECT_NE(imported.find("unpacking " + name + " (" + digest + ")...done"), std::string::npos)
      << imported;
  const std::string check = d.ctr("images check name==" + quote(name), &rc);
  EXPECT_EQ(rc, 0) << check;
  EXPECT_NE(check.find(digest + " complete"), std::string::npos) << check;

  const std::string id = "help-" + std::to_string(::getpid()) + "-" + GetParam();
  const std::string out =
      d.ctr("run --rm --read-only " + quote(name) + " " + id + " " + GetParam() + " --help", &rc);
  EXPECT_EQ(rc, 0) << out << d.log();
  EXPECT_EQ(out.rfind(GetParam() + ": ", 0), 0u) << out;
  EXPECT_NE(out.find("Usage: " + GetParam() + " [OPTIONS]"), std::string::npos) << out;
  d.ctr("images rm " + quote(name) + " >/dev/null", &rc);
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

// ---------------------------------------------------------------------------
// The worker pod as the operator renders it, run from the image by runc.

// A Pipeline of TLS Redis with a password into a TLS Elasticsearch-compatible
// sink, its WorkerPool on the image's name, as the API would store them.
struct PodFixture {
  RedisServer redis{RedisServer::Options{.tls = true, .password = "image-pw"}};
  BulkServer sink{BulkServer::Options{.tls = true}};
  PodInputs::Data secrets{
      {"redis", {{"password", "image-pw"}, {"ca.crt", readFile(redis.caFile())}}},
      {"sink-ca", {{"ca.crt", readFile(sink.caFile())}}}};
  api::Pipeline pipeline = api::pipelineFromJson(json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "Pipeline",
    "metadata": {"name": "app-logs", "namespace": "default", "uid": "p-uid", "generation": 1},
    "spec": {
      "type": "logs",
      "source": {"redis": {"address": "127.0.0.1:)" + std::to_string(redis.port()) +
                                                             R"(",
                           "stream": "logs:app", "consumerGroup": "shoal", "startId": "0",
                           "passwordSecretRef": {"name": "redis", "key": "password"},
                           "tls": {"enabled": true, "caSecretRef": {"name": "redis", "key": "ca.crt"}}}},
      "sink": {"elasticsearch": {"url": ")" + sink.url() + R"(", "index": "app-logs",
                                 "tls": {"caSecretRef": {"name": "sink-ca", "key": "ca.crt"}}}},
      "delivery": {"batchSize": 200, "lingerMs": 5}
    }})"))
                               .value();
  api::WorkerPool pool = api::workerPoolFromJson(json::parse(R"({
    "apiVersion": "shoal.dev/v1alpha1", "kind": "WorkerPool",
    "metadata": {"name": "app-logs", "namespace": "default", "uid": "w-uid", "generation": 1},
    "spec": {"pipelineRef": {"name": "app-logs"}, "image": ")" +
                                                             workerImage() + R"(",
             "minReplicas": 1, "maxReplicas": 1}})"))
                             .value();

  static std::string workerImage() {
    const Chart c = chart();
    return c.workerRepository + ":" + c.appVersion;
  }
};

TEST(WorkerPod, RunsFromTheImageInRuncOverTlsDeliversEverythingAndDrainsOnSigterm) {
  if (const auto why = missingForRunc(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_TRUE(images().error.empty()) << images().error;
  TempDir work;
  const Layout layout = unpackArchive("shoal-worker", work.path());
  const std::string bundle = unpackWithUmoci(layout, work.file("bundle"));

  PodFixture f;
  const std::string config = controllers::renderWorkerConfig(f.pipeline);
  const json deployment =
      controllers::renderDeployment(f.pipeline, f.pool, controllers::configHash(config), 1);
  json pod = deployment["spec"]["template"]["spec"];
  json& container = pod["containers"][0];
  // The operator asks for the image `make images` built.
  EXPECT_EQ(container["image"], layout.name());
  // --listen on a free loopback port, not 9100 of the host's network.
  const int port = freePort();
  for (auto& a : container["args"])
    if (a.get<std::string>().rfind("0.0.0.0:", 0) == 0) a = "127.0.0.1:" + std::to_string(port);
  PodInputs in;
  in.secrets = f.secrets;
  in.configMaps[controllers::configMapName(f.pool)] =
      controllers::renderConfigMap(f.pipeline, f.pool, config)["data"]
          .get<std::map<std::string, std::string>>();
  in.fields = {{"metadata.name", "app-logs-7d9f-x2k4q"}, {"metadata.namespace", "default"}};
  const json spec =
      kubeletSpec(json::parse(readFile(bundle + "/config.json")), pod, in, work.file("volumes"));
  std::ofstream(bundle + "/config.json") << spec.dump(2);

  constexpr int kEntries = 2000;
  std::string xadds;
  for (int i = 0; i < kEntries; ++i)
    xadds +=
        R"(XADD logs:app * message "{\"message\":\"line )" + std::to_string(i) + R"(\"}")" + "\n";
  const fs::path commands = work.file("xadd.txt");
  std::ofstream(commands) << xadds;
  f.redis.cli("< " + quote(commands.string()) + " >/dev/null");
  ASSERT_EQ(f.redis.cli("XLEN logs:app"), std::to_string(kEntries) + "\n");

  RuncContainer worker(bundle);
  auto logs = [&] { return worker.output() + "\n" + spec.dump(2); };
  ASSERT_TRUE(waitUntil([&] { return f.sink.docsIn("app-logs") == kEntries || !worker.running(); },
                        std::chrono::seconds(60)))
      << logs();
  ASSERT_TRUE(worker.running()) << logs();
  EXPECT_EQ(f.sink.docsIn("app-logs"), kEntries) << logs();
  int status = 0;
  ASSERT_TRUE(waitUntil([&] {
    httpGet(port, "/readyz", &status);
    return status == 200;
  })) << logs();
  // What Kubernetes sends on scale-in: SIGTERM to the container's process.
  worker.kill("TERM");
  const auto exit = worker.wait(std::chrono::seconds(30));
  ASSERT_TRUE(exit.has_value()) << logs();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit << "\n" << logs();
  // Everything acknowledged: nothing pending in the group.
  EXPECT_EQ(f.redis.cli("XPENDING logs:app shoal").substr(0, 2), "0\n")
      << f.redis.cli("XPENDING logs:app shoal");
}

}  // namespace
}  // namespace shoal::testing::images
