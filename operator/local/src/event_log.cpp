// Local mode's EventSink: log + recent list with repeats folded.
#include "shoal/local/event_log.h"

#include "shoal/api/meta.h"
#include "shoal/common/log.h"

namespace shoal::local {

void EventLog::record(const controllers::EventTarget& target, const std::string& type,
                      const std::string& reason, const std::string& message) {
  const WallTime now = clock_.wallNow();
  {
    std::lock_guard lock(mu_);
    for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
      if (it->target.kind == target.kind && it->target.ns == target.ns &&
          it->target.name == target.name && it->type == type && it->reason == reason &&
          it->message == message) {
        RecordedEvent e = *it;
        ++e.count;
        e.lastTime = now;
        events_.erase(std::next(it).base());
        events_.push_back(std::move(e));
        return;  // a repeat: counted, not logged again
      }
    }
    events_.push_back(RecordedEvent{target, type, reason, message, 1, now, now});
    while (events_.size() > capacity_) events_.pop_front();
  }
  const nlohmann::json fields = {{"object", target.kind + "/" + target.ns + "/" + target.name},
                                 {"type", type},
                                 {"reason", reason},
                                 {"message", message}};
  if (type == "Warning") {
    log::warn("event", fields);
  } else {
    log::info("event", fields);
  }
}

std::vector<RecordedEvent> EventLog::recent() const {
  std::lock_guard lock(mu_);
  return {events_.begin(), events_.end()};
}

nlohmann::json EventLog::toJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : recent()) {
    out.push_back({{"object", e.target.kind + "/" + e.target.name},
                   {"namespace", e.target.ns},
                   {"type", e.type},
                   {"reason", e.reason},
                   {"message", e.message},
                   {"count", e.count},
                   {"firstTimestamp", api::formatTime(e.firstTime)},
                   {"lastTimestamp", api::formatTime(e.lastTime)}});
  }
  return out;
}

}  // namespace shoal::local
