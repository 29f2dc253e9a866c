// Local mode's file-backed ResourceStore: YAML documents in, status in memory.
#include "shoal/local/file_store.h"

#include "shoal/api/receiver.h"
#include "shoal/common/base64.h"


#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "shoal/api/pipeline.h"
#include "shoal/api/worker_pool.h"
#include "shoal/controllers/render.h"

namespace shoal::local {

using nlohmann::json;

namespace {

bool isInteger(const std::string& s) {
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool isFloat(const std::string& s) {
  // [-+]? digits? (. digits?)? ([eE][-+]?digits)?, with at least one digit
  // before the exponent and a '.' or exponent present.
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  size_t digits = 0;
  bool dotOrExp = false;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    dotOrExp = true;
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    dotOrExp = true;
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t expDigits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++expDigits;
    if (expDigits == 0) return false;
  }
  return dotOrExp && i == s.size();
}

json plainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (isInteger(s)) {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && end && *end == '\0') return static_cast<int64_t>(v);
    return s;  // out of range: keep the text
  }
  if (isFloat(s)) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return v;
  }
  return s;
}

std::string stableUid(const std::string& kind, const std::string& key) {
  return "local-" + controllers::configHash(kind + "/" + key);
}

std::string nowRfc3339() { return api::formatTime(std::chrono::system_clock::now()); }

/// Fills namespace, uid, generation and creationTimestamp as the API server would.
void completeMetadata(json& obj, const std::string& kind) {
  json& md = obj["metadata"];
  if (!md.contains("namespace") || !md["namespace"].is_string() ||
      md["namespace"].get<std::string>().empty()) {
    md["namespace"] = "default";
  }
  const std::string key = md["namespace"].get<std::string>() + "/" + md["name"].get<std::string>();
  if (!md.contains("uid")) md["uid"] = stableUid(kind, key);
  if (!md.contains("generation") || !md["generation"].is_number_integer()) md["generation"] = 1;
  if (!md.contains("creationTimestamp")) md["creationTimestamp"] = nowRfc3339();
  obj.erase("status");  // status is ours, not the file's
}

std::string errorContext(const std::string& file, int index, const std::string& kind,
                         const std::string& name) {
  std::string s = file + ": document " + std::to_string(index);
  if (!kind.empty()) s += " (" + kind + (name.empty() ? "" : " " + name) + ")";
  return s;
}

Result<void> addSecret(json& obj, const std::string& where, ResourceSet& into,
                       const std::string& key) {
  std::map<std::string, std::string> data;
  if (obj.contains("data") && !obj["data"].is_null()) {
    if (!obj["data"].is_object()) return makeError(Errc::kInvalidInput, where + ": data: must be a map");
    for (auto it = obj["data"].begin(); it != obj["data"].end(); ++it) {
      if (!it.value().is_string()) {
        return makeError(Errc::kInvalidInput, where + ": data." + it.key() + ": must be a string");
      }
      auto decoded = shoal::base64Decode(it.value().get<std::string>());
      if (!decoded) {
        return makeError(Errc::kInvalidInput,
                         where + ": data." + it.key() + ": not valid base64 (use stringData for plain text)");
      }
      data[it.key()] = *decoded;
    }
  }
  if (obj.contains("stringData") && !obj["stringData"].is_null()) {
    if (!obj["stringData"].is_object()) {
      return makeError(Errc::kInvalidInput, where + ": stringData: must be a map");
    }
    for (auto it = obj["stringData"].begin(); it != obj["stringData"].end(); ++it) {
      const json& v = it.value();
      if (v.is_string()) {
        data[it.key()] = v.get<std::string>();
      } else if (v.is_number() || v.is_boolean()) {
        data[it.key()] = v.dump();
      } else {
        return makeError(Errc::kInvalidInput, where + ": stringData." + it.key() + ": must be a string");
      }
    }
  }
  into.secrets[key] = std::move(data);
  return {};
}

}  // namespace

json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : node) {
        o[kv.first.Scalar()] = yamlToJson(kv.second);
      }
      return o;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : node) a.push_back(yamlToJson(e));
      return a;
    }
    case YAML::NodeType::Scalar: {
      // yaml-cpp tags plain scalars "?" and quoted ones "!".
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
      return plainScalar(node.Scalar());
    }
    default:
      return nullptr;
  }
}

