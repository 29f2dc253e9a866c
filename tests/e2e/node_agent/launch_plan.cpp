// Pod spec -> local process plan for the test node agent (see launch_plan.h).
#include "launch_plan.h"

#include <algorithm>

#include "shoal/kube/client.h"

namespace shoal::e2e {
namespace {

std::string str(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const Json& member(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::vector<std::string> strings(const Json& arr) {
  std::vector<std::string> out;
  if (!arr.is_array()) return out;
  for (const auto& v : arr) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// The data of a ConfigMap or Secret as plain strings (Secret data is base64).
std::map<std::string, std::string> dataOf(const std::string& kind, const Json& obj) {
  std::map<std::string, std::string> out;
  const Json& data = member(obj, "data");
  if (data.is_object()) {
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (!it.value().is_string()) continue;
      if (kind == "Secret") {
        if (auto d = kube::base64Decode(it.value().get<std::string>())) out[it.key()] = *d;
      } else {
        out[it.key()] = it.value().get<std::string>();
      }
    }
  }
  const Json& sdata = member(obj, "stringData");
  if (sdata.is_object()) {
    for (auto it = sdata.begin(); it != sdata.end(); ++it) {
      if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
    }
  }
  return out;
}

bool safeRelativePath(const std::string& p) {
  return !p.empty() && p[0] != '/' && p.find("..") == std::string::npos;
}

std::optional<std::string> fieldValue(const Json& pod, const std::string& path,
                                      const LaunchSettings& s) {
  const Json& meta = member(pod, "metadata");
  const Json& spec = member(pod, "spec");
  if (path == "metadata.name") return str(meta, "name");
  if (path == "metadata.namespace") return str(meta, "namespace");
  if (path == "metadata.uid") return str(meta, "uid");
  if (path == "spec.nodeName") return s.nodeName;
  if (path == "spec.serviceAccountName") return str(spec, "serviceAccountName");
  if (path == "status.podIP" || path == "status.hostIP") return s.hostIp;
  const std::string labelsPrefix = "metadata.labels['";
  if (path.rfind(labelsPrefix, 0) == 0 && path.size() > labelsPrefix.size() + 2) {
    std::string key = path.substr(labelsPrefix.size(), path.size() - labelsPrefix.size() - 2);
    return str(member(meta, "labels"), key.c_str());
  }
  return std::nullopt;
}

}  // namespace

std::string rewriteMountPaths(const std::string& value,
                              const std::map<std::string, std::string>& mounts) {
  std::vector<std::pair<std::string, std::string>> bySpecificity(mounts.begin(), mounts.end());
  std::sort(bySpecificity.begin(), bySpecificity.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [mountPath, local] : bySpecificity) {
    if (mountPath.empty()) continue;
    if (value == mountPath) return local;
    std::string prefix = mountPath.back() == '/' ? mountPath : mountPath + "/";
    if (value.rfind(prefix, 0) == 0) return local + "/" + value.substr(prefix.size());
  }
  return value;
}

std::variant<LaunchPlan, LaunchFailure> planLaunch(const Json& pod, const ObjectLookup& lookup,
                                                   const LaunchSettings& s) {
  const Json& spec = member(pod, "spec");
  const Json& containers = member(spec, "containers");
  if (!containers.is_array() || containers.empty() || !containers[0].is_object()) {
    return LaunchFailure{"InvalidPodSpec", "pod has no containers"};
  }
  const Json& c = containers[0];
  const std::string ns = str(member(pod, "metadata"), "namespace");
  const std::string image = str(c, "image");
  if (image.find("shoal-worker") == std::string::npos) {
    return LaunchFailure{"ImageNotMapped",
                         "image '" + image + "' has no local binary (only *shoal-worker*)"};
  }

  LaunchPlan plan;
  // Volumes, materialised under podDir/volumes/<name>.
  std::map<std::string, std::string> volumeDirs;
  const Json& volumes = member(spec, "volumes");
  if (volumes.is_array()) {
    for (const auto& v : volumes) {
      std::string name = str(v, "name");
      if (!safeRelativePath(name)) continue;
      std::string dir = s.podDir + "/volumes/" + name;
      volumeDirs[name] = dir;
      plan.directories.push_back(dir);
      for (const char* kind : {"ConfigMap", "Secret"}) {
        const Json& src = member(v, kind == std::string("ConfigMap") ? "configMap" : "secret");
        if (!src.is_object()) continue;
        std::string objName = str(src, kind == std::string("ConfigMap") ? "name" : "secretName");
        bool optional = member(src, "optional").is_boolean() && src["optional"].get<bool>();
        auto obj = lookup(kind, ns, objName);
        if (!obj) {
          if (optional) continue;
          return LaunchFailure{"CreateContainerConfigError",
                               std::string(kind) + " " + ns + "/" + objName + " not found"};
        }
        auto data = dataOf(kind, *obj);
        const Json& items = member(src, "items");
        if (items.is_array() && !items.empty()) {
          for (const auto& item : items) {
            std::string key = str(item, "key"), path = str(item, "path");
            if (!safeRelativePath(path) || !data.count(key)) continue;
            plan.files.push_back({dir + "/" + path, data[key]});
          }
        } else {
          for (const auto& [key, content] : data) {
            if (safeRelativePath(key)) plan.files.push_back({dir + "/" + key, content});
          }
        }
      }
    }
  }
  std::map<std::string, std::string> mounts;
  const Json& volumeMounts = member(c, "volumeMounts");
  if (volumeMounts.is_array()) {
    for (const auto& m : volumeMounts) {
      auto it = volumeDirs.find(str(m, "name"));
      std::string mountPath = str(m, "mountPath");
      if (it == volumeDirs.end() || mountPath.empty()) continue;
      std::string sub = str(m, "subPath");
      mounts[mountPath] = safeRelativePath(sub) ? it->second + "/" + sub : it->second;
    }
  }

  // Environment.
  plan.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  plan.env["HOME"] = s.podDir;
  auto keyFrom = [&](const char* kind, const Json& ref) -> std::variant<std::string, bool,
                                                                         LaunchFailure> {
    std::string name = str(ref, "name"), key = str(ref, "key");
    bool optional = member(ref, "optional").is_boolean() && ref["optional"].get<bool>();
    auto obj = lookup(kind, ns, name);
    if (obj) {
      auto data = dataOf(kind, *obj);
      auto it = data.find(key);
      if (it != data.end()) return it->second;
    }
    if (optional) return false;  // skip the variable
    return LaunchFailure{"CreateContainerConfigError",
                         std::string(kind) + " " + ns + "/" + name + " key " + key +
                             " not found"};
  };
  const Json& envFrom = member(c, "envFrom");
  if (envFrom.is_array()) {
    for (const auto& ef : envFrom) {
      std::string prefix = str(ef, "prefix");
      for (const char* kind : {"ConfigMap", "Secret"}) {
        const Json& ref = member(ef, kind == std::string("ConfigMap") ? "configMapRef" : "secretRef");
        if (!ref.is_object()) continue;
        auto obj = lookup(kind, ns, str(ref, "name"));
        if (!obj) {
          if (member(ref, "optional").is_boolean() && ref["optional"].get<bool>()) continue;
          return LaunchFailure{"CreateContainerConfigError",
                               std::string(kind) + " " + ns + "/" + str(ref, "name") +
                                   " not found"};
        }
        for (const auto& [k, v] : dataOf(kind, *obj)) plan.env[prefix + k] = v;
      }
    }
  }
  const Json& env = member(c, "env");
  if (env.is_array()) {
    for (const auto& e : env) {
      std::string name = str(e, "name");
      if (name.empty()) continue;
      if (e.contains("value")) {
        plan.env[name] = rewriteMountPaths(str(e, "value"), mounts);
        continue;
      }
      const Json& from = member(e, "valueFrom");
      if (from.contains("fieldRef")) {
        auto v = fieldValue(pod, str(from["fieldRef"], "fieldPath"), s);
        if (!v) {
          return LaunchFailure{"CreateContainerConfigError",
                               "unsupported fieldRef " + str(from["fieldRef"], "fieldPath")};
        }
        plan.env[name] = *v;
      } else if (from.contains("secretKeyRef") || from.contains("configMapKeyRef")) {
        bool secret = from.contains("secretKeyRef");
        auto r = keyFrom(secret ? "Secret" : "ConfigMap",
                         from[secret ? "secretKeyRef" : "configMapKeyRef"]);
        if (auto* f = std::get_if<LaunchFailure>(&r)) return *f;
        if (auto* v = std::get_if<std::string>(&r)) plan.env[name] = *v;
      } else {
        plan.env[name] = "";
      }
    }
  }

  // argv: the mapped binary, then args, with mount paths and --listen rewritten.
  auto command = strings(member(c, "command"));
  auto args = strings(member(c, "args"));
  std::vector<std::string> argv;
  argv.push_back(s.workerBinary);
  for (size_t i = 1; i < command.size(); ++i) argv.push_back(command[i]);
  for (const auto& a : args) argv.push_back(a);
  const std::string listen = "127.0.0.1:" + std::to_string(s.listenPort);
  bool sawListen = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--listen" && i + 1 < argv.size()) {
      argv[++i] = listen;
      sawListen = true;
    } else if (argv[i].rfind("--listen=", 0) == 0) {
      argv[i] = "--listen=" + listen;
      sawListen = true;
    } else {
      argv[i] = rewriteMountPaths(argv[i], mounts);
    }
  }
  if (!sawListen) {
    argv.push_back("--listen");
    argv.push_back(listen);
  }
  plan.argv = std::move(argv);

  plan.readinessPort = s.listenPort;
  const Json& probe = member(c, "readinessProbe");
  if (probe.is_object()) {
    std::string path = str(member(probe, "httpGet"), "path");
    plan.readinessPath = path.empty() ? "/readyz" : path;
  } else {
    plan.readinessPath = "/readyz";  // shoal-worker always serves it
  }
  return plan;
}

}  // namespace shoal::e2e
