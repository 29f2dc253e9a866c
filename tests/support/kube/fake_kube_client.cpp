// In-memory fake of the Kubernetes API for unit tests (see fake_kube_client.h).
#include "shoal/testing/fake_kube_client.h"

#include <algorithm>
#include <sstream>

#include "shoal/kube/leader_election.h"

namespace shoal::kube {

namespace {

ApiError notFound(const Resource& r, const std::string& name) {
  std::string what = r.group.empty() ? r.plural : r.plural + "." + r.group;
  return ApiError{404, "NotFound", what + " \"" + name + "\" not found", nullptr, std::nullopt};
}

ApiError conflict(const Resource& r, const std::string& name) {
  std::string what = r.group.empty() ? r.plural : r.plural + "." + r.group;
  return ApiError{409, "Conflict",
                  "Operation cannot be fulfilled on " + what + " \"" + name +
                      "\": the object has been modified; please apply your changes to the "
                      "latest version and try again",
                  nullptr, std::nullopt};
}

Json withoutMetaStatus(const Json& obj) {
  Json c = obj;
  if (c.is_object()) {
    c.erase("metadata");
    c.erase("status");
  }
  return c;
}

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::stringstream ss(s);
  while (std::getline(ss, cur, ',')) {
    auto b = cur.find_first_not_of(' ');
    auto e = cur.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
  }
  return out;
}

bool matchesFieldSelector(const Json& obj, const std::string& selector) {
  for (const auto& term : splitComma(selector)) {
    auto eq = term.find('=');
    if (eq == std::string::npos) continue;
    std::string k = term.substr(0, eq), v = term.substr(eq + 1);
    if (!v.empty() && v[0] == '=') v = v.substr(1);
    if (k == "metadata.name" && nameOf(obj) != v) return false;
    if (k == "metadata.namespace" && namespaceOf(obj) != v) return false;
  }
  return true;
}

}  // namespace

bool matchesLabelSelector(const Json& obj, const std::string& selector) {
  Json labels = Json::object();
  if (obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object() &&
      obj["metadata"].contains("labels") && obj["metadata"]["labels"].is_object())
    labels = obj["metadata"]["labels"];
  auto label = [&](const std::string& k) -> std::optional<std::string> {
    auto it = labels.find(k);
    if (it == labels.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  for (const auto& term : splitComma(selector)) {
    if (auto ne = term.find("!="); ne != std::string::npos) {
      auto v = label(term.substr(0, ne));
      if (v && *v == term.substr(ne + 2)) return false;
    } else if (auto eq = term.find('='); eq != std::string::npos) {
      std::string val = term.substr(eq + 1);
      if (!val.empty() && val[0] == '=') val = val.substr(1);
      auto v = label(term.substr(0, eq));
      if (!v || *v != val) return false;
    } else if (term[0] == '!') {
      if (label(term.substr(1))) return false;
    } else {
      if (!label(term)) return false;
    }
  }
  return true;
}

std::string FakeClient::objKey(const Resource& r, const std::string& ns,
                               const std::string& name) const {
  return resKey(r) + "|" + (r.namespaced ? ns : "") + "|" + name;
}

std::optional<ApiError> FakeClient::takeFailure(const std::string& verb) {
  ++calls_[verb];
  auto it = failures_.find(verb);
  if (it == failures_.end() || it->second.empty()) return std::nullopt;
  ApiError e = it->second.front();
  it->second.pop_front();
  return e;
}

void FakeClient::failNext(const std::string& verb, ApiError err) {
  std::lock_guard<std::mutex> l(mu_);
  failures_[verb].push_back(std::move(err));
}

int FakeClient::calls(const std::string& verb) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = calls_.find(verb);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<std::string> FakeClient::writeLog() const {
  std::lock_guard<std::mutex> l(mu_);
  return writes_;
}

int64_t FakeClient::resourceVersion() const {
  std::lock_guard<std::mutex> l(mu_);
  return rv_;
}

void FakeClient::compact() {
  std::lock_guard<std::mutex> l(mu_);
  compactedBefore_ = rv_ + 1;
  log_.clear();
}

void FakeClient::closeWatches() {
  std::lock_guard<std::mutex> l(mu_);
  ++watchEpoch_;
  cv_.notify_all();
}

std::optional<Json> FakeClient::object(const Resource& r, const std::string& ns,
                                       const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(objKey(r, ns, name));
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

void FakeClient::emitLocked(const Resource& r, const std::string& ns, WatchEvent::Type t,
                            const Json& obj) {
  LoggedEvent e{rv_, resKey(r), r.namespaced ? ns : "", WatchEvent{t, obj}};
  log_.push_back(std::move(e));
  if (log_.size() > 10000) log_.pop_front();
  cv_.notify_all();
}

ApiResult<Json> FakeClient::get(const Resource& r, const std::string& ns, const std::string& name,
                                const std::string& subresource) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = takeFailure("get")) return *f;
  auto it = objects_.find(objKey(r, ns, name));
  if (it == objects_.end()) return notFound(r, name);
  if (subresource == "scale") {
    const Json& o = it->second;
    Json scale = {{"apiVersion", "autoscaling/v1"},
                  {"kind", "Scale"},
                  {"metadata",
                   {{"name", name},
                    {"namespace", ns},
                    {"resourceVersion", resourceVersionOf(o)},
                    {"uid", uidOf(o)}}},
                  {"spec", {{"replicas", o.value("/spec/replicas"_json_pointer, 0)}}},
                  {"status", {{"replicas", o.value("/status/replicas"_json_pointer, 0)}}}};
    return scale;
  }
  return it->second;
}

ApiResult<ListPage> FakeClient::list(const Resource& r, const std::string& ns,
                                     const ListOptions& opts) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = takeFailure("list")) return *f;
  std::string prefix = resKey(r) + "|" + (r.namespaced ? ns : "") + (ns.empty() ? "" : "|");
  if (!r.namespaced) prefix = resKey(r) + "||";
  ListPage page;
  page.resourceVersion = std::to_string(rv_);
  size_t skip = 0;
  if (!opts.continueToken.empty()) {
    try {
      skip = std::stoul(opts.continueToken);
    } catch (...) {
      return ApiError{400, "BadRequest", "bad continue token", nullptr, std::nullopt};
    }
  }
  size_t index = 0;
  for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (!opts.labelSelector.empty() && !matchesLabelSelector(it->second, opts.labelSelector))
      continue;
    if (!opts.fieldSelector.empty() && !matchesFieldSelector(it->second, opts.fieldSelector))
      continue;
    if (index++ < skip) continue;
    if (opts.limit > 0 && static_cast<int64_t>(page.items.size()) >= opts.limit) {
      page.continueToken = std::to_string(index - 1);
      break;
    }
    page.items.push_back(it->second);
  }
  return page;
}

