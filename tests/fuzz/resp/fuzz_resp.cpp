// libFuzzer target: the RESP reader must never crash or hang on any bytes,
// however they are split, and must give the same replies for one feed as for
// a byte-at-a-time feed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shoal/redis/resp_reader.h"

using shoal::redis::RespReader;

namespace {
int drain(RespReader& r, std::string_view data, size_t chunk) {
  int replies = 0;
  for (size_t i = 0; i < data.size(); i += chunk) {
    r.feed(data.substr(i, chunk));
    while (true) {
      auto next = r.next();
      if (!next.ok()) return replies == 0 ? -1 : -1 - replies;
      if (!next->has_value()) break;
      ++replies;
    }
  }
  return replies;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  RespReader whole, bytes;
  int a = drain(whole, in, in.size() == 0 ? 1 : in.size());
  int b = drain(bytes, in, 1);
  // Only compare successful parses: an error may surface at a different reply
  // boundary depending on when the bad byte arrives.
  if (a >= 0 && b >= 0 && a != b) __builtin_trap();
  return 0;
}
