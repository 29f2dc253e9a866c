// The Kubernetes API as Shoal's controllers see it: an abstract Client (verbs
// on resources addressed by group/version/plural/namespace/name, JSON bodies,
// API errors decoded from Status objects as values) with a real HTTPS
// implementation (makeHttpClient); tests have an in-memory fake
// (tests/support: shoal/testing/fake_kube_client.h).
//
// Design note
// - Objects are nlohmann::json; typed views are the controllers' business.
// - Every verb returns ApiResult<T>: the value, or an ApiError carrying the
//   HTTP code and the Status reason. Transport failures have code 0 and are
//   retryable, like 429 and 5xx. Nothing here throws on server input.
// - watch() is one HTTP watch request; the list-then-watch state machine with
//   resume and relist lives in watcher.h on top of it.
// - Implementations are thread-safe: many threads may call verbs at once, and
//   a watch blocks only its calling thread (stop it with the stop_token).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "shoal/common/result.h"

namespace shoal::kube {

using Json = nlohmann::json;

/// \brief A resource type: group ("" for core), version, plural, scope.
struct Resource {
  std::string group;
  std::string version;
  std::string plural;
  bool namespaced = true;
  std::string kind;  // informative (e.g. for building objects); may be empty

  /// "v1" for the core group, else "group/version".
  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
  bool operator==(const Resource& o) const {
    return group == o.group && version == o.version && plural == o.plural;
  }

  static Resource namespaces() { return {"", "v1", "namespaces", false, "Namespace"}; }
  static Resource configMaps() { return {"", "v1", "configmaps", true, "ConfigMap"}; }
  static Resource secrets() { return {"", "v1", "secrets", true, "Secret"}; }
  static Resource pods() { return {"", "v1", "pods", true, "Pod"}; }
  static Resource events() { return {"", "v1", "events", true, "Event"}; }
  static Resource serviceAccounts() { return {"", "v1", "serviceaccounts", true, "ServiceAccount"}; }
  static Resource deployments() { return {"apps", "v1", "deployments", true, "Deployment"}; }
  static Resource replicaSets() { return {"apps", "v1", "replicasets", true, "ReplicaSet"}; }
  static Resource leases() { return {"coordination.k8s.io", "v1", "leases", true, "Lease"}; }
  static Resource customResourceDefinitions() {
    return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
            "CustomResourceDefinition"};
  }
};

/// \brief An error from the API server (decoded from its Status body) or from
/// the transport (code 0).
struct ApiError {
  int code = 0;            // HTTP status; 0 = no response (connect/TLS/read failure)
  std::string reason;      // Status.reason: NotFound, Conflict, AlreadyExists, Invalid,
                           // Expired, Gone, TooManyRequests, ... ("" if none)
  std::string message;     // Status.message or a transport description
  Json details;            // Status.details (causes etc.), null if absent
  std::optional<std::chrono::seconds> retryAfter;  // Retry-After / details.retryAfterSeconds

  bool isNotFound() const { return code == 404; }
  /// 409 because of a stale resourceVersion (or any 409 except AlreadyExists).
  bool isConflict() const { return code == 409 && reason != "AlreadyExists"; }
  bool isAlreadyExists() const { return code == 409 && reason == "AlreadyExists"; }
  /// 410 Gone / Expired: the resourceVersion is too old; relist.
  bool isGone() const { return code == 410 || reason == "Expired" || reason == "Gone"; }
  bool isInvalid() const { return code == 422; }
  bool isForbidden() const { return code == 403; }
  bool isUnauthorized() const { return code == 401; }
  /// Worth retrying unchanged after a backoff: transport failure, 429, 5xx.
  bool isRetryable() const { return code == 0 || code == 429 || code >= 500; }
  /// "404 NotFound: deployments.apps \"x\" not found"
  std::string describe() const;
  /// Maps to the common error type (kNotFound, kConflict, kRetryable, ...).
  shoal::Error toError() const;
};

/// A value or an ApiError.
template <typename T>
using ApiResult = shoal::Result<T, ApiError>;

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t limit = 0;              // 0 = no paging
  std::string continueToken;      // from the previous page
  std::string resourceVersion;    // "" = most recent (quorum read), "0" = any
  std::string resourceVersionMatch;  // "", "NotOlderThan", "Exact"
};

/// \brief One page of a list: its items, the list's resourceVersion and the
/// continue token ("" on the last page).
struct ListPage {
  std::vector<Json> items;
  std::string resourceVersion;
  std::string continueToken;
  int64_t remainingItemCount = -1;  // -1 when the server did not say
};

