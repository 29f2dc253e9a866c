// Lenient JSON conversion of object metadata and conditions.
#include "shoal/api/meta.h"

#include <cstdio>
#include <ctime>

namespace shoal::api {

using nlohmann::json;

namespace {
const json& nullJson() {
  static const json n;
  return n;
}
}  // namespace

const json& objectAt(const json& j, const char* key) {
  if (!j.is_object()) return nullJson();
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return nullJson();
  return *it;
}

std::string stringAt(const json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

std::optional<double> optNumberAt(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

json numberOrNull(const std::optional<double>& v) {
  return v ? json(*v) : json(nullptr);
}

std::optional<int64_t> optIntAt(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned()) {
    auto u = it->get<uint64_t>();
    return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
  }
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (d != d || d > 9.2e18 || d < -9.2e18) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

int64_t intAt(const json& j, const char* key, int64_t fallback) {
  return optIntAt(j, key).value_or(fallback);
}

double numberAt(const json& j, const char* key, double fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->get<double>();
}

bool boolAt(const json& j, const char* key, bool fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return fallback;
  return it->get<bool>();
}

std::map<std::string, std::string> stringMapAt(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  const json& m = objectAt(j, key);
  if (!m.is_object()) return out;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

ObjectMeta metaFromJson(const json& j) {
  ObjectMeta m;
  const json& md = objectAt(j, "metadata");
  m.name = stringAt(md, "name");
  m.namespace_ = stringAt(md, "namespace");
  m.uid = stringAt(md, "uid");
  m.resourceVersion = stringAt(md, "resourceVersion");
  m.generation = intAt(md, "generation", 0);
  m.labels = stringMapAt(md, "labels");
  m.annotations = stringMapAt(md, "annotations");
  m.creationTimestamp = stringAt(md, "creationTimestamp");
  if (md.is_object() && md.contains("deletionTimestamp") && md["deletionTimestamp"].is_string()) {
    m.deletionTimestamp = md["deletionTimestamp"].get<std::string>();
  }
  if (md.is_object() && md.contains("finalizers") && md["finalizers"].is_array()) {
    for (const auto& f : md["finalizers"]) {
      if (f.is_string()) m.finalizers.push_back(f.get<std::string>());
    }
  }
  if (md.is_object() && md.contains("ownerReferences") && md["ownerReferences"].is_array()) {
    for (const auto& r : md["ownerReferences"]) {
      OwnerReference o;
      o.apiVersion = stringAt(r, "apiVersion");
      o.kind = stringAt(r, "kind");
      o.name = stringAt(r, "name");
      o.uid = stringAt(r, "uid");
      o.controller = boolAt(r, "controller", false);
      o.blockOwnerDeletion = boolAt(r, "blockOwnerDeletion", false);
      m.ownerReferences.push_back(o);
    }
  }
  return m;
}

json toJson(const OwnerReference& r) {
  return json{{"apiVersion", r.apiVersion},
              {"kind", r.kind},
              {"name", r.name},
              {"uid", r.uid},
              {"controller", r.controller},
              {"blockOwnerDeletion", r.blockOwnerDeletion}};
}

json toJson(const ObjectMeta& m) {
  json j = json::object();
  j["name"] = m.name;
  if (!m.namespace_.empty()) j["namespace"] = m.namespace_;
  if (!m.uid.empty()) j["uid"] = m.uid;
  if (!m.resourceVersion.empty()) j["resourceVersion"] = m.resourceVersion;
  if (m.generation != 0) j["generation"] = m.generation;
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  if (!m.finalizers.empty()) j["finalizers"] = m.finalizers;
  if (!m.ownerReferences.empty()) {
    j["ownerReferences"] = json::array();
    for (const auto& r : m.ownerReferences) j["ownerReferences"].push_back(toJson(r));
  }
  if (m.deletionTimestamp) j["deletionTimestamp"] = *m.deletionTimestamp;
  if (!m.creationTimestamp.empty()) j["creationTimestamp"] = m.creationTimestamp;
  return j;
}

Condition conditionFromJson(const json& j) {
  Condition c;
  c.type = stringAt(j, "type");
  c.status = stringAt(j, "status", kUnknown);
  c.observedGeneration = intAt(j, "observedGeneration", 0);
  c.lastTransitionTime = stringAt(j, "lastTransitionTime");
  c.reason = stringAt(j, "reason");
  c.message = stringAt(j, "message");
  return c;
}

json toJson(const Condition& c) {
  return json{{"type", c.type},
              {"status", c.status},
              {"observedGeneration", c.observedGeneration},
              {"lastTransitionTime", c.lastTransitionTime},
              {"reason", c.reason},
              {"message", c.message}};
}

std::vector<Condition> conditionsFromJson(const json& j) {
  std::vector<Condition> out;
  if (!j.is_array()) return out;
  for (const auto& c : j) {
    if (!c.is_object()) continue;
    Condition parsed = conditionFromJson(c);
    if (!parsed.type.empty()) out.push_back(std::move(parsed));
  }
  return out;
}

json toJson(const std::vector<Condition>& cs) {
  json a = json::array();
  for (const auto& c : cs) a.push_back(toJson(c));
  return a;
}

std::string formatTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string formatTimeMillis(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto whole = floor<seconds>(t);
  const auto ms = duration_cast<milliseconds>(t - whole).count();
  std::string s = formatTime(whole);  // ends in 'Z'
  char frac[24];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  s.pop_back();
  return s + frac;
}

std::optional<std::chrono::system_clock::time_point> parseTime(const std::string& s) {
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  int used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6) {
    return std::nullopt;
  }
  // Fractional seconds, to the microsecond (more digits are ignored).
  int64_t micros = 0;
  if (static_cast<size_t>(used) < s.size() && s[static_cast<size_t>(used)] == '.') {
    int64_t scale = 100000;
    for (size_t i = static_cast<size_t>(used) + 1; i < s.size() && s[i] >= '0' && s[i] <= '9';
         ++i) {
      micros += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t tt = timegm(&tm);
  return std::chrono::system_clock::from_time_t(tt) + std::chrono::microseconds(micros);
}

json mergePatchBetween(const json& from, const json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json patch = json::object();
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (!to.contains(it.key())) patch[it.key()] = nullptr;
  }
  for (auto it = to.begin(); it != to.end(); ++it) {
    auto old = from.find(it.key());
    if (old != from.end() && *old == *it) continue;
    if (old != from.end() && old->is_object() && it->is_object()) {
      patch[it.key()] = mergePatchBetween(*old, *it);
    } else {
      patch[it.key()] = *it;
    }
  }
  return patch;
}

uint64_t stableHash(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string fitName(const std::string& name, size_t maxLength) {
  if (name.size() <= maxLength) return name;
  constexpr size_t kSuffix = 9;  // "-" and 8 hex digits
  std::string out = name.substr(0, maxLength > kSuffix ? maxLength - kSuffix : 0);
  while (!out.empty() && (out.back() == '-' || out.back() == '.' || out.back() == '_')) {
    out.pop_back();
  }
  const uint64_t h = stableHash(name);
  char suffix[kSuffix + 1];
  std::snprintf(suffix, sizeof suffix, "-%08x",
                static_cast<unsigned>((h ^ (h >> 32)) & 0xffffffffU));
  // Without a prefix the value must still start alphanumeric.
  return out.empty() ? std::string(suffix + 1) : out + suffix;
}

}  // namespace shoal::api
