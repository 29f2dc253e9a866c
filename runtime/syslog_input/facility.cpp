// Facility names and the facility -> stream table (see facility.h).
#include "shoal/syslog_input/facility.h"

namespace shoal::syslog_input {
namespace {

// RFC 5424 table 1, by the names syslog implementations give them.
constexpr std::array<std::string_view, kFacilityCount> kNames = {
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"};

}  // namespace

std::optional<int> parsePriority(std::string_view m) {
  if (m.size() < 3 || m[0] != '<') return std::nullopt;
  int value = 0;
  size_t i = 1;
  for (; i < m.size() && i <= 4 && m[i] >= '0' && m[i] <= '9'; ++i) value = value * 10 + (m[i] - '0');
  size_t digits = i - 1;
  if (digits == 0 || digits > 3 || i >= m.size() || m[i] != '>' || value > 191) return std::nullopt;
  return value;
}

std::optional<std::string_view> facilityName(int facility) {
  if (facility < 0 || facility >= kFacilityCount) return std::nullopt;
  return kNames[static_cast<size_t>(facility)];
}

std::optional<int> facilityByName(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

Result<FacilityRoutes> FacilityRoutes::make(std::string defaultStream,
                                            const std::map<std::string, std::string>& byFacility) {
  if (defaultStream.empty()) return makeError(Errc::kInvalidInput, "syslog route: empty default stream");
  FacilityRoutes r;
  r.default_ = std::move(defaultStream);
  for (const auto& [name, stream] : byFacility) {
    auto f = facilityByName(name);
    if (!f) return makeError(Errc::kInvalidInput, "syslog route: unknown facility '" + name + "'");
    if (stream.empty()) {
      return makeError(Errc::kInvalidInput, "syslog route: empty stream for facility " + name);
    }
    r.routes_[static_cast<size_t>(*f)] = stream;
  }
  return r;
}

const std::string& FacilityRoutes::streamFor(std::string_view message) const {
  auto pri = parsePriority(message);
  if (!pri) return default_;
  const auto& route = routes_[static_cast<size_t>(*pri / 8)];
  return route ? *route : default_;
}

}  // namespace shoal::syslog_input
