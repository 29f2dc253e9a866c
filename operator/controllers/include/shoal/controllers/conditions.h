// Status conditions per KEP-1623, as pure functions over a list: a condition
// keeps its lastTransitionTime unless its status flips; every condition
// carries the generation it was computed for; conditions a controller owns
// are written on the first visit, as Unknown if nothing is known yet.
#pragma once

#include <string>
#include <vector>

#include "shoal/api/meta.h"
#include "shoal/common/clock.h"

namespace shoal::controllers {

/// The condition of this type, or nullptr.
const api::Condition* findCondition(const std::vector<api::Condition>& conds,
                                    const std::string& type);

/// Sets (or adds) a condition. lastTransitionTime is `now` for a new
/// condition or a status change, and kept otherwise. Returns whether anything
/// (status, reason, message, generation) changed.
bool setCondition(std::vector<api::Condition>& conds, const std::string& type,
                  const std::string& status, const std::string& reason,
                  const std::string& message, int64_t generation, WallTime now);

/// Adds each type that is missing as Unknown with reason `reason`.
void ensureConditions(std::vector<api::Condition>& conds, const std::vector<std::string>& types,
                      const std::string& reason, int64_t generation, WallTime now);

inline const char* statusOf(bool b) { return b ? api::kTrue : api::kFalse; }

}  // namespace shoal::controllers
