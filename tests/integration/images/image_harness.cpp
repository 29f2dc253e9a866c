// See image_harness.h.
#include "image_harness.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "shoal/testing/servers.h"

namespace shoal::testing::images {

namespace {

const fs::path kSource = SHOAL_SOURCE_DIR;

void writeFile(const fs::path& p, const std::string& text, fs::perms mode, gid_t gid = 0) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
  fs::permissions(p, mode);
  if (::chown(p.c_str(), 0, gid) != 0) throw std::runtime_error("chown " + p.string());
}

}  // namespace

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

bool have(const std::string& tool) {
  int rc = 0;
  runCommand("command -v " + tool + " >/dev/null", false, &rc);
  return rc == 0;
}

std::string missingForRunc() {
  if (::geteuid() != 0) return "runc needs root here";
  for (const char* tool : {"runc", "umoci"})
    if (!have(tool))
      return std::string(tool) + " is not installed (scripts/install-deps.sh installs it)";
  return "";
}

std::string buildImages(const std::string& out) {
  return runCommand("SOURCE_DATE_EPOCH=" + std::string(kEpoch) +
                    " SHOAL_OPERATOR_BINARY=" + quote(SHOAL_OPERATOR_BINARY) +
                    " SHOAL_WORKER_BINARY=" + quote(SHOAL_WORKER_BINARY) + " " +
                    quote((kSource / "scripts/images.sh").string()) + " --no-build " +
                    quote(SHOAL_BINARY_DIR) + " " + quote(out) + " 2>&1");
}

const Images& images() {
  static const std::unique_ptr<Images> built = [] {
    auto b = std::make_unique<Images>();
    b->out = b->dir.file("images");
    try {
      b->log = buildImages(b->out);
    } catch (const std::exception& e) {
      b->error = e.what();
    }
    return b;
  }();
  return *built;
}

std::string Layout::blob(const std::string& digest) const {
  return dir + "/blobs/sha256/" + digest.substr(7);
}

std::string Layout::name() const {
  return index["manifests"][0]["annotations"].value("io.containerd.image.name", "");
}

Layout unpackArchive(const std::string& image, const std::string& into) {
  Layout l;
  l.dir = into + "/" + image + ".layout";
  fs::create_directories(l.dir);
  runCommand("tar -xf " + quote(images().out + "/" + image + ".oci.tar") + " -C " + quote(l.dir));
  l.index = json::parse(readFile(l.dir + "/index.json"));
  const std::string manifestDigest = l.index["manifests"][0]["digest"];
  l.manifest = json::parse(readFile(l.blob(manifestDigest)));
  l.config = json::parse(readFile(l.blob(l.manifest["config"]["digest"])));
  return l;
}

std::string unpackWithUmoci(const Layout& layout, const std::string& bundle) {
  if (!have("umoci")) return "";
  const std::string tag =
      layout.index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"];
  runCommand("umoci unpack --image " + quote(layout.dir + ":" + tag) + " " + quote(bundle) +
             " 2>&1");
  return bundle;
}

Chart chart() {
  const YAML::Node c = YAML::LoadFile((kSource / "charts/shoal/Chart.yaml").string());
  const YAML::Node v = YAML::LoadFile((kSource / "charts/shoal/values.yaml").string());
  if (v["image"]["tag"].as<std::string>() != "" || v["workerImage"]["tag"].as<std::string>() != "")
    throw std::runtime_error("the chart's image tags no longer default to appVersion");
  return {c["appVersion"].as<std::string>(), v["image"]["repository"].as<std::string>(),
          v["workerImage"]["repository"].as<std::string>()};
}

