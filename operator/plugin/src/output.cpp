// Output helpers of `kubectl shoal` (see output.h).
#include "shoal/plugin/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "shoal/api/meta.h"

namespace shoal::plugin {

std::optional<OutputFormat> parseOutputFormat(std::string_view s) {
  if (s == "table") return OutputFormat::kTable;
  if (s == "json") return OutputFormat::kJson;
  if (s == "yaml") return OutputFormat::kYaml;
  return std::nullopt;
}

namespace {

// A plain YAML scalar that a YAML 1.1 or 1.2 reader would not take for a
// string ("true", "no", "12", "1e3", "~", "") must be quoted.
bool needsQuotes(const std::string& s) {
  if (s.empty()) return true;
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* const kWords[] = {"true", "false", "yes", "no",   "on",   "off",   "y",
                                       "n",    "null",  "~",   ".nan", ".inf", "-.inf", "+.inf"};
  for (const char* w : kWords) {
    if (lower == w) return true;
  }
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end != s.c_str() && *end == '\0') return true;
  return s.front() == ' ' || s.back() == ' ';
}

void emit(YAML::Emitter& out, const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [k, v] : j.items()) {
        out << YAML::Key;
        if (needsQuotes(k)) out << YAML::DoubleQuoted;
        out << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      return;
    case Json::value_t::array:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& v : j) emit(out, v);
      out << YAML::EndSeq;
      return;
    case Json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (needsQuotes(s)) out << YAML::DoubleQuoted;
      out << s;
      return;
    }
    case Json::value_t::boolean:
      out << (j.get<bool>() ? "true" : "false");
      return;
    case Json::value_t::number_integer:
      out << j.get<int64_t>();
      return;
    case Json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      return;
    case Json::value_t::number_float:
      out << j.dump();  // the shortest text that reads back as the same double
      return;
    default:
      out << YAML::Null;
      return;
  }
}

}  // namespace

std::string toYaml(const Json& j) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, j);
  std::string s = out.c_str();
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

std::string renderDocument(const Json& j, OutputFormat f) {
  if (f == OutputFormat::kYaml) return toYaml(j);
  return j.dump(2) + "\n";
}

std::string formatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (r.size() > width.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string humanDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto s = static_cast<int64_t>(std::llround(std::floor(seconds)));
  auto part = [](int64_t n, const char* unit) { return n ? std::to_string(n) + unit : ""; };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + part(s % 60, "s");
  if (s < 86400) return std::to_string(s / 3600) + "h" + part(s % 3600 / 60, "m");
  return std::to_string(s / 86400) + "d" + part(s % 86400 / 3600, "h");
}

std::string ageOf(const std::string& rfc3339, WallTime now) {
  auto t = api::parseTime(rfc3339);
  if (!t) return "";
  return humanDuration(std::chrono::duration<double>(now - *t).count());
}

std::string rateText(const std::optional<double>& perSecond) {
  if (!perSecond || !std::isfinite(*perSecond)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f/s", *perSecond);
  return buf;
}

std::string truncated(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  if (max <= 3) return s.substr(0, max);
  return s.substr(0, max - 3) + "...";
}

}  // namespace shoal::plugin