Result<void> parseResourceText(const std::string& text, const std::string& fileName,
                               ResourceSet& into) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return makeError(Errc::kInvalidInput, fileName + ":" + std::to_string(e.mark.line + 1) + ":" +
                                              std::to_string(e.mark.column + 1) +
                                              ": invalid YAML: " + e.msg);
  }
  int index = 0;
  for (const auto& doc : docs) {
    ++index;
    if (doc.IsNull()) continue;  // an empty document between two ---
    json obj;
    try {
      obj = yamlToJson(doc);
    } catch (const YAML::Exception& e) {
      return makeError(Errc::kInvalidInput,
                       errorContext(fileName, index, "", "") + ": invalid YAML: " + e.msg);
    }
    if (!obj.is_object()) {
      return makeError(Errc::kInvalidInput,
                       errorContext(fileName, index, "", "") + ": not a map (expected a Kubernetes object)");
    }
    const std::string kind = api::stringAt(obj, "kind");
    const std::string name = api::stringAt(api::objectAt(obj, "metadata"), "name");
    const std::string where = errorContext(fileName, index, kind, name);
    if (kind.empty()) return makeError(Errc::kInvalidInput, where + ": kind: missing");
    if (kind != api::kPipelineKind && kind != api::kWorkerPoolKind && kind != api::kReceiverKind &&
        kind != "Secret") {
      into.warnings.push_back(where + ": kind " + kind + " is not used by local mode; ignored");
      continue;
    }
    const std::string apiVersion = api::stringAt(obj, "apiVersion");
    const std::string wantVersion = kind == "Secret" ? "v1" : api::kApiVersion;
    if (apiVersion != wantVersion) {
      return makeError(Errc::kInvalidInput, where + ": apiVersion: must be " + wantVersion +
                                                (apiVersion.empty() ? " (missing)" : ", got " + apiVersion));
    }
    if (!obj.contains("metadata") || !obj["metadata"].is_object()) {
      return makeError(Errc::kInvalidInput, where + ": metadata: missing");
    }
    if (name.empty()) return makeError(Errc::kInvalidInput, where + ": metadata.name: missing");
    completeMetadata(obj, kind);
    const std::string key =
        obj["metadata"]["namespace"].get<std::string>() + "/" + name;
    const std::string originKey = kind + " " + key;
    if (auto it = into.origin.find(originKey); it != into.origin.end()) {
      return makeError(Errc::kConflict, where + ": " + kind + " " + key + " is already defined in " +
                                            it->second);
    }
    if (kind == "Secret") {
      if (auto r = addSecret(obj, where, into, key); !r.ok()) return r;
    } else if (kind == api::kPipelineKind) {
      auto parsed = api::pipelineFromJson(obj);
      if (!parsed.ok()) return makeError(Errc::kInvalidInput, where + ": " + parsed.error().message);
      into.pipelines[key] = obj;
    } else if (kind == api::kReceiverKind) {
      auto parsed = api::receiverFromJson(obj);
      if (!parsed.ok()) return makeError(Errc::kInvalidInput, where + ": " + parsed.error().message);
      into.receivers[key] = obj;
    } else {
      auto parsed = api::workerPoolFromJson(obj);
      if (!parsed.ok()) return makeError(Errc::kInvalidInput, where + ": " + parsed.error().message);
      into.workerPools[key] = obj;
    }
    into.origin[originKey] = fileName + " (document " + std::to_string(index) + ")";
  }
  return {};
}

Result<ResourceSet> loadResourceFiles(const std::vector<std::string>& paths) {
  ResourceSet set;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return makeError(Errc::kNotFound, path + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    if (auto r = parseResourceText(ss.str(), path, set); !r.ok()) return r.error();
  }
  return set;
}

Result<void> overrideRedisUrl(ResourceSet& set, const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos ||
      (url.compare(0, scheme, "redis") != 0 && url.compare(0, scheme, "rediss") != 0)) {
    return makeError(Errc::kInvalidInput, "--redis-url: must be redis://host:port[/db] or rediss://...");
  }
  const auto hostEnd = url.find('/', scheme + 3);
  if (url.substr(scheme + 3, hostEnd == std::string::npos ? std::string::npos : hostEnd - scheme - 3)
          .find('@') != std::string::npos) {
    return makeError(Errc::kInvalidInput,
                     "--redis-url: must not carry credentials; reference a Secret "
                     "(spec.source.redis.passwordSecretRef) instead");
  }
  for (auto& [key, obj] : set.pipelines) {
    json& redis = obj["spec"]["source"]["redis"];
    redis.erase("address");
    redis["url"] = url;
  }
  for (auto& [key, obj] : set.receivers) {
    json& redis = obj["spec"]["redis"];
    redis.erase("address");
    redis["url"] = url;
  }
  return {};
}

std::string secretEnvName(const std::string& secretName, const std::string& key) {
  std::string s = "SHOAL_SECRET_" + secretName + "_" + key;
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

Result<void> writeFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return makeError(Errc::kIo, tmp + ": cannot write");
    out << content;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return makeError(Errc::kIo, tmp + ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return makeError(Errc::kIo, path + ": rename failed");
  }
  return {};
}

