// Syslog line parsers: RFC 5424 (structured data, NILVALUE, BOM) and RFC 3164
// (BSD; with or without year and hostname). Pure functions over a line; a
// malformed line gives an error value with the reason, never an exception.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/common/result.h"
#include "shoal/logs/timestamp.h"

namespace shoal::logs {

/// One SD-ELEMENT: its SD-ID and PARAM-NAME/PARAM-VALUE pairs (values
/// unescaped) in order.
struct SyslogSdElement {
  std::string id;
  std::vector<std::pair<std::string, std::string>> params;
};

struct SyslogMessage {
  enum class Kind { kRfc5424, kRfc3164 } kind = Kind::kRfc5424;
  int priority = 13;                 // PRI value 0..191
  int facility() const { return priority / 8; }
  int severity() const { return priority % 8; }
  int version = 0;                   // 5424 only (1)
  std::optional<EpochNanos> timestamp;  // nullopt: NILVALUE or absent
  std::string hostname;              // empty: NILVALUE or absent
  std::string appName;               // 5424 APP-NAME, 3164 TAG
  std::string procId;                // 5424 PROCID, 3164 [pid]
  std::string msgId;                 // 5424 only
  std::vector<SyslogSdElement> structuredData;
  std::string message;               // BOM removed
};

/// Parses "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]".
Result<SyslogMessage> parseRfc5424(std::string_view line);

/// Parses "<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG" and common variants: year
/// after the day, RFC 3339 timestamp, no hostname, no timestamp (then the rest
/// is the message, as RFC 3164 4.3.3 says). Missing PRI means 13 (user.notice,
/// RFC 3164 4.3.3). `reference` (ingest time) supplies the missing year.
Result<SyslogMessage> parseRfc3164(std::string_view line, EpochNanos reference);

/// RFC 5424 names: facility "kern".."local7", severity "emergency".."debug".
std::string_view facilityName(int facility);
std::string_view severityName(int severity);

/// Whether the line starts with "<N>" (1-3 digits) and then "1 " (RFC 5424).
bool looksLikeRfc5424(std::string_view line);
/// Whether the line starts with "<N>" (1-3 digits).
bool looksLikeSyslog(std::string_view line);

}  // namespace shoal::logs
