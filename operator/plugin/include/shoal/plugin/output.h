// Output helpers of `kubectl shoal`: the -o formats (table, json, yaml),
// JSON rendered as YAML, aligned text tables, and times and durations in the
// short words kubectl uses ("45s", "3m20s", "2h5m", "4d"). Pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/clock.h"

namespace shoal::plugin {

using Json = nlohmann::json;

enum class OutputFormat { kTable, kJson, kYaml };

/// "table", "json" or "yaml"; nullopt for anything else.
std::optional<OutputFormat> parseOutputFormat(std::string_view s);

/// JSON as a YAML document (block style; strings quoted when YAML would read
/// them as something else). Ends with a newline.
std::string toYaml(const Json& j);

/// `j` in the format (json: indented, newline-terminated). kTable is not a
/// document format: the caller renders its table instead.
std::string renderDocument(const Json& j, OutputFormat f);

/// Rows of cells as columns separated by three spaces, each column as wide as
/// its widest cell (the last one not padded), like kubectl's tables.
std::string formatTable(const std::vector<std::vector<std::string>>& rows);

/// Seconds as kubectl prints ages: "0s", "45s", "3m20s", "59m", "2h5m", "3d4h",
/// "12d". Negative values count as 0.
std::string humanDuration(double seconds);

/// How long ago `rfc3339` was, as humanDuration, or "" if it does not parse.
std::string ageOf(const std::string& rfc3339, WallTime now);

/// A rate as "12.5/s" ("-" when unknown).
std::string rateText(const std::optional<double>& perSecond);

/// Shortens `s` to at most `max` characters, marking the cut with "...".
std::string truncated(const std::string& s, size_t max);

}  // namespace shoal::plugin
