// core/v1 Event recorder with client-side dedup (see event_recorder.h).
#include "shoal/kube/event_recorder.h"

#include <cstdio>
#include <cstring>

#include "shoal/kube/leader_election.h"

namespace shoal::kube {

namespace {
constexpr size_t kMaxEventNameLength = 253;  // a DNS subdomain, like most names
}  // namespace

EventRecorder::EventRecorder(Client& client, Clock& clock, std::string component, std::string host,
                             Duration dedupWindow)
    : client_(client),
      clock_(clock),
      component_(std::move(component)),
      host_(std::move(host)),
      window_(dedupWindow) {}

ApiResult<Json> EventRecorder::record(const Json& object, Type type, const std::string& reason,
                                      const std::string& message) {
  std::string ns = namespaceOf(object);
  if (ns.empty()) ns = "default";
  std::string name = nameOf(object);
  std::string kind = object.is_object() ? object.value("kind", "") : "";
  std::string typeStr = type == Type::kWarning ? "Warning" : "Normal";
  std::string dedupKey = uidOf(object) + "|" + kind + "|" + ns + "|" + name + "|" + typeStr + "|" +
                         reason + "|" + message;
  std::string now = formatTime(clock_.wallNow());
  MonoTime mono = clock_.now();

  std::unique_lock<std::mutex> l(mu_);
  auto it = seen_.find(dedupKey);
  if (it != seen_.end() && mono - it->second.at < window_) {
    Seen s = it->second;
    l.unlock();
    Json patch = {{"count", s.count + 1}, {"lastTimestamp", now}};
    auto res = client_.mergePatch(Resource::events(), s.ns, s.name, patch);
    l.lock();
    if (res) {
      auto& cur = seen_[dedupKey];
      cur.count = s.count + 1;
      cur.at = mono;
      return res;
    }
    if (!res.error().isNotFound()) return res;
    seen_.erase(dedupKey);  // the Event expired on the server: write a new one
  }
  // Prune old entries so the map stays small.
  for (auto p = seen_.begin(); p != seen_.end();) {
    if (mono - p->second.at >= window_) p = seen_.erase(p);
    else ++p;
  }
  char suffix[32];
  auto wallNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    clock_.wallNow().time_since_epoch()).count();
  std::snprintf(suffix, sizeof suffix, ".%llx%03llx", static_cast<unsigned long long>(wallNs),
                static_cast<unsigned long long>(seq_++ & 0xfff));
  // "<object>.<time>" as client-go names Events, with the object's name cut
  // so that a 253-character name still gives a valid (253) Event name; the
  // suffix alone keeps it unique.
  std::string prefix = name.empty() ? std::string("object") : name;
  const size_t maxPrefix = kMaxEventNameLength - std::strlen(suffix);
  if (prefix.size() > maxPrefix) {
    prefix.resize(maxPrefix);
    while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  }
  std::string evName = prefix + suffix;
  l.unlock();

  Json involved = {{"kind", kind},
                   {"name", name},
                   {"namespace", namespaceOf(object)},
                   {"uid", uidOf(object)},
                   {"apiVersion", object.is_object() ? object.value("apiVersion", "") : ""},
                   {"resourceVersion", resourceVersionOf(object)}};
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", evName}, {"namespace", ns}}},
             {"involvedObject", involved},
             {"reason", reason},
             {"message", message},
             {"type", typeStr},
             {"count", 1},
             {"firstTimestamp", now},
             {"lastTimestamp", now},
             {"source", {{"component", component_}}},
             {"reportingComponent", component_},
             {"reportingInstance", host_.empty() ? component_ : host_}};
  if (!host_.empty()) ev["source"]["host"] = host_;
  auto res = client_.create(Resource::events(), ns, ev);
  if (res) {
    std::lock_guard<std::mutex> g(mu_);
    seen_[dedupKey] = Seen{ns, evName, 1, mono};
  }
  return res;
}

}  // namespace shoal::kube
