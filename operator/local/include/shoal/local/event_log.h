// Local mode's EventSink: each event goes to the structured log and into a
// bounded list of recent events for the live view and the status file.
// Repeats of the same event (object, type, reason, message) are folded into
// one entry with a count and the last time, as Kubernetes does.
// Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/controllers/interfaces.h"

namespace shoal::local {

struct RecordedEvent {
  controllers::EventTarget target;
  std::string type;
  std::string reason;
  std::string message;
  int64_t count = 1;
  WallTime firstTime{};
  WallTime lastTime{};
};

class EventLog final : public controllers::EventSink {
 public:
  explicit EventLog(Clock& clock, size_t capacity = 50) : clock_(clock), capacity_(capacity) {}
  void record(const controllers::EventTarget& target, const std::string& type,
              const std::string& reason, const std::string& message) override;
  /// Oldest first.
  std::vector<RecordedEvent> recent() const;
  nlohmann::json toJson() const;

 private:
  Clock& clock_;
  size_t capacity_;
  mutable std::mutex mu_;
  std::deque<RecordedEvent> events_;
};

}  // namespace shoal::local