struct WatchOptions {
  std::string resourceVersion;     // start after this version ("" = now, synthetic ADDEDs)
  std::string labelSelector;
  std::string fieldSelector;
  bool allowBookmarks = true;
  int timeoutSeconds = 300;        // server-side end of the watch (the watcher resumes)
  bool sendInitialEvents = false;  // watch-list (needs the feature gate)
};

/// \brief One event of a watch stream.
struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  Json object;  // the object; for kError the Status object
  /// For kError: the Status decoded (code 410 means relist).
  ApiError statusError() const;
  static std::optional<Type> parseType(const std::string& s);
  static const char* typeName(Type t);
};

/// Called for each event; return false to end the watch (the call returns ok).
using WatchHandler = std::function<bool(const WatchEvent&)>;

struct WriteOptions {
  std::string fieldManager;  // "" = server default
  bool dryRun = false;
};

enum class PatchType {
  kMerge,      // application/merge-patch+json (RFC 7386)
  kJson,       // application/json-patch+json (RFC 6902; a JSON array of ops, incl. "test")
  kStrategic,  // application/strategic-merge-patch+json (built-in types only)
  kApply,      // application/apply-patch+yaml: server-side apply (fieldManager required)
};

struct PatchOptions {
  std::string fieldManager;  // required for kApply
  bool force = false;        // kApply: take ownership of conflicting fields
  bool dryRun = false;
};

struct DeleteOptions {
  std::string propagationPolicy;  // "", "Foreground", "Background", "Orphan"
  std::optional<int64_t> gracePeriodSeconds;
  std::string preconditionUid;
  std::string preconditionResourceVersion;
};

/// \brief The Kubernetes API. Thread-safe. `ns` is ignored for cluster-scoped
/// resources; "" with a namespaced resource in list/watch means all namespaces.
/// `subresource` is "" or "status", "scale", ...
class Client {
 public:
  virtual ~Client() = default;

  virtual ApiResult<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                              const std::string& subresource = "") = 0;
  /// One page (or the whole list when opts.limit == 0).
  virtual ApiResult<ListPage> list(const Resource& r, const std::string& ns,
                                   const ListOptions& opts = {}) = 0;
  /// One watch request: blocks, calling handler for each event, until the
  /// server ends the stream (returns ok), handler returns false (ok), the
  /// stop token is triggered (ok) or an error happens (an HTTP 410 here comes
  /// back as an ApiError with isGone()). ERROR events are passed to the
  /// handler, which decides.
  virtual ApiResult<void> watch(const Resource& r, const std::string& ns,
                                const WatchOptions& opts, const WatchHandler& handler,
                                std::stop_token stop = {}) = 0;
  virtual ApiResult<Json> create(const Resource& r, const std::string& ns, const Json& obj,
                                 const WriteOptions& opts = {}) = 0;
  /// PUT; obj.metadata.resourceVersion set means optimistic concurrency (409).
  virtual ApiResult<Json> update(const Resource& r, const std::string& ns,
                                 const std::string& name, const Json& obj,
                                 const std::string& subresource = "",
                                 const WriteOptions& opts = {}) = 0;
  virtual ApiResult<Json> patch(const Resource& r, const std::string& ns,
                                const std::string& name, PatchType type, const Json& body,
                                const PatchOptions& opts = {},
                                const std::string& subresource = "") = 0;
  /// DELETE; returns the server's answer (the object or a Status).
  virtual ApiResult<Json> remove(const Resource& r, const std::string& ns,
                                 const std::string& name, const DeleteOptions& opts = {}) = 0;

  // ---- conveniences on top of the verbs (non-virtual) ----

  /// Follows continue tokens (pageSize per request) and returns every item,
  /// with the resourceVersion of the first page. A 410 on a continue token
  /// (expired) restarts from the beginning once.
  ApiResult<ListPage> listAll(const Resource& r, const std::string& ns,
                              ListOptions opts = {}, int64_t pageSize = 500);
  ApiResult<Json> mergePatch(const Resource& r, const std::string& ns, const std::string& name,
                             const Json& patch, const std::string& subresource = "") {
    return this->patch(r, ns, name, PatchType::kMerge, patch, {}, subresource);
  }
  ApiResult<Json> jsonPatch(const Resource& r, const std::string& ns, const std::string& name,
                            const Json& ops, const std::string& subresource = "") {
    return this->patch(r, ns, name, PatchType::kJson, ops, {}, subresource);
  }
  /// Server-side apply of a full intent object (apiVersion, kind, metadata.name).
  ApiResult<Json> apply(const Resource& r, const std::string& ns, const std::string& name,
                        const Json& intent, const std::string& fieldManager, bool force = true,
                        const std::string& subresource = "") {
    PatchOptions o;
    o.fieldManager = fieldManager;
    o.force = force;
    return this->patch(r, ns, name, PatchType::kApply, intent, o, subresource);
  }
  ApiResult<Json> updateStatus(const Resource& r, const std::string& ns, const std::string& name,
                               const Json& obj) {
    return update(r, ns, name, obj, "status");
  }
  /// The autoscaling/v1 Scale of a resource with a scale subresource.
  ApiResult<Json> getScale(const Resource& r, const std::string& ns, const std::string& name) {
    return get(r, ns, name, "scale");
  }
  /// Sets spec.replicas through the scale subresource (merge patch).
  ApiResult<Json> setReplicas(const Resource& r, const std::string& ns, const std::string& name,
                              int32_t replicas) {
    return mergePatch(r, ns, name, Json{{"spec", {{"replicas", replicas}}}}, "scale");
  }
};

