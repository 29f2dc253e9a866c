// Routing a syslog message to a stream by its facility: only the PRI (`<N>`
// at the very start, RFC 5424 6.2.1 / RFC 3164 4.1.1) is read; the message
// itself goes into the entry unchanged and is parsed by the worker.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "shoal/common/result.h"

namespace shoal::syslog_input {

inline constexpr int kFacilityCount = 24;

/// The PRI value (0..191) at the start of a message: '<', one to three
/// digits, '>'. Anything else, or a value above 191: nullopt.
std::optional<int> parsePriority(std::string_view message);

/// The facility's name for 0..23: kern, user, mail, daemon, auth, syslog,
/// lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock,
/// local0..local7. Out of range: nullopt.
std::optional<std::string_view> facilityName(int facility);
/// The inverse of facilityName.
std::optional<int> facilityByName(std::string_view name);

/// \brief The bounded facility -> stream table. Immutable after make(), so
/// safe to share between threads.
class FacilityRoutes {
 public:
  /// byFacility keys must be facility names (see facilityName); an unknown
  /// name or an empty stream is a configuration error (Errc::kInvalidInput).
  static Result<FacilityRoutes> make(std::string defaultStream,
                                     const std::map<std::string, std::string>& byFacility = {});

  /// The stream for a message: its facility's route, or the default one when
  /// the facility has none or the message has no valid PRI.
  const std::string& streamFor(std::string_view message) const;
  const std::string& defaultStream() const { return default_; }

 private:
  std::string default_;
  std::array<std::optional<std::string>, kFacilityCount> routes_;
};

}  // namespace shoal::syslog_input
