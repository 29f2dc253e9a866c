// Client configuration like kubectl's: kubeconfig files (current or named
// context, inline *-data or file references, tokens, client certificates),
// the KUBECONFIG variable, and the in-cluster service-account setup.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "shoal/kube/client.h"
#include "shoal/common/base64.h"

namespace shoal::kube {

namespace {

shoal::Error bad(std::string m) { return shoal::Error{Errc::kInvalidInput, std::move(m)}; }

bool fileExists(const std::string& p) {
  struct stat st {};
  return !p.empty() && ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::optional<std::string> readWhole(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string resolvePath(const std::string& p, const std::string& baseDir) {
  if (p.empty() || p[0] == '/' || baseDir.empty()) return p;
  return baseDir + "/" + p;
}

std::string dirOf(const std::string& path) {
  auto s = path.rfind('/');
  if (s == std::string::npos) return ".";
  if (s == 0) return "/";
  return path.substr(0, s);
}

// YAML helpers that never throw.
std::string scalar(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap()) return "";
  YAML::Node v = n[key];
  if (!v || !v.IsScalar()) return "";
  return v.Scalar();
}

// Not found is an undefined node (`!node` is true); a default-constructed
// YAML::Node is a defined null and would read as found.
YAML::Node findNamed(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const auto& item : list) {
    if (item.IsMap() && scalar(item, "name") == name) {
      YAML::Node v = item[inner];
      return v ? v : YAML::Node(YAML::NodeType::Map);
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

}  // namespace

shoal::Result<ClientConfig> parseKubeconfig(const std::string& yamlText,
                                            const std::string& context,
                                            const std::string& baseDir) {
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const std::exception& e) {
    return bad(std::string("kubeconfig: not YAML: ") + e.what());
  }
  try {
    if (!root || !root.IsMap()) return bad("kubeconfig: not a mapping");
    ClientConfig cfg;
    std::string ctxName = context.empty() ? scalar(root, "current-context") : context;
    if (ctxName.empty()) return bad("kubeconfig: no current-context and no context given");
    YAML::Node ctx = findNamed(root["contexts"], ctxName, "context");
    if (!ctx) return bad("kubeconfig: context \"" + ctxName + "\" not found");
    cfg.contextName = ctxName;
    cfg.namespace_ = scalar(ctx, "namespace");
    if (cfg.namespace_.empty()) cfg.namespace_ = "default";
    std::string clusterName = scalar(ctx, "cluster");
    YAML::Node cluster = findNamed(root["clusters"], clusterName, "cluster");
    if (!cluster) return bad("kubeconfig: cluster \"" + clusterName + "\" not found");
    cfg.server = scalar(cluster, "server");
    if (cfg.server.empty()) return bad("kubeconfig: cluster \"" + clusterName + "\" has no server");
    cfg.insecureSkipTlsVerify = scalar(cluster, "insecure-skip-tls-verify") == "true";
    cfg.tlsServerName = scalar(cluster, "tls-server-name");
    if (auto d = scalar(cluster, "certificate-authority-data"); !d.empty()) {
      auto pem = base64Decode(d);
      if (!pem) return bad("kubeconfig: certificate-authority-data is not base64");
      cfg.caPem = *pem;
    } else if (auto f = scalar(cluster, "certificate-authority"); !f.empty()) {
      auto pem = readWhole(resolvePath(f, baseDir));
      if (!pem) return bad("kubeconfig: cannot read certificate-authority " + f);
      cfg.caPem = *pem;
    }
    std::string userName = scalar(ctx, "user");
    YAML::Node user = findNamed(root["users"], userName, "user");
    if (!userName.empty() && !user) return bad("kubeconfig: user \"" + userName + "\" not found");
    if (user) {
      cfg.token = scalar(user, "token");
      if (auto f = scalar(user, "tokenFile"); !f.empty()) cfg.tokenFile = resolvePath(f, baseDir);
      cfg.username = scalar(user, "username");
      cfg.password = scalar(user, "password");
      if (auto d = scalar(user, "client-certificate-data"); !d.empty()) {
        auto pem = base64Decode(d);
        if (!pem) return bad("kubeconfig: client-certificate-data is not base64");
        cfg.clientCertPem = *pem;
      } else if (auto f = scalar(user, "client-certificate"); !f.empty()) {
        auto pem = readWhole(resolvePath(f, baseDir));
        if (!pem) return bad("kubeconfig: cannot read client-certificate " + f);
        cfg.clientCertPem = *pem;
      }
      if (auto d = scalar(user, "client-key-data"); !d.empty()) {
        auto pem = base64Decode(d);
        if (!pem) return bad("kubeconfig: client-key-data is not base64");
        cfg.clientKeyPem = *pem;
      } else if (auto f = scalar(user, "client-key"); !f.empty()) {
        auto pem = readWhole(resolvePath(f, baseDir));
        if (!pem) return bad("kubeconfig: cannot read client-key " + f);
        cfg.clientKeyPem = *pem;
      }
      if (cfg.clientCertPem.empty() != cfg.clientKeyPem.empty())
        return bad("kubeconfig: user \"" + userName + "\" has a client certificate without a key or vice versa");
      if (user["exec"] && cfg.token.empty() && cfg.tokenFile.empty() && cfg.clientCertPem.empty())
        return bad("kubeconfig: exec credential plugins are not supported");
    }
    return cfg;
  } catch (const std::exception& e) {
    return bad(std::string("kubeconfig: ") + e.what());
  }
}

shoal::Result<ClientConfig> loadKubeconfigFile(const std::string& path, const std::string& context) {
  auto text = readWhole(path);
  if (!text) return bad("kubeconfig: cannot read " + path);
  return parseKubeconfig(*text, context, dirOf(path));
}

shoal::Result<ClientConfig> loadInClusterConfig(const std::string& saDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return bad("in-cluster: KUBERNETES_SERVICE_HOST/PORT not set");
  ClientConfig cfg;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6
  cfg.server = "https://" + h + ":" + port;
  cfg.tokenFile = saDir + "/token";
  if (!fileExists(cfg.tokenFile)) return bad("in-cluster: no token at " + cfg.tokenFile);
  auto ca = readWhole(saDir + "/ca.crt");
  if (!ca) return bad("in-cluster: no ca.crt in " + saDir);
  cfg.caPem = *ca;
  auto ns = readWhole(saDir + "/namespace");
  cfg.namespace_ = ns ? *ns : "default";
  while (!cfg.namespace_.empty() && (cfg.namespace_.back() == '\n' || cfg.namespace_.back() == ' '))
    cfg.namespace_.pop_back();
  if (cfg.namespace_.empty()) cfg.namespace_ = "default";
  cfg.contextName = "in-cluster";
  return cfg;
}

shoal::Result<ClientConfig> loadDefaultConfig(const std::string& kubeconfigFlag,
                                              const std::string& context) {
  if (!kubeconfigFlag.empty()) return loadKubeconfigFile(kubeconfigFlag, context);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      std::string p = list.substr(start, end - start);
      if (fileExists(p)) return loadKubeconfigFile(p, context);
      start = end + 1;
    }
    return bad("KUBECONFIG names no existing file: " + list);
  }
  if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST"); h && *h) return loadInClusterConfig();
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::string p = std::string(home) + "/.kube/config";
    if (fileExists(p)) return loadKubeconfigFile(p, context);
  }
  return bad("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
}

}  // namespace shoal::kube
