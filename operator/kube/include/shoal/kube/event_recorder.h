// Records core/v1 Events about objects (what `kubectl describe` shows), with
// client-side deduplication: an event equal to a recent one (same object,
// type, reason and message) increments that Event's count and lastTimestamp
// with a patch instead of creating a new Event.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "shoal/common/clock.h"
#include "shoal/kube/client.h"

namespace shoal::kube {

/// \brief Thread-safe event recorder. Failures are returned and never thrown.
class EventRecorder {
 public:
  enum class Type { kNormal, kWarning };

  EventRecorder(Client& client, Clock& clock, std::string component, std::string host = "",
                Duration dedupWindow = std::chrono::minutes(10));

  /// Records reason/message about `object` (needs apiVersion, kind, metadata).
  /// Returns the Event as stored.
  ApiResult<Json> record(const Json& object, Type type, const std::string& reason,
                         const std::string& message);
  ApiResult<Json> normal(const Json& object, const std::string& reason, const std::string& msg) {
    return record(object, Type::kNormal, reason, msg);
  }
  ApiResult<Json> warning(const Json& object, const std::string& reason, const std::string& msg) {
    return record(object, Type::kWarning, reason, msg);
  }

 private:
  struct Seen {
    std::string ns, name;
    int64_t count = 0;
    MonoTime at{};
  };
  Client& client_;
  Clock& clock_;
  std::string component_, host_;
  Duration window_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;  // dedup key -> the Event we wrote
  uint64_t seq_ = 0;
};

}  // namespace shoal::kube
