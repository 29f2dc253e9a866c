// Decoder for the body of a Kubernetes watch: newline-delimited JSON objects
// {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}} arriving in
// arbitrary chunks of a chunked HTTP response. A pure class (no I/O) so it is
// tested with every way of splitting the stream.
//
// Invariants: an event is emitted only once its terminating '\n' has arrived;
// bytes of an incomplete line are kept across feed() calls; blank lines and a
// trailing '\r' are ignored; a malformed line is an error value (the caller
// ends the watch and resumes from the last good resourceVersion), never a crash.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/result.h"
#include "shoal/kube/client.h"

namespace shoal::kube {

/// \brief Splits a watch byte stream into WatchEvents. Not thread-safe.
class WatchEventDecoder {
 public:
  explicit WatchEventDecoder(size_t maxLineBytes = 64u << 20) : maxLine_(maxLineBytes) {}

  /// Appends every event completed by `chunk` to `out`. On a malformed line
  /// (bad JSON, unknown type, no object, line over the limit) returns an
  /// error (kProtocol); events decoded before it are still in `out`, and the
  /// decoder skips the bad line so later calls may continue.
  shoal::Result<void> feed(std::string_view chunk, std::vector<WatchEvent>& out);
  /// Bytes of an incomplete trailing line (non-zero at end of stream means
  /// the stream was cut mid-event).
  size_t pendingBytes() const { return buf_.size(); }
  void reset() { buf_.clear(); skipping_ = false; }

 private:
  shoal::Result<void> decodeLine(std::string_view line, std::vector<WatchEvent>& out);
  size_t maxLine_;
  std::string buf_;
  bool skipping_ = false;  // dropping the rest of an over-long line
};

}  // namespace shoal::kube
