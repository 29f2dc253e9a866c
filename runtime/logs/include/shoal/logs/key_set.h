// KeySet: the set of keys seen so far in one JSON object or stream entry,
// for first-wins duplicate handling in linear time.
#pragma once

#include <cstddef>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace shoal::logs {

/// \brief First-wins duplicate-key detection in amortized constant time per
/// key, so that mapping an entry stays linear in its number of fields. A
/// linear scan while few keys were seen (cheaper than hashing for the dozen
/// keys of a usual log), a hash set beyond. Keys are views: they must outlive
/// their use here. Not thread-safe.
class KeySet {
 public:
  void clear() {
    few_.clear();
    // A fresh table, not clear(): clearing keeps (and memsets) every bucket
    // of the widest object ever seen, on each of the many small ones after it.
    if (!many_.empty()) std::unordered_set<std::string_view>().swap(many_);
  }
  bool contains(std::string_view key) const {
    if (!many_.empty()) return many_.count(key) != 0;
    for (auto k : few_)
      if (k == key) return true;
    return false;
  }
  /// Records key; false when it was already there.
  bool insert(std::string_view key) {
    if (!many_.empty()) return many_.insert(key).second;
    for (auto k : few_)
      if (k == key) return false;
    if (few_.size() < kFew) {
      few_.push_back(key);
      return true;
    }
    many_.reserve(kFew * 4);
    many_.insert(few_.begin(), few_.end());
    few_.clear();
    return many_.insert(key).second;
  }

 private:
  static constexpr size_t kFew = 16;
  std::vector<std::string_view> few_;
  std::unordered_set<std::string_view> many_;
};

}  // namespace shoal::logs
