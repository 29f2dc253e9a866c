// Where the syslog listeners' frames go in shoal-receiver: each message is
// one entry (field `message`, the line as received) appended to its route's
// stream (by facility), a rejected frame one record in `<stream>:rejected`
// with its reason. A batch is taken only once Redis holds all of it; while a
// target stream is throttled, or Redis fails, the batch is refused (paused):
// TCP and TLS stop reading, UDP drops and counts (syslog_input/listener.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "shoal/receiver/appender.h"
#include "shoal/receiver/backpressure.h"
#include "shoal/receiver/receiver.h"
#include "shoal/syslog_input/facility.h"
#include "shoal/syslog_input/frame_sink.h"

namespace shoal::receiver {

class SyslogSink final : public syslog_input::FrameSink {
 public:
  SyslogSink(syslog_input::FacilityRoutes routes, StreamAppender& appender, const ThrottleGate& gate,
             ReceiverStats& stats);
  syslog_input::Accept offer(syslog_input::Transport from, std::vector<syslog_input::Frame>& frames) override;

 private:
  syslog_input::FacilityRoutes routes_;
  StreamAppender& appender_;
  const ThrottleGate& gate_;
  ReceiverStats& stats_;
  std::map<std::string, std::string, std::less<>> rejected_;  // stream -> "<stream>:rejected"
};

}  // namespace shoal::receiver