json kubeletSpec(json spec, const json& pod, const PodInputs& in, const fs::path& volumes) {
  const json& c = pod["containers"][0];
  json& process = spec["process"];
  process["terminal"] = false;
  if (c.contains("command")) process["args"] = c["command"];
  for (const auto& a : c.value("args", json::array())) process["args"].push_back(a);
  for (const auto& e : c.value("env", json::array())) {
    std::string value;
    if (e.contains("value")) {
      value = e["value"];
    } else if (e["valueFrom"].contains("secretKeyRef")) {
      const json& ref = e["valueFrom"]["secretKeyRef"];
      value = in.secrets.at(ref["name"]).at(ref["key"]);
    } else {
      value = in.fields.at(e["valueFrom"]["fieldRef"]["fieldPath"]);
    }
    process["env"].push_back(e["name"].get<std::string>() + "=" + value);
  }
  const json podSc = pod.value("securityContext", json::object());
  const json sc = c.value("securityContext", json::object());
  process["user"]["uid"] = sc.value("runAsUser", podSc.value("runAsUser", 0));
  process["user"]["gid"] = sc.value("runAsGroup", podSc.value("runAsGroup", 0));
  if (podSc.contains("fsGroup"))
    process["user"]["additionalGids"] = json::array({podSc["fsGroup"]});
  spec["root"]["readonly"] = sc.value("readOnlyRootFilesystem", false);
  process["noNewPrivileges"] = !sc.value("allowPrivilegeEscalation", true);
  if (sc.value("capabilities", json::object()).value("drop", json::array()) ==
      json::array({"ALL"})) {
    for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"})
      process["capabilities"][set] = json::array();
  }
  // A pod's hostname is its name (the operator's leader identity and the
  // worker's default consumer name come from it).
  if (in.fields.count("metadata.name")) spec["hostname"] = in.fields.at("metadata.name");
  json& ns = spec["linux"]["namespaces"];
  ns.erase(
      std::remove_if(ns.begin(), ns.end(), [](const json& n) { return n["type"] == "network"; }),
      ns.end());

  const gid_t fsGroup = podSc.value("fsGroup", 0);
  auto mount = [&](const std::string& destination, const fs::path& source, bool readOnly) {
    spec["mounts"].push_back({{"destination", destination},
                              {"type", "bind"},
                              {"source", source.string()},
                              {"options", {"rbind", readOnly ? "ro" : "rw"}}});
  };
  for (const auto& m : c.value("volumeMounts", json::array())) {
    const std::string name = m["name"];
    const json* volume = nullptr;
    for (const auto& v : pod["volumes"])
      if (v["name"] == name) volume = &v;
    if (!volume) throw std::runtime_error("no volume " + name + " in the pod spec");
    const fs::path dir = volumes / name;
    fs::create_directories(dir);
    if (volume->contains("configMap")) {
      for (const auto& [file, text] : in.configMaps.at((*volume)["configMap"]["name"]))
        writeFile(dir / file, text, fs::perms(0644));
    } else if (volume->contains("secret")) {
      const json& sv = (*volume)["secret"];
      const auto& secret = in.secrets.at(sv["secretName"]);
      for (const auto& item : sv["items"])
        writeFile(dir / item["path"].get<std::string>(), secret.at(item["key"]),
                  fs::perms(sv.value("defaultMode", 0644)), fsGroup);
    } else if (volume->contains("emptyDir")) {
      fs::permissions(dir, fs::perms::all);
    } else {
      throw std::runtime_error("volume type not handled: " + volume->dump());
    }
    mount(m["mountPath"], dir, m.value("readOnly", false));
  }
  if (!in.serviceAccountToken.empty()) {
    // The kube-api-access projected volume and the service env of a pod.
    const fs::path dir = volumes / "kube-api-access";
    writeFile(dir / "token", in.serviceAccountToken, fs::perms(0644), fsGroup);
    writeFile(dir / "ca.crt", in.serviceAccountCa, fs::perms(0644), fsGroup);
    writeFile(dir / "namespace", in.fields.at("metadata.namespace"), fs::perms(0644), fsGroup);
    mount("/var/run/secrets/kubernetes.io/serviceaccount", dir, true);
    process["env"].push_back("KUBERNETES_SERVICE_HOST=" + in.serviceHost);
    process["env"].push_back("KUBERNETES_SERVICE_PORT=" + std::to_string(in.servicePort));
  }
  // Like the kubelet (MakeNestedMountpoints), the mount points of volumes
  // mounted inside another volume (Secrets under the worker's ConfigMap at
  // /etc/shoal) are made in that volume, which the container sees read-only.
  for (const auto& inner : spec["mounts"]) {
    for (const auto& outer : spec["mounts"]) {
      const std::string i = inner["destination"], o = outer["destination"];
      if (outer["type"] == "bind" && i.size() > o.size() && i.rfind(o + "/", 0) == 0)
        fs::create_directories(fs::path(outer["source"].get<std::string>()) /
                               i.substr(o.size() + 1));
    }
  }
  return spec;
}

RuncContainer::RuncContainer(const std::string& bundle) {
  static int next = 0;
  id_ = "shoal-image-test-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
  Process::Options po;
  po.argv = {"runc", "--root", dir_.file("state"), "run", "--bundle", bundle, id_};
  po.stdoutPath = dir_.file("stdout");
  po.stderrPath = dir_.file("stderr");
  proc_ = Process(po);
}

RuncContainer::~RuncContainer() {
  runCommand(
      "runc --root " + quote(dir_.file("state")) + " delete --force " + id_ + " >/dev/null 2>&1",
      false);
}

void RuncContainer::kill(const std::string& signal) {
  runCommand("runc --root " + quote(dir_.file("state")) + " kill " + id_ + " " + signal);
}

std::string RuncContainer::output() const {
  return Process::readFile(dir_.file("stdout")) + Process::readFile(dir_.file("stderr"));
}

}  // namespace shoal::testing::images
