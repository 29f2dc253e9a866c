// How the test node agent turns a Pod's first container into a local process:
// a pure function from the Pod (plus ConfigMap/Secret lookups) to a LaunchPlan
// (argv, env, files to materialise), so it is tested without a cluster.
//
// Design note (the honest approximations of a kubelet, documented here):
// - Image mapping: an image whose name contains "shoal-worker" runs the local
//   shoal-worker binary given to the agent; command[0] is replaced by it (or it
//   becomes argv[0] when the container has no command). Other images are not
//   runnable here: the plan fails with reason ImageNotMapped.
// - Volumes: configMap and secret volumes are written as files under
//   <podDir>/volumes/<name>/<key>; emptyDir (and projected, whose token we do
//   not need) become empty directories there. There is no mount namespace, so
//   every arg and env value that names a mountPath (exactly, or as a prefix
//   followed by '/') is rewritten to the materialised directory.
// - Network: every pod shares the host's loopback. The agent picks a free port
//   per pod and rewrites `--listen <addr>` / `--listen=<addr>` to
//   127.0.0.1:<port> (appended for shoal-worker when absent); readiness is
//   probed there at the readinessProbe's httpGet path (default /readyz).
// - Env: value, valueFrom.fieldRef (metadata.name/namespace/uid, spec.nodeName,
//   spec.serviceAccountName, status.podIP/hostIP), secretKeyRef,
//   configMapKeyRef (honouring `optional`), envFrom configMapRef/secretRef.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace shoal::e2e {

using Json = nlohmann::json;

/// Returns the object ("ConfigMap" or "Secret" by kind, namespace, name), or
/// nullopt if it does not exist (or cannot be read now).
using ObjectLookup =
    std::function<std::optional<Json>(const std::string& kind, const std::string& ns,
                                      const std::string& name)>;

struct LaunchSettings {
  std::string workerBinary;  // local path run for images containing "shoal-worker"
  std::string podDir;        // per-pod working directory (volumes live below it)
  int listenPort = 0;        // the pod's port on 127.0.0.1
  std::string nodeName;
  std::string hostIp = "127.0.0.1";
};

struct FileToWrite {
  std::string path;
  std::string content;
};

struct LaunchPlan {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::vector<std::string> directories;  // to create (volume roots)
  std::vector<FileToWrite> files;
  std::string readinessPath;  // "" = ready as soon as it runs
  int readinessPort = 0;
};

struct LaunchFailure {
  std::string reason;   // CamelCase, for the container's waiting state
  std::string message;
};

/// Plans the launch of pod.spec.containers[0]. Never throws on pod input.
std::variant<LaunchPlan, LaunchFailure> planLaunch(const Json& pod, const ObjectLookup& lookup,
                                                   const LaunchSettings& settings);

/// Replaces a mountPath prefix in `value` using mounts (mountPath -> local dir),
/// the longest mountPath first. Exposed for tests.
std::string rewriteMountPaths(const std::string& value,
                              const std::map<std::string, std::string>& mounts);

}  // namespace shoal::e2e
