// How the test node agent turns a Pod's first container into a local process:
// a pure function from the Pod (plus ConfigMap/Secret lookups) to a LaunchPlan
// (argv, env, files to materialise), so it is tested without a cluster.
//
// Design note (the honest approximations of a kubelet, documented here):
// - Image mapping: an image whose name contains "shoal-worker" runs the local
//   shoal-worker binary given to the agent, one containing "shoal-operator"
//   the local shoal-operator binary; command[0] is replaced by it (or it
//   becomes argv[0] when the container has no command). Other images are not
//   runnable here: the plan fails with reason ImageNotMapped.
// - Volumes are materialised under <podDir>/volumes/<name>: configMap and
//   secret as files <key> (or items[].path); downwardAPI items; emptyDir as
//   an empty world-writable directory; projected sources (serviceAccountToken
//   through the TokenRequest API, bound to the pod; configMap; secret;
//   downwardAPI), which is how the ServiceAccount admission plugin's
//   kube-api-access-* volume becomes token, ca.crt and namespace files.
// - Mounts, two ways:
//   * operator images run like a container: the plan asks for a private mount
//     namespace in which every volumeMount is bind-mounted onto its mountPath
//     (read-only when asked), so fixed in-container paths such as
//     /var/run/secrets/kubernetes.io/serviceaccount are real; it also gets
//     its own UTS namespace with the pod's hostname (spec.hostname or the pod
//     name), and the container's (or pod's) runAsUser/runAsGroup/fsGroup
//     become the process identity.
//   * worker images share the host's mount namespace (as before): every arg
//     and env value that names a mountPath (exactly, or as a prefix followed by
//     '/') is rewritten to the materialised directory.
// - Network: every pod shares the host's loopback. For shoal-worker the agent
//   rewrites `--listen <addr>` / `--listen=<addr>` to 127.0.0.1:<listenPort>
//   (appended when absent). For every pod, an argument that is a bind address
//   ([host]:<port>, host empty, 0.0.0.0, ::, 127.0.0.1 or localhost) of one of
//   the container's declared ports is rewritten to 127.0.0.1:<a free port>.
//   Readiness is probed at the readinessProbe's httpGet path on the host port
//   of its port (a number or a port name).
// - The API server is reached like from a pod: KUBERNETES_SERVICE_HOST/PORT
//   name the API server's address (loopback here, no Service proxy).
// - Env: value, valueFrom.fieldRef (metadata.name/namespace/uid, spec.nodeName,
//   spec.serviceAccountName, status.podIP/hostIP), secretKeyRef,
//   configMapKeyRef (honouring `optional`), envFrom configMapRef/secretRef.
#pragma once

#include <cstdint>
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
using ObjectLookup = std::function<std::optional<Json>(
    const std::string& kind, const std::string& ns, const std::string& name)>;

/// What a serviceAccountToken projection asks for (a TokenRequest bound to the pod).
struct TokenRequestSpec {
  std::string ns;
  std::string serviceAccount;
  std::string audience;  // "" = the API server's default audiences
  int64_t expirationSeconds = 3600;
  std::string podName;
  std::string podUid;
};

/// A token, or why there is none (error non-empty).
struct IssuedToken {
  std::string token;
  std::string error;
};
using TokenSource = std::function<IssuedToken(const TokenRequestSpec&)>;

struct LaunchSettings {
  std::string workerBinary;  // local path run for images containing "shoal-worker"
  std::string podDir;        // per-pod working directory (volumes live below it)
  int listenPort = 0;        // the pod's port on 127.0.0.1
  std::string nodeName;
  std::string hostIp = "127.0.0.1";
  std::string operatorBinary;  // local path run for images containing "shoal-operator"
  std::string apiServerHost;   // KUBERNETES_SERVICE_HOST ("" = not set)
  int apiServerPort = 0;       // KUBERNETES_SERVICE_PORT
  /// A free loopback port for each declared container port that an argument
  /// binds; nullptr = such arguments are left alone.
  std::function<int()> allocatePort;
};

struct BindMount {
  std::string source;  // materialised directory (or file, with subPath)
  std::string target;  // the container's mountPath
  bool readOnly = false;
};

/// The process identity from the securityContext (unset = the agent's own).
struct ProcessIdentity {
  std::optional<int64_t> uid, gid;
  std::vector<int64_t> supplementalGroups;  // fsGroup and supplementalGroups
};

struct FileToWrite {
  std::string path;
  std::string content;
  int mode = 0644;  // the volume's defaultMode, or the item's mode
};

struct LaunchPlan {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::vector<std::string> directories;          // to create (volume roots)
  std::vector<std::string> writableDirectories;  // to create mode 0777 (emptyDir)
  std::vector<FileToWrite> files;
  std::string readinessPath;  // "" = ready as soon as it runs
  int readinessPort = 0;
  /// Run in a private mount namespace with these bind mounts (parents first).
  bool privateMountNamespace = false;
  std::vector<BindMount> bindMounts;
  ProcessIdentity identity;      // applied only with privateMountNamespace
  std::string hostname;          // spec.hostname or the pod name (own UTS namespace
                                 // with privateMountNamespace)
  std::map<int, int> hostPorts;  // containerPort -> port on 127.0.0.1
};

struct LaunchFailure {
  std::string reason;  // CamelCase, for the container's waiting state
  std::string message;
};

/// Plans the launch of pod.spec.containers[0]. Never throws on pod input.
/// `tokens` serves serviceAccountToken projections (none: such pods fail
/// with FailedMount).
std::variant<LaunchPlan, LaunchFailure> planLaunch(const Json& pod, const ObjectLookup& lookup,
                                                   const LaunchSettings& settings,
                                                   const TokenSource& tokens = {});

/// The port of a bind address "[host]:port" whose host is local or a
/// wildcard ("", 0.0.0.0, ::, [::], 127.0.0.1, localhost); nullopt otherwise.
/// Exposed for tests.
std::optional<int> bindAddressPort(const std::string& value);

/// Replaces a mountPath prefix in `value` using mounts (mountPath -> local dir),
/// the longest mountPath first. Exposed for tests.
std::string rewriteMountPaths(const std::string& value,
                              const std::map<std::string, std::string>& mounts);

}  // namespace shoal::e2e
