// Reading what shoal-local writes (its status file and logs) in the local
// mode tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

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

}  // namespace shoal::testing
