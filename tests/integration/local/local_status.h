// Reading what shoal-local writes (its status file and logs), and a
// stream's length, in the local mode tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "shoal/testing/servers.h"

namespace shoal::testing {

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json readStatus(const std::string& path) {
  return nlohmann::json::parse(readFile(path), nullptr, /*allow_exceptions=*/false);
}

/// The first WorkerPool's status from the status file, or null.
inline nlohmann::json poolStatus(const std::string& path) {
  nlohmann::json s = readStatus(path);
  if (s.is_discarded() || !s.contains("workerPools") || s["workerPools"].empty()) return nullptr;
  return s["workerPools"][0].value("status", nlohmann::json());
}

/// The first Receiver's status from the status file, or null.
inline nlohmann::json receiverStatus(const std::string& path) {
  nlohmann::json s = readStatus(path);
  if (s.is_discarded() || !s.contains("receivers") || s["receivers"].empty()) return nullptr;
  return s["receivers"][0].value("status", nlohmann::json());
}

/// The condition of that type in a status, or an empty object.
inline nlohmann::json condition(const nlohmann::json& status, const std::string& type) {
  if (!status.is_object()) return nlohmann::json::object();
  for (const auto& c : status.value("conditions", nlohmann::json::array()))
    if (c.is_object() && c.value("type", "") == type) return c;
  return nlohmann::json::object();
}

/// XLEN of the stream; -1 if redis-cli said nothing.
inline int64_t xlen(const RedisServer& redis, const std::string& stream) {
  const std::string out = redis.cli("XLEN " + stream);
  return out.empty() ? -1 : std::stoll(out);
}

}  // namespace shoal::testing
