// FrameSink: the seam between the syslog listeners and whatever takes their
// frames (shoal-receiver's Redis appender; an in-memory sink in tests). A
// sink refuses a whole batch to push back (see listener.h for what each
// transport does then).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "shoal/syslog_input/framing.h"

namespace shoal::syslog_input {

enum class Transport : uint8_t { kTcp, kUdp, kTls };
/// "tcp", "udp", "tls".
std::string_view transportName(Transport t);

enum class Accept : uint8_t { kAccepted, kPaused };

/// \brief Where a listener's frames go. offer() runs on the listener's
/// thread (it may block: the listener reads nothing meanwhile) and must not
/// throw; a sink shared by several listeners must be thread-safe.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  /// Rejected frames (error set) come through here too, in order, so the
  /// sink can dead-letter them. kAccepted: the sink took every frame (it may
  /// move them out). kPaused: it took none and must leave `frames` as they
  /// are; they are offered again later (UDP: dropped and counted).
  virtual Accept offer(Transport from, std::vector<Frame>& frames) = 0;
};

}  // namespace shoal::syslog_input
