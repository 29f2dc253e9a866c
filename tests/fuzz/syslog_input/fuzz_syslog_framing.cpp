// libFuzzer target: the syslog frame decoder must never crash, must keep its
// limits (no complete frame over maxFrameBytes, no report over
// rejectedHeadBytes), and must give the same frames for one feed as for any
// cutting of the input; the same bytes as a datagram give at most one frame
// within the limits. The first byte picks a small frame limit so the
// oversize paths are reached; the rest is the connection's bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "shoal/syslog_input/framing.h"

using shoal::syslog_input::DecoderOptions;
using shoal::syslog_input::Frame;
using shoal::syslog_input::FrameDecoder;

namespace {
std::vector<Frame> decode(std::string_view in, size_t chunk, const DecoderOptions& o) {
  FrameDecoder d(o);
  std::vector<Frame> out;
  for (size_t i = 0; i < in.size(); i += chunk) d.feed(in.substr(i, chunk), out);
  d.finish(out);
  return out;
}
bool same(const std::vector<Frame>& a, const std::vector<Frame>& b, bool compareRejectedSizes) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].error != b[i].error || a[i].message != b[i].message) return false;
    if ((a[i].ok() || compareRejectedSizes) && a[i].bytes != b[i].bytes) return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  DecoderOptions o;
  o.maxFrameBytes = 1 + data[0] % 64;
  o.rejectedHeadBytes = 1 + data[0] % 7;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  auto whole = decode(in, in.empty() ? 1 : in.size(), o);
  for (const auto& f : whole) {
    if (f.ok() && (f.message.size() > o.maxFrameBytes || f.message.empty())) __builtin_trap();
    if (!f.ok() && f.message.size() > o.rejectedHeadBytes) __builtin_trap();
  }
  // A newline frame over the limit is reported with the size seen when it
  // passed the limit, which depends on the cutting; everything else must not.
  if (!same(whole, decode(in, 1, o), false)) __builtin_trap();
  if (!same(whole, decode(in, 3, o), false)) __builtin_trap();
  // The same bytes as one datagram: one frame at most, within the limits.
  if (auto d = shoal::syslog_input::datagramFrame(in, in.size(), o)) {
    if (d->ok() && (d->message.empty() || d->message.size() > o.maxFrameBytes)) __builtin_trap();
    if (!d->ok() && d->message.size() > o.rejectedHeadBytes) __builtin_trap();
  }
  return 0;
}