FileResourceStore::FileResourceStore(ResourceSet set, EnvLookup envLookup)
    : set_(std::move(set)), env_(std::move(envLookup)) {
  if (!env_) {
    env_ = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      if (v == nullptr) return std::nullopt;
      return std::string(v);
    };
  }
}

Result<std::optional<api::WorkerPool>> FileResourceStore::getWorkerPool(const std::string& ns,
                                                                        const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = set_.workerPools.find(ns + "/" + name);
  if (it == set_.workerPools.end()) return std::optional<api::WorkerPool>();
  auto p = api::workerPoolFromJson(it->second);
  if (!p.ok()) return p.error();
  return std::optional<api::WorkerPool>(std::move(p.value()));
}

Result<std::optional<api::Pipeline>> FileResourceStore::getPipeline(const std::string& ns,
                                                                    const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = set_.pipelines.find(ns + "/" + name);
  if (it == set_.pipelines.end()) return std::optional<api::Pipeline>();
  auto p = api::pipelineFromJson(it->second);
  if (!p.ok()) return p.error();
  return std::optional<api::Pipeline>(std::move(p.value()));
}

Result<std::vector<api::WorkerPool>> FileResourceStore::listWorkerPools(const std::string& ns) {
  std::lock_guard lock(mu_);
  std::vector<api::WorkerPool> out;
  for (const auto& [key, obj] : set_.workerPools) {
    if (key.rfind(ns + "/", 0) != 0) continue;
    auto p = api::workerPoolFromJson(obj);
    if (p.ok()) out.push_back(std::move(p.value()));
  }
  return out;
}

Result<std::optional<std::string>> FileResourceStore::getSecretValue(const std::string& ns,
                                                                     const api::SecretKeyRef& ref) {
  {
    std::lock_guard lock(mu_);
    auto it = set_.secrets.find(ns + "/" + ref.name);
    if (it != set_.secrets.end()) {
      auto k = it->second.find(ref.key);
      if (k != it->second.end()) return std::optional<std::string>(k->second);
    }
  }
  return env_(secretEnvName(ref.name, ref.key));
}

Result<void> FileResourceStore::writeWorkerPoolStatus(const api::WorkerPool& pool,
                                                      const nlohmann::json& status) {
  std::lock_guard lock(mu_);
  auto it = set_.workerPools.find(pool.metadata.namespace_ + "/" + pool.metadata.name);
  if (it == set_.workerPools.end()) {
    return makeError(Errc::kNotFound, "WorkerPool " + pool.metadata.name + " is not loaded");
  }
  it->second["status"] = status;
  return {};
}

Result<void> FileResourceStore::writePipelineStatus(const api::Pipeline& pipeline,
                                                    const nlohmann::json& status) {
  std::lock_guard lock(mu_);
  auto it = set_.pipelines.find(pipeline.metadata.namespace_ + "/" + pipeline.metadata.name);
  if (it == set_.pipelines.end()) {
    return makeError(Errc::kNotFound, "Pipeline " + pipeline.metadata.name + " is not loaded");
  }
  it->second["status"] = status;
  return {};
}

Result<void> FileResourceStore::setPipelineFinalizer(const api::Pipeline& pipeline,
                                                     const std::string& finalizer, bool present) {
  std::lock_guard lock(mu_);
  auto it = set_.pipelines.find(pipeline.metadata.namespace_ + "/" + pipeline.metadata.name);
  if (it == set_.pipelines.end()) {
    return makeError(Errc::kNotFound, "Pipeline " + pipeline.metadata.name + " is not loaded");
  }
  json& fs = it->second["metadata"]["finalizers"];
  json out = json::array();
  if (fs.is_array()) {
    for (const auto& f : fs) {
      if (f != finalizer) out.push_back(f);
    }
  }
  if (present) out.push_back(finalizer);
  fs = out;
  return {};
}

std::vector<std::pair<std::string, std::string>> FileResourceStore::pipelineKeys() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, obj] : set_.pipelines) {
    out.emplace_back(obj["metadata"]["namespace"].get<std::string>(),
                     obj["metadata"]["name"].get<std::string>());
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> FileResourceStore::workerPoolKeys() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, obj] : set_.workerPools) {
    out.emplace_back(obj["metadata"]["namespace"].get<std::string>(),
                     obj["metadata"]["name"].get<std::string>());
  }
  return out;
}

json FileResourceStore::snapshot() const {
  std::lock_guard lock(mu_);
  json out = {{"pipelines", json::array()}, {"workerPools", json::array()}};
  for (const auto& [key, obj] : set_.pipelines) out["pipelines"].push_back(obj);
  for (const auto& [key, obj] : set_.workerPools) out["workerPools"].push_back(obj);
  return out;
}

}  // namespace shoal::local
