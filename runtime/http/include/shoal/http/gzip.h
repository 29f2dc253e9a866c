// gzip (RFC 1952) bodies for the client side: a sink that sends
// `Content-Encoding: gzip` compresses its request bodies with GzipEncoder
// (zlib). The server port decodes incoming bodies itself (server.h); gunzip()
// is the same decoding as a function, for the sinks' tests and the tools.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "shoal/common/result.h"

namespace shoal::http {

/// \brief A gzip encoder that keeps zlib's state (about 256 KiB) between
/// bodies, so a body costs one deflateReset, not an allocation of the state.
/// Not thread-safe: one per sender.
class GzipEncoder {
 public:
  /// zlib level 1 (fastest) to 9 (smallest); out-of-range levels are clamped.
  explicit GzipEncoder(int level = 1);
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  /// Replaces `out` with one gzip member holding `in`. false only when zlib
  /// failed (out of memory at construction): the caller sends the body as it is.
  bool encode(std::string_view in, std::string& out);

 private:
  void* stream_;  // z_stream, or null when deflateInit2 failed
};

/// The content of a one-member gzip body. An error value (Errc::kProtocol)
/// for anything that is not gzip, is truncated, has bytes after the member,
/// or decodes to more than `maxBytes`.
Result<std::string> gunzip(std::string_view body, size_t maxBytes);

}  // namespace shoal::http
