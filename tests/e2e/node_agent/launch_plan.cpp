// Pod spec -> local process plan for the test node agent (see launch_plan.h).
#include "launch_plan.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "shoal/kube/client.h"
#include "shoal/common/base64.h"

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
        if (auto d = shoal::base64Decode(it.value().get<std::string>())) out[it.key()] = *d;
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

bool flag(const Json& j, const char* key) {
  const Json& v = member(j, key);
  return v.is_boolean() && v.get<bool>();
}

std::optional<int64_t> integer(const Json& j, const char* key) {
  const Json& v = member(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

// A file mode from the API (0..0777), else the fallback.
int modeOf(const Json& j, const char* key, int fallback) {
  auto m = integer(j, key);
  return m && *m >= 0 && *m <= 0777 ? static_cast<int>(*m) : fallback;
}

// Files of a configMap/secret source (a volume or a projection) into dir.
std::optional<LaunchFailure> addObjectFiles(const char* kind, const Json& src,
                                            const std::string& nameKey, const std::string& ns,
                                            const std::string& dir, const ObjectLookup& lookup,
                                            LaunchPlan& plan, int defaultMode) {
  std::string objName = str(src, nameKey.c_str());
  auto obj = lookup(kind, ns, objName);
  if (!obj) {
    if (flag(src, "optional")) return std::nullopt;
    return LaunchFailure{"CreateContainerConfigError",
                         std::string(kind) + " " + ns + "/" + objName + " not found"};
  }
  auto data = dataOf(kind, *obj);
  const Json& items = member(src, "items");
  if (items.is_array() && !items.empty()) {
    for (const auto& item : items) {
      std::string key = str(item, "key"), path = str(item, "path");
      if (!safeRelativePath(path)) continue;
      auto it = data.find(key);
      if (it == data.end()) {
        if (flag(src, "optional")) continue;
        return LaunchFailure{"CreateContainerConfigError",
                             std::string(kind) + " " + ns + "/" + objName + " has no key " + key};
      }
      plan.files.push_back({dir + "/" + path, it->second, modeOf(item, "mode", defaultMode)});
    }
  } else {
    for (const auto& [key, content] : data) {
      if (safeRelativePath(key)) plan.files.push_back({dir + "/" + key, content, defaultMode});
    }
  }
  return std::nullopt;
}

// downwardAPI items (fieldRef only) into dir.
std::optional<LaunchFailure> addDownwardFiles(const Json& src, const Json& pod,
                                              const std::string& dir, const LaunchSettings& s,
                                              LaunchPlan& plan, int defaultMode) {
  const Json& items = member(src, "items");
  if (!items.is_array()) return std::nullopt;
  for (const auto& item : items) {
    std::string path = str(item, "path");
    if (!safeRelativePath(path)) continue;
    const Json& ref = member(item, "fieldRef");
    if (!ref.is_object()) continue;  // resourceFieldRef: not served here
    auto v = fieldValue(pod, str(ref, "fieldPath"), s);
    if (!v) {
      return LaunchFailure{"CreateContainerConfigError",
                           "unsupported downwardAPI fieldRef " + str(ref, "fieldPath")};
    }
    plan.files.push_back({dir + "/" + path, *v, modeOf(item, "mode", defaultMode)});
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> bindAddressPort(const std::string& value) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon + 1 >= value.size()) return std::nullopt;
  std::string host = value.substr(0, colon), port = value.substr(colon + 1);
  static const char* kLocal[] = {"", "0.0.0.0", "::", "[::]", "127.0.0.1", "localhost", "[::1]"};
  if (std::find(std::begin(kLocal), std::end(kLocal), host) == std::end(kLocal)) {
    return std::nullopt;
  }
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int n = std::stoi(port);
  if (n <= 0 || n > 65535) return std::nullopt;
  return n;
}

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
                                                   const LaunchSettings& s,
                                                   const TokenSource& tokens) {
  const Json& meta = member(pod, "metadata");
  const Json& spec = member(pod, "spec");
  const Json& containers = member(spec, "containers");
  if (!containers.is_array() || containers.empty() || !containers[0].is_object()) {
    return LaunchFailure{"InvalidPodSpec", "pod has no containers"};
  }
  const Json& c = containers[0];
  const std::string ns = str(meta, "namespace");
  const std::string image = str(c, "image");
  const bool isWorker = image.find("shoal-worker") != std::string::npos;
  const bool isOperator = image.find("shoal-operator") != std::string::npos;
  std::string binary = isWorker ? s.workerBinary : isOperator ? s.operatorBinary : "";
  if (binary.empty()) {
    return LaunchFailure{"ImageNotMapped", "image '" + image +
                                               "' has no local binary (only *shoal-worker* and, "
                                               "when given, *shoal-operator*)"};
  }

  LaunchPlan plan;
  plan.privateMountNamespace = isOperator;
  plan.hostname = str(spec, "hostname").empty() ? str(meta, "name") : str(spec, "hostname");
  if (plan.hostname.size() > 63) plan.hostname.resize(63);  // the kubelet's limit
  // Volumes, materialised under podDir/volumes/<name>.
  std::map<std::string, std::string> volumeDirs;
  const Json& volumes = member(spec, "volumes");
  if (volumes.is_array()) {
    for (const auto& v : volumes) {
      std::string name = str(v, "name");
      if (!safeRelativePath(name)) continue;
      std::string dir = s.podDir + "/volumes/" + name;
      volumeDirs[name] = dir;
      if (member(v, "emptyDir").is_object()) {
        plan.writableDirectories.push_back(dir);
      } else {
        plan.directories.push_back(dir);
      }
      std::optional<LaunchFailure> failed;
      if (const Json& cm = member(v, "configMap"); cm.is_object()) {
        failed = addObjectFiles("ConfigMap", cm, "name", ns, dir, lookup, plan,
                                modeOf(cm, "defaultMode", 0644));
      } else if (const Json& sec = member(v, "secret"); sec.is_object()) {
        failed = addObjectFiles("Secret", sec, "secretName", ns, dir, lookup, plan,
                                modeOf(sec, "defaultMode", 0644));
      } else if (const Json& dapi = member(v, "downwardAPI"); dapi.is_object()) {
        failed = addDownwardFiles(dapi, pod, dir, s, plan, modeOf(dapi, "defaultMode", 0644));
      } else if (const Json& proj = member(member(v, "projected"), "sources"); proj.is_array()) {
        const int projMode = modeOf(member(v, "projected"), "defaultMode", 0644);
        for (const auto& source : proj) {
          if (failed) break;
          if (const Json& cm = member(source, "configMap"); cm.is_object()) {
            failed = addObjectFiles("ConfigMap", cm, "name", ns, dir, lookup, plan, projMode);
          } else if (const Json& sec = member(source, "secret"); sec.is_object()) {
            failed = addObjectFiles("Secret", sec, "name", ns, dir, lookup, plan, projMode);
          } else if (const Json& dapi = member(source, "downwardAPI"); dapi.is_object()) {
            failed = addDownwardFiles(dapi, pod, dir, s, plan, projMode);
          } else if (const Json& sat = member(source, "serviceAccountToken"); sat.is_object()) {
            std::string path = str(sat, "path");
            if (!safeRelativePath(path)) continue;
            TokenRequestSpec req;
            req.ns = ns;
            req.serviceAccount = str(spec, "serviceAccountName");
            if (req.serviceAccount.empty()) req.serviceAccount = "default";
            req.audience = str(sat, "audience");
            req.expirationSeconds = integer(sat, "expirationSeconds").value_or(3600);
            req.podName = str(meta, "name");
            req.podUid = str(meta, "uid");
            if (!tokens) {
              failed = LaunchFailure{"FailedMount", "volume " + name +
                                                        ": no token source for "
                                                        "serviceAccountToken"};
              break;
            }
            IssuedToken t = tokens(req);
            if (!t.error.empty() || t.token.empty()) {
              failed = LaunchFailure{"FailedMount", "volume " + name + ": token for " + ns + "/" +
                                                        req.serviceAccount + ": " +
                                                        (t.error.empty() ? "empty" : t.error)};
              break;
            }
            plan.files.push_back({dir + "/" + path, t.token, projMode});
          }
        }
      }
      if (failed) return *failed;
    }
  }
  std::map<std::string, std::string> mounts;
  const Json& volumeMounts = member(c, "volumeMounts");
  if (volumeMounts.is_array()) {
    for (const auto& m : volumeMounts) {
      auto it = volumeDirs.find(str(m, "name"));
      std::string mountPath = str(m, "mountPath");
      if (it == volumeDirs.end() || mountPath.size() < 2 || mountPath[0] != '/' ||
          mountPath.find("..") != std::string::npos) {
        continue;
      }
      std::string sub = str(m, "subPath");
      std::string source = safeRelativePath(sub) ? it->second + "/" + sub : it->second;
      mounts[mountPath] = source;
      if (plan.privateMountNamespace) {
        plan.bindMounts.push_back({source, mountPath, flag(m, "readOnly")});
      }
    }
  }
  // Parents before children, as a runtime mounts them.
  std::stable_sort(
      plan.bindMounts.begin(), plan.bindMounts.end(),
      [](const BindMount& a, const BindMount& b) { return a.target.size() < b.target.size(); });
  if (plan.privateMountNamespace) {
    const Json& podSc = member(spec, "securityContext");
    const Json& sc = member(c, "securityContext");
    plan.identity.uid = integer(sc, "runAsUser");
    if (!plan.identity.uid) plan.identity.uid = integer(podSc, "runAsUser");
    plan.identity.gid = integer(sc, "runAsGroup");
    if (!plan.identity.gid) plan.identity.gid = integer(podSc, "runAsGroup");
    if (auto fsGroup = integer(podSc, "fsGroup"))
      plan.identity.supplementalGroups.push_back(*fsGroup);
    const Json& extra = member(podSc, "supplementalGroups");
    if (extra.is_array()) {
      for (const auto& g : extra) {
        if (g.is_number_integer()) plan.identity.supplementalGroups.push_back(g.get<int64_t>());
      }
    }
  }
  // With a private mount namespace the paths are real: nothing to rewrite.
  const std::map<std::string, std::string> rewrites =
      plan.privateMountNamespace ? std::map<std::string, std::string>{} : mounts;

  // Environment: the API server's address first, like the kubelet's service
  // variables; the pod's own env may override it.
  plan.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  plan.env["HOME"] = s.podDir;
  if (!s.apiServerHost.empty() && s.apiServerPort > 0) {
    plan.env["KUBERNETES_SERVICE_HOST"] = s.apiServerHost;
    plan.env["KUBERNETES_SERVICE_PORT"] = std::to_string(s.apiServerPort);
    plan.env["KUBERNETES_SERVICE_PORT_HTTPS"] = std::to_string(s.apiServerPort);
  }
  auto keyFrom = [&](const char* kind,
                     const Json& ref) -> std::variant<std::string, bool, LaunchFailure> {
    std::string name = str(ref, "name"), key = str(ref, "key");
    auto obj = lookup(kind, ns, name);
    if (obj) {
      auto data = dataOf(kind, *obj);
      auto it = data.find(key);
      if (it != data.end()) return it->second;
    }
    if (flag(ref, "optional")) return false;  // skip the variable
    return LaunchFailure{"CreateContainerConfigError",
                         std::string(kind) + " " + ns + "/" + name + " key " + key + " not found"};
  };
  const Json& envFrom = member(c, "envFrom");
  if (envFrom.is_array()) {
    for (const auto& ef : envFrom) {
      std::string prefix = str(ef, "prefix");
      for (const char* kind : {"ConfigMap", "Secret"}) {
        const Json& ref =
            member(ef, kind == std::string("ConfigMap") ? "configMapRef" : "secretRef");
        if (!ref.is_object()) continue;
        auto obj = lookup(kind, ns, str(ref, "name"));
        if (!obj) {
          if (flag(ref, "optional")) continue;
          return LaunchFailure{"CreateContainerConfigError", std::string(kind) + " " + ns + "/" +
                                                                 str(ref, "name") + " not found"};
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
        plan.env[name] = rewriteMountPaths(str(e, "value"), rewrites);
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

  // Declared container ports (by number and by name).
  std::map<std::string, int> portNames;
  std::set<int> declaredPorts;
  const Json& ports = member(c, "ports");
  if (ports.is_array()) {
    for (const auto& p : ports) {
      auto n = integer(p, "containerPort");
      if (!n || *n <= 0 || *n > 65535) continue;
      declaredPorts.insert(static_cast<int>(*n));
      if (!str(p, "name").empty()) portNames[str(p, "name")] = static_cast<int>(*n);
    }
  }
  auto hostPortFor = [&](int containerPort) -> std::optional<int> {
    if (auto it = plan.hostPorts.find(containerPort); it != plan.hostPorts.end()) return it->second;
    if (!declaredPorts.count(containerPort) || !s.allocatePort) return std::nullopt;
    int hp = s.allocatePort();
    plan.hostPorts[containerPort] = hp;
    return hp;
  };
  // A bind address of a declared port -> 127.0.0.1:<host port>; else as is.
  auto rewritePort = [&](const std::string& value) -> std::optional<std::string> {
    auto port = bindAddressPort(value);
    if (!port) return std::nullopt;
    auto hp = hostPortFor(*port);
    if (!hp) return std::nullopt;
    return "127.0.0.1:" + std::to_string(*hp);
  };

  // argv: the mapped binary, then args, with mount paths and listen addresses rewritten.
  auto command = strings(member(c, "command"));
  auto args = strings(member(c, "args"));
  std::vector<std::string> argv;
  argv.push_back(binary);
  for (size_t i = 1; i < command.size(); ++i) argv.push_back(command[i]);
  for (const auto& a : args) argv.push_back(a);
  const std::string listen = "127.0.0.1:" + std::to_string(s.listenPort);
  bool sawListen = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (isWorker && argv[i] == "--listen" && i + 1 < argv.size()) {
      if (auto p = bindAddressPort(argv[i + 1])) plan.hostPorts[*p] = s.listenPort;
      argv[++i] = listen;
      sawListen = true;
    } else if (isWorker && argv[i].rfind("--listen=", 0) == 0) {
      if (auto p = bindAddressPort(argv[i].substr(9))) plan.hostPorts[*p] = s.listenPort;
      argv[i] = "--listen=" + listen;
      sawListen = true;
    } else if (size_t eq = argv[i].find('=');
               argv[i].rfind("--", 0) == 0 && eq != std::string::npos) {
      if (auto r = rewritePort(argv[i].substr(eq + 1))) {
        argv[i] = argv[i].substr(0, eq + 1) + *r;
      } else {
        argv[i] = rewriteMountPaths(argv[i], rewrites);
      }
    } else if (auto r = rewritePort(argv[i])) {
      argv[i] = *r;
    } else {
      argv[i] = rewriteMountPaths(argv[i], rewrites);
    }
  }
  if (isWorker && !sawListen) {
    argv.push_back("--listen");
    argv.push_back(listen);
  }
  plan.argv = std::move(argv);

  // Readiness: the probe's path on the host port of its port.
  const Json& probe = member(c, "readinessProbe");
  const Json& httpGet = member(probe, "httpGet");
  if (httpGet.is_object()) {
    std::string path = str(httpGet, "path");
    plan.readinessPath = path.empty() ? "/" : path;
    std::optional<int> containerPort;
    const Json& port = member(httpGet, "port");
    if (port.is_number_integer()) {
      containerPort = port.get<int>();
    } else if (port.is_string()) {
      auto it = portNames.find(port.get<std::string>());
      if (it != portNames.end()) containerPort = it->second;
    }
    std::optional<int> hp;
    if (containerPort) {
      auto it = plan.hostPorts.find(*containerPort);
      if (it != plan.hostPorts.end()) hp = it->second;
    }
    plan.readinessPort = hp.value_or(s.listenPort);
  } else if (isWorker) {
    plan.readinessPath = "/readyz";  // shoal-worker always serves it
    plan.readinessPort = s.listenPort;
  }
  return plan;
}

}  // namespace shoal::e2e