ApiResult<void> FakeClient::watch(const Resource& r, const std::string& ns,
                                  const WatchOptions& opts, const WatchHandler& handler,
                                  std::stop_token stop) {
  // Registered before taking the lock (it runs at once if stop already fired).
  std::stop_callback wake(stop, [this] {
    std::lock_guard<std::mutex> g(mu_);
    cv_.notify_all();
  });
  std::unique_lock<std::mutex> l(mu_);
  if (auto f = takeFailure("watch")) return *f;
  int64_t cursor = 0;
  std::vector<WatchEvent> initial;
  if (opts.resourceVersion.empty() || opts.resourceVersion == "0") {
    cursor = rv_;
    std::string prefix = resKey(r) + "|";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (r.namespaced && !ns.empty() && namespaceOf(it->second) != ns) continue;
      initial.push_back(WatchEvent{WatchEvent::Type::kAdded, it->second});
    }
  } else {
    try {
      cursor = std::stoll(opts.resourceVersion);
    } catch (...) {
      return ApiError{400, "BadRequest", "bad resourceVersion", nullptr, std::nullopt};
    }
    if (cursor + 1 < compactedBefore_) {
      Json status = {{"kind", "Status"},
                     {"apiVersion", "v1"},
                     {"status", "Failure"},
                     {"code", 410},
                     {"reason", "Expired"},
                     {"message", "too old resource version"}};
      l.unlock();
      handler(WatchEvent{WatchEvent::Type::kError, status});
      return {};
    }
  }
  int64_t epoch = watchEpoch_;
  l.unlock();
  for (const auto& ev : initial)
    if (!handler(ev)) return {};
  l.lock();
  const std::string rk = resKey(r);
  while (!stop.stop_requested() && epoch == watchEpoch_) {
    std::vector<WatchEvent> batch;
    for (const auto& e : log_) {
      if (e.rv <= cursor) continue;
      cursor = e.rv;
      if (e.resKey != rk) continue;
      if (r.namespaced && !ns.empty() && e.ns != ns) continue;
      if (!opts.labelSelector.empty() && !matchesLabelSelector(e.ev.object, opts.labelSelector))
        continue;
      batch.push_back(e.ev);
    }
    if (!batch.empty()) {
      l.unlock();
      for (const auto& ev : batch)
        if (!handler(ev)) return {};
      l.lock();
      continue;
    }
    cv_.wait_for(l, std::chrono::milliseconds(50));
  }
  return {};
}

