// Condition list updates per KEP-1623.
#include "shoal/controllers/conditions.h"

namespace shoal::controllers {

const api::Condition* findCondition(const std::vector<api::Condition>& conds,
                                    const std::string& type) {
  for (const auto& c : conds) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

bool setCondition(std::vector<api::Condition>& conds, const std::string& type,
                  const std::string& status, const std::string& reason,
                  const std::string& message, int64_t generation, WallTime now) {
  for (auto& c : conds) {
    if (c.type != type) continue;
    bool changed = c.status != status || c.reason != reason || c.message != message ||
                   c.observedGeneration != generation;
    if (c.status != status || c.lastTransitionTime.empty()) {
      c.lastTransitionTime = api::formatTime(now);
    }
    c.status = status;
    c.reason = reason;
    c.message = message;
    c.observedGeneration = generation;
    return changed;
  }
  api::Condition c;
  c.type = type;
  c.status = status;
  c.reason = reason;
  c.message = message;
  c.observedGeneration = generation;
  c.lastTransitionTime = api::formatTime(now);
  conds.push_back(std::move(c));
  return true;
}

void ensureConditions(std::vector<api::Condition>& conds, const std::vector<std::string>& types,
                      const std::string& reason, int64_t generation, WallTime now) {
  for (const auto& t : types) {
    if (findCondition(conds, t) == nullptr) {
      setCondition(conds, t, api::kUnknown, reason, "The operator has not determined this yet.",
                   generation, now);
    }
  }
}

}  // namespace shoal::controllers
