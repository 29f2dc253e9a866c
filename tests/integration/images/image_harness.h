// What the image tests share: the archives scripts/images.sh builds from this
// tree's binaries (once per test binary), unpacking them (tar, umoci), the
// chart's default names, and running a pod's container from an image with
// runc the way a kubelet would (its command, env, volumes, security context).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "shoal/testing/process.h"

namespace shoal::testing::images {

namespace fs = std::filesystem;
using nlohmann::json;

// SOURCE_DATE_EPOCH of the test builds, fixed so that two builds compare.
inline constexpr const char* kEpoch = "1700000000";
inline constexpr const char* kCreated = "2023-11-14T22:13:20Z";

std::string readFile(const fs::path& p);
/// Single-quotes a path or word for the shell (no quotes inside).
std::string quote(const std::string& s);
/// Whether `tool` is on PATH.
bool have(const std::string& tool);

/// Why runc cannot run an unpacked image here ("" when it can): it needs root,
/// runc and umoci (scripts/install-deps.sh installs both).
std::string missingForRunc();

/// Runs scripts/images.sh --no-build on this tree's binaries into `out`;
/// returns what it printed, throws if it failed.
std::string buildImages(const std::string& out);

/// The archives, built on first use; destroyed (directory removed) at exit.
struct Images {
  TempDir dir;
  std::string out;    // the images directory
  std::string log;    // what images.sh printed
  std::string error;  // non-empty when the build failed
};
const Images& images();

/// One image's OCI layout, extracted from its archive.
struct Layout {
  std::string dir;
  json index, manifest, config;
  std::string blob(const std::string& digest) const;
  /// io.containerd.image.name: the full name (registry/repository:tag).
  std::string name() const;
};
Layout unpackArchive(const std::string& image, const std::string& into);

/// Unpacks the layout with umoci into a runtime bundle (rootfs + config.json,
/// the runtime spec umoci derives from the image config); "" without umoci.
std::string unpackWithUmoci(const Layout& layout, const std::string& bundle);

/// The chart's default image names (values.yaml, Chart.yaml appVersion).
struct Chart {
  std::string appVersion, operatorRepository, workerRepository;
};
Chart chart();

/// What a kubelet takes from outside the pod spec: Secrets and ConfigMaps by
/// name (key -> value), fieldRef values, and the ServiceAccount it mounts at
/// /var/run/secrets/kubernetes.io/serviceaccount (with the
/// KUBERNETES_SERVICE_* env) when `serviceAccountToken` is set.
struct PodInputs {
  using Data = std::map<std::string, std::map<std::string, std::string>>;
  Data secrets, configMaps;
  std::map<std::string, std::string> fields;  // fieldPath -> value
  std::string serviceAccountToken, serviceAccountCa, serviceHost;
  int servicePort = 0;
};

/// The runc config for the pod's first container on top of `spec` (umoci's):
/// command and args (the command resolved through the image's PATH), env
/// (values, Secret keys, fields), the pod's and container's security context
/// (user, fsGroup, read-only root, capabilities, privilege escalation), the
/// hostname (the pod's name, from `fields`), and
/// its volumes (ConfigMap, Secret items with their mode and fsGroup,
/// emptyDir, the ServiceAccount) as bind mounts of directories under
/// `volumes`, with nested mount points made as the kubelet does. One
/// deliberate difference: the host's network namespace (a hostNetwork pod),
/// so the container reaches the test's loopback servers.
json kubeletSpec(json spec, const json& podSpec, const PodInputs& in, const fs::path& volumes);

/// `runc run` of a bundle as a child process, with its own state directory;
/// the container is deleted (forced) on destruction.
class RuncContainer {
 public:
  explicit RuncContainer(const std::string& bundle);
  ~RuncContainer();
  RuncContainer(const RuncContainer&) = delete;
  RuncContainer& operator=(const RuncContainer&) = delete;
  bool running() { return proc_.running(); }
  /// `runc kill` with a signal name (TERM, KILL).
  void kill(const std::string& signal);
  /// The exit status of `runc run` (the container's, as from waitpid).
  std::optional<int> wait(std::chrono::milliseconds deadline) { return proc_.wait(deadline); }
  /// What the container printed (stdout and stderr).
  std::string output() const;

 private:
  TempDir dir_;
  std::string id_;
  Process proc_;
};

}  // namespace shoal::testing::images
