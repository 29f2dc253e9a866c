// RespReader: incremental RESP2 parsing over caller-supplied bytes, built on
// hiredis's reader (<hiredis/read.h>) but independent of any socket, so it can
// be fed arbitrary chunks in tests and fuzzers. Replies come out as owned
// shoal::redis::Reply trees.
#pragma once

#include <optional>
#include <string_view>

#include "shoal/common/result.h"
#include "shoal/redis/client.h"

namespace shoal::redis {

/// \brief Incremental RESP parser. Not thread-safe. After a protocol error it
/// stays failed: every further next() returns the same error.
class RespReader {
 public:
  RespReader();
  ~RespReader();
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;

  /// Appends bytes to the parse buffer.
  void feed(std::string_view bytes);
  /// The next complete reply, nullopt if more bytes are needed, or an
  /// Errc::kProtocol error for malformed input.
  Result<std::optional<Reply>> next();

 private:
  void* reader_ = nullptr;  // redisReader*
  bool failed_ = false;
  std::string error_;
};

/// Encodes a command as a RESP array of bulk strings, appended to out.
void encodeCommand(const Command& args, std::string& out);

}  // namespace shoal::redis
