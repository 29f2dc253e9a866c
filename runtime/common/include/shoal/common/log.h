// Structured JSON logs on stderr, one object per line:
// {"ts":"...","level":"info","msg":"...", ...fields}. Thread-safe.
// Never log credentials: callers pass redacted values.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace shoal::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void setLevel(Level l);
Level parseLevel(std::string_view s, Level fallback = Level::kInfo);
void write(Level l, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

inline void debug(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  write(Level::kError, m, f);
}

}  // namespace shoal::log
