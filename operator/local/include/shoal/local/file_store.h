// Local mode's ResourceStore: Pipelines, WorkerPools, Receivers and Secrets read from the
// YAML files a user would `kubectl apply -f` (multi-document, any order, other
// kinds ignored with a warning), status kept in memory and exported as one
// JSON snapshot for the status file and the live view.
//
// Design note
// - Files are read once at startup; every problem is reported with the file,
//   the document's position and kind/name, and the field path the API types
//   name ("spec.source.redis.stream: missing"), so a typo fails fast.
// - Objects keep their JSON as written (plus namespace "default", a stable
//   uid, generation 1); each get parses it again with the current status, so
//   the reconcilers see exactly what they would see from the API server.
// - Secrets come from `kind: Secret` documents (`data` base64 or
//   `stringData`), else from the environment: SHOAL_SECRET_<NAME>_<KEY>, upper
//   case, every character outside [A-Z0-9] as '_'.
// Thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shoal/controllers/interfaces.h"

namespace shoal::local {

/// The objects found in the resource files, validated.
struct ResourceSet {
  std::map<std::string, nlohmann::json> pipelines;    // "ns/name" -> object
  std::map<std::string, nlohmann::json> workerPools;  // "ns/name" -> object
  std::map<std::string, nlohmann::json> receivers;    // "ns/name" -> object (receiver_processes.h)
  std::map<std::string, std::map<std::string, std::string>> secrets;  // "ns/name" -> data
  std::map<std::string, std::string> origin;  // "Kind ns/name" -> "file (document N)"
  std::vector<std::string> warnings;          // documents ignored, and why
};

/// Converts a YAML node to JSON: plain scalars become null, booleans, integers
/// or floats when they read as such (YAML 1.2 core schema); quoted scalars
/// stay strings.
nlohmann::json yamlToJson(const YAML::Node& node);

/// Adds the documents of one file's text to `into`. Errors name the file, the
/// document (1-based), its kind/name and the field.
Result<void> parseResourceText(const std::string& text, const std::string& fileName,
                               ResourceSet& into);
/// Reads and parses every file, in order.
Result<ResourceSet> loadResourceFiles(const std::vector<std::string>& paths);

/// Points every Pipeline (spec.source.redis.url) and Receiver
/// (spec.redis.url) at this Redis URL, address removed. Fails for URLs carrying credentials (those belong in Secrets).
Result<void> overrideRedisUrl(ResourceSet& set, const std::string& url);

/// The env var a Secret key may come from: SHOAL_SECRET_<NAME>_<KEY>.
std::string secretEnvName(const std::string& secretName, const std::string& key);



/// Writes `content` to `path` atomically: a temp file in the same directory,
/// then rename over the target.
Result<void> writeFileAtomically(const std::string& path, const std::string& content);

class FileResourceStore final : public controllers::ResourceStore {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
  /// envLookup defaults to getenv.
  explicit FileResourceStore(ResourceSet set, EnvLookup envLookup = {});

  Result<std::optional<api::WorkerPool>> getWorkerPool(const std::string& ns,
                                                       const std::string& name) override;
  Result<std::optional<api::Pipeline>> getPipeline(const std::string& ns,
                                                   const std::string& name) override;
  Result<std::vector<api::WorkerPool>> listWorkerPools(const std::string& ns) override;
  Result<std::optional<std::string>> getSecretValue(const std::string& ns,
                                                    const api::SecretKeyRef& ref) override;
  Result<void> writeWorkerPoolStatus(const api::WorkerPool& pool,
                                     const nlohmann::json& status) override;
  Result<void> writePipelineStatus(const api::Pipeline& pipeline,
                                   const nlohmann::json& status) override;
  Result<void> setPipelineFinalizer(const api::Pipeline& pipeline, const std::string& finalizer,
                                    bool present) override;

  /// (namespace, name) of every Pipeline / WorkerPool, sorted.
  std::vector<std::pair<std::string, std::string>> pipelineKeys() const;
  std::vector<std::pair<std::string, std::string>> workerPoolKeys() const;
  /// {"pipelines": [objects with status], "workerPools": [...]}
  nlohmann::json snapshot() const;

 private:
  mutable std::mutex mu_;
  ResourceSet set_;
  EnvLookup env_;
};

}  // namespace shoal::local
