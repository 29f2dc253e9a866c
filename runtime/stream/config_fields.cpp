// The shared YAML field readers of a Pipeline spec. See config_fields.h.
#include "shoal/stream/config_fields.h"

#include <charconv>
#include <string_view>

extern char** environ;

namespace shoal::config {
namespace {

bool tolerated(const std::string& key, const Keys& keys) {
  if (keys.count(key)) return true;
  for (const std::string& k : keys) {
    if (k.empty() || k.front() != '*') continue;
    const std::string_view suffix = std::string_view(k).substr(1);
    if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  }
  return false;
}

}  // namespace

void requireMap(const YAML::Node& n, const std::string& path) {
  if (!n.IsMap()) throw ConfigError(path, "must be a mapping");
}

void checkKeys(const YAML::Node& n, const std::string& path, const Keys& known, const Keys& toleratedKeys) {
  requireMap(n, path);
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string k;
    try {
      k = it->first.as<std::string>();
    } catch (const YAML::Exception&) {
      throw ConfigError(path, "keys must be strings");
    }
    if (!known.count(k) && !tolerated(k, toleratedKeys)) throw ConfigError(path + "." + k, "unknown field");
  }
}

std::string asString(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) throw ConfigError(field, "must be a string");
  return n.Scalar();
}

int64_t parseInt(const std::string& s, const std::string& field) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    throw ConfigError(field, "must be an integer, got '" + s + "'");
  return v;
}

int64_t asInt(const YAML::Node& n, const std::string& field, int64_t min, int64_t max) {
  if (!n.IsScalar()) throw ConfigError(field, "must be an integer");
  const int64_t v = parseInt(n.Scalar(), field);
  if (v < min) throw ConfigError(field, "must be at least " + std::to_string(min));
  if (v > max) throw ConfigError(field, "must be at most " + std::to_string(max));
  return v;
}

bool asBool(const YAML::Node& n, const std::string& field) {
  if (n.IsScalar()) {
    bool b = false;
    if (YAML::convert<bool>::decode(n, b)) return b;
    throw ConfigError(field, "must be true or false, got '" + n.Scalar() + "'");
  }
  throw ConfigError(field, "must be true or false");
}

std::string stringField(const YAML::Node& parent, const std::string& key, const std::string& path,
                        const std::string& fallback) {
  const YAML::Node n = parent[key];
  if (!n || n.IsNull()) return fallback;
  return asString(n, path + "." + key);
}

std::string requiredString(const YAML::Node& parent, const std::string& key, const std::string& path) {
  const YAML::Node n = parent[key];
  if (!n || n.IsNull()) throw ConfigError(path + "." + key, "required");
  return asString(n, path + "." + key);
}

int64_t intField(const YAML::Node& parent, const std::string& key, const std::string& path, int64_t fallback,
                 int64_t min, int64_t max) {
  const YAML::Node n = parent[key];
  if (!n || n.IsNull()) return fallback;
  return asInt(n, path + "." + key, min, max);
}

bool boolField(const YAML::Node& parent, const std::string& key, const std::string& path, bool fallback) {
  const YAML::Node n = parent[key];
  if (!n || n.IsNull()) return fallback;
  return asBool(n, path + "." + key);
}

std::map<std::string, std::string> stringMapField(const YAML::Node& parent, const std::string& key,
                                                  const std::string& path) {
  std::map<std::string, std::string> out;
  const YAML::Node v = parent[key];
  if (!v || v.IsNull()) return out;
  const std::string field = path + "." + key;
  if (!v.IsMap()) throw ConfigError(field, "must be a mapping of strings");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it->second.IsScalar()) throw ConfigError(field, "values must be strings");
    out[it->first.as<std::string>()] = it->second.Scalar();
  }
  return out;
}

std::map<std::string, std::string> processEnv() {
  std::map<std::string, std::string> m;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    m.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return m;
}

std::string envOr(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

}  // namespace shoal::config
