// The one set of YAML field readers every part of a Pipeline spec is parsed
// with (source and delivery in the worker, transform and sink in logs and
// metrics), so a field means the same thing and fails with the same words
// wherever it sits. Each reader names the field's full path in the
// ConfigError it throws, e.g. "spec.delivery.batchSize: must be at least 1".
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "shoal/stream/pipeline_config.h"

namespace shoal::config {

using Keys = std::set<std::string>;

/// Throws unless `n` is a mapping.
void requireMap(const YAML::Node& n, const std::string& path);

/// Rejects keys that are not in `known` or `tolerated` (a typo would otherwise
/// be ignored). `tolerated` holds keys of the Pipeline resource the reader
/// does not use (secret references the operator resolves into files and
/// environment); an entry "*Suffix" tolerates every key ending in Suffix.
void checkKeys(const YAML::Node& n, const std::string& path, const Keys& known,
               const Keys& tolerated = {});

/// The scalar `n` as a string / an integer in [min, max] / a YAML boolean
/// (true/false, yes/no, on/off). `field` is the full path for errors.
std::string asString(const YAML::Node& n, const std::string& field);
int64_t asInt(const YAML::Node& n, const std::string& field, int64_t min,
              int64_t max = std::numeric_limits<int64_t>::max());
bool asBool(const YAML::Node& n, const std::string& field);
/// A decimal integer, all of `s` (no sign prefix "+", no hex, no spaces).
int64_t parseInt(const std::string& s, const std::string& field);

/// parent[key] read as above; an absent or null field gives `fallback`.
std::string stringField(const YAML::Node& parent, const std::string& key, const std::string& path,
                        const std::string& fallback = "");
std::string requiredString(const YAML::Node& parent, const std::string& key, const std::string& path);
int64_t intField(const YAML::Node& parent, const std::string& key, const std::string& path,
                 int64_t fallback, int64_t min, int64_t max = std::numeric_limits<int64_t>::max());
bool boolField(const YAML::Node& parent, const std::string& key, const std::string& path, bool fallback);
/// A mapping of strings to strings (labels, headers); absent gives {}.
std::map<std::string, std::string> stringMapField(const YAML::Node& parent, const std::string& key,
                                                  const std::string& path);

/// Reads the YAML file at `path` and hands the document to parse(doc): an
/// unreadable file or invalid YAML is a ConfigError on "--config", a YAML
/// type error escaping parse one on "spec".
template <typename Parse>
auto loadFile(const std::string& path, Parse&& parse) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("--config", "cannot read '" + path + "'");
  } catch (const YAML::Exception& e) {
    throw ConfigError("--config", "invalid YAML in '" + path + "': " + e.what());
  }
  try {
    return parse(doc);
  } catch (const ConfigError&) {
    throw;
  } catch (const YAML::Exception& e) {
    throw ConfigError("spec", std::string("invalid config: ") + e.what());
  }
}

/// The process environment as a map.
std::map<std::string, std::string> processEnv();

/// env[name], or "" when unset.
std::string envOr(const std::map<std::string, std::string>& env, const std::string& name);

}  // namespace shoal::config