ApiResult<Json> FakeClient::create(const Resource& r, const std::string& ns, const Json& objIn,
                                   const WriteOptions& opts) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = takeFailure("create")) return *f;
  if (!objIn.is_object())
    return ApiError{400, "BadRequest", "body is not an object", nullptr, std::nullopt};
  Json obj = objIn;
  std::string name = nameOf(obj);
  if (name.empty()) {
    std::string gen = obj.value("/metadata/generateName"_json_pointer, std::string());
    if (gen.empty())
      return ApiError{422, "Invalid", "metadata.name: Required value", nullptr, std::nullopt};
    name = gen + std::to_string(++uidSeq_);
  }
  std::string key = objKey(r, ns, name);
  if (objects_.count(key)) {
    std::string what = r.group.empty() ? r.plural : r.plural + "." + r.group;
    return ApiError{409, "AlreadyExists", what + " \"" + name + "\" already exists", nullptr,
                    std::nullopt};
  }
  if (opts.dryRun) return obj;
  Json& m = obj["metadata"];
  m["name"] = name;
  if (r.namespaced) m["namespace"] = ns;
  m["uid"] = "fake-uid-" + std::to_string(++uidSeq_);
  m["resourceVersion"] = std::to_string(++rv_);
  m["generation"] = 1;
  m["creationTimestamp"] = formatTime(std::chrono::system_clock::now());
  if (!obj.contains("apiVersion")) obj["apiVersion"] = r.apiVersion();
  if (!obj.contains("kind") && !r.kind.empty()) obj["kind"] = r.kind;
  objects_[key] = obj;
  writes_.push_back("create " + r.plural + " " + makeKey(r.namespaced ? ns : "", name));
  emitLocked(r, ns, WatchEvent::Type::kAdded, obj);
  return obj;
}

ApiResult<Json> FakeClient::putLocked(const Resource& r, const std::string& ns,
                                      const std::string& name, Json obj,
                                      const std::string& subresource, bool checkRv,
                                      const std::string& verb) {
  std::string key = objKey(r, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) return notFound(r, name);
  Json stored = it->second;
  if (!obj.is_object())
    return ApiError{400, "BadRequest", "body is not an object", nullptr, std::nullopt};
  std::string rv = resourceVersionOf(obj);
  if (checkRv && !rv.empty() && rv != resourceVersionOf(stored)) return conflict(r, name);
  Json next;
  if (subresource == "status") {
    next = stored;
    if (obj.contains("status")) next["status"] = obj["status"];
    else next.erase("status");
  } else if (subresource == "scale") {
    next = stored;
    if (!obj.contains("spec") || !obj["spec"].contains("replicas") ||
        !obj["spec"]["replicas"].is_number_integer())
      return ApiError{422, "Invalid", "spec.replicas: Required value", nullptr, std::nullopt};
    next["spec"]["replicas"] = obj["spec"]["replicas"];
  } else if (!subresource.empty()) {
    return ApiError{404, "NotFound", "no subresource " + subresource, nullptr, std::nullopt};
  } else {
    next = obj;
    if (stored.contains("status")) next["status"] = stored["status"];
    else next.erase("status");
    // Immutable metadata is kept from the stored object.
    Json& m = next["metadata"];
    for (const char* f : {"uid", "creationTimestamp", "generation", "deletionTimestamp", "name"})
      if (stored["metadata"].contains(f)) m[f] = stored["metadata"][f];
    if (r.namespaced) m["namespace"] = ns;
  }
  if (withoutMetaStatus(next) != withoutMetaStatus(stored)) {
    int64_t gen = stored.value("/metadata/generation"_json_pointer, int64_t{1});
    next["metadata"]["generation"] = gen + 1;
  }
  if (next == stored) return stored;  // no-op writes do not bump the version
  next["metadata"]["resourceVersion"] = std::to_string(++rv_);
  writes_.push_back(verb + " " + r.plural + " " + makeKey(r.namespaced ? ns : "", name) +
                    (subresource.empty() ? "" : "/" + subresource));
  // A deleting object whose last finalizer is gone disappears.
  bool deleting = next["metadata"].contains("deletionTimestamp");
  bool noFinalizers = !next["metadata"].contains("finalizers") ||
                      !next["metadata"]["finalizers"].is_array() ||
                      next["metadata"]["finalizers"].empty();
  if (deleting && noFinalizers) {
    objects_.erase(key);
    emitLocked(r, ns, WatchEvent::Type::kDeleted, next);
  } else {
    objects_[key] = next;
    emitLocked(r, ns, WatchEvent::Type::kModified, next);
  }
  if (subresource == "scale") {
    Json scale = {{"apiVersion", "autoscaling/v1"},
                  {"kind", "Scale"},
                  {"metadata", {{"name", name}, {"namespace", ns},
                                {"resourceVersion", resourceVersionOf(next)}}},
                  {"spec", {{"replicas", next["spec"]["replicas"]}}}};
    return scale;
  }
  return next;
}