// ---- configuration (kubeconfig / in-cluster) ----

/// \brief Where and how to connect, as resolved from a kubeconfig or the pod.
struct ClientConfig {
  std::string server;            // https://host:port (http:// allowed for tests)
  std::string caPem;             // PEM bundle (from certificate-authority(-data))
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;     // SNI/verify name override ("" = host of server)
  std::string token;             // bearer token (static)
  std::string tokenFile;         // bearer token re-read from this file when it changes
  std::string clientCertPem;     // client-certificate(-data)
  std::string clientKeyPem;      // client-key(-data)
  std::string username, password;  // basic auth (rare)
  std::string namespace_;        // the context's namespace ("default" if unset)
  std::string contextName;
  std::chrono::milliseconds timeout{30000};  // per non-watch request
  std::string userAgent = "shoal-operator";
};

/// Parses a kubeconfig document (YAML text). `context` "" = current-context.
/// Relative file paths resolve against baseDir. Errors: kInvalidInput.
shoal::Result<ClientConfig> parseKubeconfig(const std::string& yamlText,
                                            const std::string& context = "",
                                            const std::string& baseDir = ".");
/// Reads and parses a kubeconfig file.
shoal::Result<ClientConfig> loadKubeconfigFile(const std::string& path,
                                               const std::string& context = "");
/// In-cluster config: KUBERNETES_SERVICE_HOST/PORT, the service-account
/// token file (re-read on rotation), ca.crt and namespace under `saDir`.
shoal::Result<ClientConfig> loadInClusterConfig(
    const std::string& saDir = "/var/run/secrets/kubernetes.io/serviceaccount");
/// Like kubectl: explicit path (--kubeconfig) if non-empty, else $KUBECONFIG
/// (first existing file of the colon list), else in-cluster if
/// KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
shoal::Result<ClientConfig> loadDefaultConfig(const std::string& kubeconfigFlag = "",
                                              const std::string& context = "");

/// The real client over HTTPS (cpp-httplib + OpenSSL). Fails (kInvalidInput)
/// on unparsable certificates or server URL. Sets SIGPIPE to ignored for the
/// process (once), as OpenSSL writes to sockets that may be closed.
shoal::Result<std::shared_ptr<Client>> makeHttpClient(const ClientConfig& cfg);

// ---- helpers on objects ----

/// Decodes an API error from an HTTP status and body (a Status object or not).
ApiError decodeApiError(int httpStatus, const std::string& body);
/// metadata.name / namespace / resourceVersion / uid, "" when absent.
std::string nameOf(const Json& obj);
std::string namespaceOf(const Json& obj);
std::string resourceVersionOf(const Json& obj);
std::string uidOf(const Json& obj);
/// "ns/name" or "name" for cluster-scoped objects: the key used by caches and queues.
std::string keyOf(const Json& obj);
std::string makeKey(const std::string& ns, const std::string& name);
/// Splits "ns/name" (or "name") back.
std::pair<std::string, std::string> splitKey(const std::string& key);
/// The ownerReference with controller: true, if any.
std::optional<Json> controllerOwnerOf(const Json& obj);
/// Standard or URL-safe base64 (padding optional, whitespace ignored); nullopt if invalid.
/// Percent-encodes a query parameter value.
std::string urlEncode(const std::string& s);
/// The request path of a resource: /api/v1/namespaces/ns/pods/name/status, with
/// ns ignored for cluster-scoped resources and omitted when empty.
std::string resourcePath(const Resource& r, const std::string& ns, const std::string& name = "",
                         const std::string& subresource = "");

}  // namespace shoal::kube
