// Log timestamps: parsing the forms logs carry (ISO 8601 / RFC 3339 variants,
// epoch seconds / milliseconds / microseconds / nanoseconds, syslog's
// "Mmm dd hh:mm:ss") into UTC nanoseconds since the epoch, and formatting
// them for Elasticsearch's `strict_date_optional_time`.
//
// Decisions (documented in runtime/logs/README.md):
//  - A zone-less ISO timestamp is taken as UTC.
//  - Epoch numbers are classified by magnitude: below 1e11 seconds, below 1e14
//    milliseconds, below 1e17 microseconds, otherwise nanoseconds.
//  - Output is "YYYY-MM-DDTHH:MM:SS.mmmZ", with 6 or 9 fraction digits only
//    when the input had sub-millisecond precision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::logs {

/// UTC nanoseconds since 1970-01-01T00:00:00Z.
using EpochNanos = int64_t;

/// Parses ISO 8601 date-time: YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)frac]]][Z|±HH[:]MM|±HH].
/// A date alone is midnight UTC. Returns nullopt when the text is not one.
std::optional<EpochNanos> parseIso8601(std::string_view s);

/// Epoch number of unknown unit (see the magnitude rule above).
std::optional<EpochNanos> fromEpochNumber(double v);
std::optional<EpochNanos> fromEpochInteger(int64_t v);

/// ISO 8601 first, then a decimal epoch number in a string ("1700000000.5").
std::optional<EpochNanos> parseTimestampText(std::string_view s);

/// RFC 3164 "Mmm dd hh:mm:ss" (day space- or zero-padded), optionally with a
/// year before the time ("Mmm dd yyyy hh:mm:ss") and fractional seconds.
/// Without a year the year is inferred from `reference` (when the log was
/// received): the latest year that keeps the timestamp at most
/// kBsdFutureSlack after reference (so "Dec 31" seen on Dec 2 is last year's,
/// "Jan 1" seen on Dec 31 next year's; Feb 29 the latest leap year's).
/// Sets `consumed` to the number of characters used. UTC.
inline constexpr EpochNanos kBsdFutureSlack = 7LL * 86400 * 1'000'000'000;
std::optional<EpochNanos> parseBsdTimestamp(std::string_view s, EpochNanos reference,
                                            size_t& consumed);

/// "2024-01-02T03:04:05.678Z" (see the precision rule above).
std::string formatTimestamp(EpochNanos t);
void appendTimestamp(std::string& out, EpochNanos t);

/// Broken-down UTC date for index patterns.
struct CivilTime {
  int year, month, day, hour, minute, second;
};
CivilTime toCivil(EpochNanos t);

}  // namespace shoal::logs