ApiResult<Json> FakeClient::update(const Resource& r, const std::string& ns,
                                   const std::string& name, const Json& obj,
                                   const std::string& subresource, const WriteOptions& opts) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = takeFailure("update")) return *f;
  if (opts.dryRun) return obj;
  return putLocked(r, ns, name, obj, subresource, true, "update");
}

ApiResult<Json> FakeClient::patch(const Resource& r, const std::string& ns,
                                  const std::string& name, PatchType type, const Json& body,
                                  const PatchOptions& opts, const std::string& subresource) {
  std::unique_lock<std::mutex> l(mu_);
  if (auto f = takeFailure("patch")) return *f;
  std::string key = objKey(r, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    if (type == PatchType::kApply && subresource.empty()) {
      if (opts.fieldManager.empty())
        return ApiError{422, "Invalid", "fieldManager is required for apply", nullptr,
                        std::nullopt};
      Json obj = body;
      obj["metadata"]["name"] = name;
      l.unlock();
      return create(r, ns, obj, {opts.fieldManager, opts.dryRun});
    }
    return notFound(r, name);
  }
  Json base = it->second;
  if (subresource == "scale") {
    base = Json{{"spec", {{"replicas", base.value("/spec/replicas"_json_pointer, 0)}}}};
  }
  Json patched;
  try {
    switch (type) {
      case PatchType::kMerge:
      case PatchType::kStrategic:
      case PatchType::kApply:
        if (type == PatchType::kApply && opts.fieldManager.empty())
          return ApiError{422, "Invalid", "fieldManager is required for apply", nullptr,
                          std::nullopt};
        patched = base;
        patched.merge_patch(body);
        break;
      case PatchType::kJson:
        if (!body.is_array())
          return ApiError{400, "BadRequest", "JSON patch must be an array", nullptr, std::nullopt};
        patched = base.patch(body);
        break;
    }
  } catch (const std::exception& e) {
    return ApiError{422, "Invalid", std::string("the patch could not be applied: ") + e.what(),
                    nullptr, std::nullopt};
  }
  if (opts.dryRun) return patched;
  // A patch carrying metadata.resourceVersion is a precondition, like the real server.
  bool checkRv = patched.contains("metadata") && body.is_object() && body.contains("metadata") &&
                 body["metadata"].is_object() && body["metadata"].contains("resourceVersion");
  if (!checkRv && patched.contains("metadata") && patched["metadata"].is_object())
    patched["metadata"]["resourceVersion"] = resourceVersionOf(it->second);
  return putLocked(r, ns, name, patched, subresource, checkRv, "patch");
}

ApiResult<Json> FakeClient::remove(const Resource& r, const std::string& ns,
                                   const std::string& name, const DeleteOptions& opts) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = takeFailure("delete")) return *f;
  std::string key = objKey(r, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) return notFound(r, name);
  Json obj = it->second;
  if (!opts.preconditionUid.empty() && opts.preconditionUid != uidOf(obj)) return conflict(r, name);
  if (!opts.preconditionResourceVersion.empty() &&
      opts.preconditionResourceVersion != resourceVersionOf(obj))
    return conflict(r, name);
  writes_.push_back("delete " + r.plural + " " + makeKey(r.namespaced ? ns : "", name));
  bool hasFinalizers = obj["metadata"].contains("finalizers") &&
                       obj["metadata"]["finalizers"].is_array() &&
                       !obj["metadata"]["finalizers"].empty();
  if (hasFinalizers) {
    if (!obj["metadata"].contains("deletionTimestamp")) {
      obj["metadata"]["deletionTimestamp"] = formatTime(std::chrono::system_clock::now());
      obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
      it->second = obj;
      emitLocked(r, ns, WatchEvent::Type::kModified, obj);
    }
    return obj;
  }
  obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
  objects_.erase(it);
  emitLocked(r, ns, WatchEvent::Type::kDeleted, obj);
  return Json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Success"},
              {"details", {{"name", name}, {"kind", r.plural}, {"uid", uidOf(obj)}}}};
}

}  // namespace shoal::kube
