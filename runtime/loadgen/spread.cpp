#include "shoal/loadgen/spread.h"

#include <charconv>

#include "shoal/stream/shards.h"

namespace shoal::loadgen {

int32_t Spread::shardOf(uint64_t seq) const {
  if (shards <= 1) return 0;
  switch (mode) {
    case Mode::kKey:
      return shardForKey("host-" + std::to_string(seq % static_cast<uint64_t>(keys)), shards);
    case Mode::kHot:
      if (static_cast<int>(seq % 100) < hotPercent) return 0;
      return 1 + static_cast<int32_t>(seq % static_cast<uint64_t>(shards - 1));
    case Mode::kRoundRobin:
      break;
  }
  return static_cast<int32_t>(seq % static_cast<uint64_t>(shards));
}

bool parseSpread(const std::string& text, Spread& out) {
  if (text == "round-robin") {
    out.mode = Spread::Mode::kRoundRobin;
    return true;
  }
  if (text == "key") {
    out.mode = Spread::Mode::kKey;
    return true;
  }
  if (text.rfind("hot:", 0) != 0) return false;
  int percent = -1;
  const char* first = text.data() + 4;
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, percent);
  if (ec != std::errc() || end != last || first == last || percent < 0 || percent > 100) return false;
  out.mode = Spread::Mode::kHot;
  out.hotPercent = percent;
  return true;
}

}  // namespace shoal::loadgen
