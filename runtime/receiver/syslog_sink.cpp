#include "shoal/receiver/syslog_sink.h"

#include <map>

#include "shoal/common/log.h"

namespace shoal::receiver {

SyslogSink::SyslogSink(syslog_input::FacilityRoutes routes, StreamAppender& appender, const ThrottleGate& gate,
                       ReceiverStats& stats)
    : routes_(std::move(routes)), appender_(appender), gate_(gate), stats_(stats) {}

syslog_input::Accept SyslogSink::offer(syslog_input::Transport from, std::vector<syslog_input::Frame>& frames) {
  if (frames.empty()) return syslog_input::Accept::kAccepted;
  std::vector<Append> appends;
  appends.reserve(frames.size());
  std::map<std::string_view, int64_t> accepted;  // per stream, counted once Redis holds the batch
  std::map<std::string_view, int64_t> rejected;  // per reason
  for (const auto& f : frames) {
    const std::string& stream = routes_.streamFor(f.message);
    if (gate_.throttled(stream)) {
      stats_.throttled(static_cast<int64_t>(frames.size()));
      return syslog_input::Accept::kPaused;
    }
    Append a;
    if (f.ok()) {
      a.stream = stream;
      a.fields[0] = {"message", f.message};
      a.fieldCount = 1;
      ++accepted[stream];
    } else {
      auto it = rejected_.find(stream);
      if (it == rejected_.end()) it = rejected_.emplace(stream, stream + ":rejected").first;
      a.stream = it->second;
      a.fields[0] = {"reason", syslog_input::errorReason(f.error)};
      a.fields[1] = {"payload", std::string_view(f.message).substr(0, kRejectedPayloadBytes)};
      a.fields[2] = {"transport", syslog_input::transportName(from)};
      a.fieldCount = 3;
      ++rejected[syslog_input::errorReason(f.error)];
    }
    appends.push_back(a);
  }
  auto r = appender_.append(appends);
  stats_.writeOutcome(r.ok());
  if (!r) {
    log::warn("syslog batch not stored; the listener holds it and offers it again",
              {{"transport", std::string(syslog_input::transportName(from))},
               {"entries", frames.size()},
               {"error", r.error().message}});
    return syslog_input::Accept::kPaused;
  }
  for (const auto& [stream, n] : accepted) stats_.accepted(stream, n);
  for (const auto& [reason, n] : rejected) stats_.rejected(reason, n);
  return syslog_input::Accept::kAccepted;
}

}  // namespace shoal::receiver
