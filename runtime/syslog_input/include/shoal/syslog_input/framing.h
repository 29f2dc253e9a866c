// Syslog framing over a byte stream (RFC 6587) and over datagrams (RFC 5426),
// as pure, incremental decoders: bytes in, frames out, no I/O.
//
// Design note. A TCP or TLS connection carries either octet-counted frames
// (`<len> <msg>`, RFC 6587 3.4.1) or non-transparent ones (a message ended by
// LF, 3.4.2). Senders do not announce which, so the first byte of the
// connection decides, once: a digit means octet counting, anything else
// (normally '<', the PRI) means newline framing. NUL ends a frame as LF does,
// since Python's SysLogHandler and older senders end TCP messages with NUL
// and no LF. Empty frames are skipped.
//
// Every input has one outcome, and nothing leaves the decoder silently: a
// frame is either complete (error kNone) or reported as rejected with the
// first `rejectedHeadBytes` of what was seen:
//   - larger than maxFrameBytes: kTooLarge, and skipped. Newline framing
//     reports as soon as the limit is passed and discards up to the next
//     terminator; octet counting skips exactly the declared length and
//     reports when the skip ends. The connection stays up.
//   - an octet count that is not `NONZERO-DIGIT *DIGIT SP` or has more than
//     kMaxOctetCountDigits digits: kBadOctetCount; the decoder fails for good
//     (failed()), the connection must be closed: there is no way to find the
//     next frame boundary. The report holds the digits and the bad byte.
//   - a frame cut short by the connection's end (finish() on an octet-counted
//     frame, abandon() on any partial one): kTruncated.
// Memory is bounded by maxFrameBytes per decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::syslog_input {

enum class FrameError : uint8_t { kNone, kTooLarge, kBadOctetCount, kTruncated };

/// The reason label of a rejected frame: "too_large", "bad_octet_count",
/// "truncated" ("" for kNone).
std::string_view errorReason(FrameError e);

/// \brief One syslog message as sent (terminator and octet count removed),
/// or a rejected one (error set, message holding its first bytes).
struct Frame {
  std::string message;
  FrameError error = FrameError::kNone;
  uint64_t bytes = 0;  // size as sent; rejected by size: the declared or seen size
  bool ok() const { return error == FrameError::kNone; }
};

enum class Framing : uint8_t { kUndecided, kOctetCounting, kNonTransparent };

struct DecoderOptions {
  size_t maxFrameBytes = 1 << 20;
  size_t rejectedHeadBytes = 512;
};

/// More digits than this in an octet count (a billion bytes or more) is a
/// broken count, not a large frame.
inline constexpr size_t kMaxOctetCountDigits = 9;

/// \brief Incremental RFC 6587 decoder for one connection. Not thread-safe.
/// Cutting the input into chunks anywhere gives the same frames.
class FrameDecoder {
 public:
  explicit FrameDecoder(DecoderOptions o = {});

  /// Decodes bytes, appending complete and rejected frames to out. After
  /// failed() further bytes are ignored.
  void feed(std::string_view bytes, std::vector<Frame>& out);
  /// The peer closed the connection: a pending newline-framed message is a
  /// frame; a pending octet-counted one is kTruncated (kTooLarge if it was
  /// being skipped). Resets the decoder to its initial state.
  void finish(std::vector<Frame>& out);
  /// We close the connection (timeout, stop): any pending frame is reported
  /// kTruncated (kTooLarge if it was being skipped). Resets the decoder.
  void abandon(std::vector<Frame>& out);

  /// A broken octet count was seen: close the connection.
  bool failed() const { return state_ == State::kFailed; }
  /// Bytes of an unfinished frame are held (the read timeout runs).
  bool hasPartial() const;
  Framing framing() const { return framing_; }

 private:
  enum class State : uint8_t { kStart, kCount, kBody, kSkip, kLine, kDiscard, kFailed };
  void end(std::vector<Frame>& out, bool peerClosed);
  void reject(std::vector<Frame>& out, FrameError e, std::string_view head, uint64_t bytes);
  void failCount(char bad, std::vector<Frame>& out);
  void resetCount();

  DecoderOptions o_;
  State state_ = State::kStart;
  Framing framing_ = Framing::kUndecided;
  std::string buf_;        // the frame being assembled; the count's digits in kCount
  uint64_t length_ = 0;    // declared length (kCount, kBody, kSkip)
  uint64_t remaining_ = 0; // bytes still to skip (kSkip)
};

/// One UDP datagram as a frame (RFC 5426: one message per datagram). One
/// trailing LF or NUL is removed. `sentBytes` is the datagram's size as sent
/// (it may exceed data.size() when the read buffer truncated it). Larger than
/// maxFrameBytes: kTooLarge. Empty: nullopt.
std::optional<Frame> datagramFrame(std::string_view data, size_t sentBytes,
                                   const DecoderOptions& o = {});

}  // namespace shoal::syslog_input
