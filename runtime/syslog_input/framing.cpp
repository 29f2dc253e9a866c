// RFC 6587 stream framing and RFC 5426 datagram framing (see framing.h).
#include "shoal/syslog_input/framing.h"

#include <algorithm>
#include <cstring>

namespace shoal::syslog_input {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Position of the first LF or NUL in s, or npos. Two memchr passes (the
// second bounded by the first) beat one byte loop looking for both.
size_t findTerminator(std::string_view s) {
  const void* lf = std::memchr(s.data(), '\n', s.size());
  size_t limit = lf ? static_cast<size_t>(static_cast<const char*>(lf) - s.data()) : s.size();
  const void* nul = std::memchr(s.data(), '\0', limit);
  if (nul) return static_cast<size_t>(static_cast<const char*>(nul) - s.data());
  return lf ? limit : std::string_view::npos;
}

}  // namespace

std::string_view errorReason(FrameError e) {
  switch (e) {
    case FrameError::kNone: return "";
    case FrameError::kTooLarge: return "too_large";
    case FrameError::kBadOctetCount: return "bad_octet_count";
    case FrameError::kTruncated: return "truncated";
  }
  return "";
}

FrameDecoder::FrameDecoder(DecoderOptions o) : o_(o) {}

bool FrameDecoder::hasPartial() const {
  switch (state_) {
    case State::kStart:
    case State::kFailed: return false;
    case State::kCount:
    case State::kLine: return !buf_.empty();
    case State::kBody:
    case State::kSkip:
    case State::kDiscard: return true;
  }
  return false;
}

void FrameDecoder::reject(std::vector<Frame>& out, FrameError e, std::string_view head,
                          uint64_t bytes) {
  Frame f;
  f.message.assign(head.substr(0, o_.rejectedHeadBytes));
  f.error = e;
  f.bytes = bytes;
  out.push_back(std::move(f));
}

void FrameDecoder::resetCount() {
  state_ = State::kCount;
  buf_.clear();
  length_ = 0;
}

void FrameDecoder::failCount(char bad, std::vector<Frame>& out) {
  // The digits so far and the offending byte: what follows depends on how
  // the input was cut, the report must not.
  buf_.push_back(bad);
  reject(out, FrameError::kBadOctetCount, buf_, buf_.size());
  buf_.clear();
  buf_.shrink_to_fit();
  state_ = State::kFailed;
}

void FrameDecoder::feed(std::string_view in, std::vector<Frame>& out) {
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    switch (state_) {
      case State::kFailed: return;
      case State::kStart:
        if (isDigit(in[i])) {
          framing_ = Framing::kOctetCounting;
          resetCount();
        } else {
          framing_ = Framing::kNonTransparent;
          state_ = State::kLine;
        }
        break;
      case State::kCount: {
        char c = in[i];
        if (c == ' ' && !buf_.empty()) {
          ++i;
          buf_.clear();
          if (length_ > o_.maxFrameBytes) {
            state_ = State::kSkip;
            remaining_ = length_;
          } else {
            state_ = State::kBody;
            buf_.reserve(length_);
          }
          break;
        }
        if (!isDigit(c) || (buf_.empty() && c == '0') || buf_.size() >= kMaxOctetCountDigits) {
          failCount(c, out);
          return;
        }
        buf_.push_back(c);
        length_ = length_ * 10 + static_cast<uint64_t>(c - '0');
        ++i;
        break;
      }
      case State::kBody: {
        size_t take = std::min<uint64_t>(length_ - buf_.size(), n - i);
        buf_.append(in.substr(i, take));
        i += take;
        if (buf_.size() == length_) {
          Frame f;
          f.bytes = length_;
          f.message = std::move(buf_);
          out.push_back(std::move(f));
          resetCount();
        }
        break;
      }
      case State::kSkip: {
        size_t take = std::min<uint64_t>(remaining_, n - i);
        if (buf_.size() < o_.rejectedHeadBytes) {
          buf_.append(in.substr(i, std::min(take, o_.rejectedHeadBytes - buf_.size())));
        }
        remaining_ -= take;
        i += take;
        if (remaining_ == 0) {
          reject(out, FrameError::kTooLarge, buf_, length_);
          resetCount();
        }
        break;
      }
      case State::kLine: {
        std::string_view rest = in.substr(i);
        size_t t = findTerminator(rest);
        size_t chunk = t == std::string_view::npos ? rest.size() : t;
        if (buf_.size() + chunk > o_.maxFrameBytes) {
          // At most the limit + 1 bytes are sure to be here whatever the
          // cutting, so the report holds no more than that.
          const size_t headBytes = std::min(o_.rejectedHeadBytes, o_.maxFrameBytes + 1);
          std::string head = buf_.substr(0, headBytes);
          if (head.size() < headBytes) head.append(rest.substr(0, headBytes - head.size()));
          reject(out, FrameError::kTooLarge, head, buf_.size() + chunk);
          buf_.clear();
          if (t == std::string_view::npos) {
            state_ = State::kDiscard;
            i = n;
          } else {
            i += t + 1;
          }
          break;
        }
        if (t == std::string_view::npos) {
          buf_.append(rest);
          i = n;
          break;
        }
        if (buf_.empty()) {
          if (t > 0) out.push_back(Frame{std::string(rest.substr(0, t)), FrameError::kNone, t});
        } else {
          buf_.append(rest.substr(0, t));
          Frame f;
          f.bytes = buf_.size();
          f.message = std::move(buf_);
          out.push_back(std::move(f));
          buf_.clear();
        }
        i += t + 1;
        break;
      }
      case State::kDiscard: {
        size_t t = findTerminator(in.substr(i));
        if (t == std::string_view::npos) return;
        i += t + 1;
        state_ = State::kLine;
        break;
      }
    }
  }
}

void FrameDecoder::end(std::vector<Frame>& out, bool peerClosed) {
  switch (state_) {
    case State::kCount:
      if (!buf_.empty()) reject(out, FrameError::kTruncated, buf_, buf_.size());
      break;
    case State::kBody: reject(out, FrameError::kTruncated, buf_, buf_.size()); break;
    case State::kSkip: reject(out, FrameError::kTooLarge, buf_, length_); break;
    case State::kLine:
      if (buf_.empty()) break;
      if (peerClosed) {
        Frame f;
        f.bytes = buf_.size();
        f.message = std::move(buf_);
        out.push_back(std::move(f));
      } else {
        reject(out, FrameError::kTruncated, buf_, buf_.size());
      }
      break;
    case State::kStart:
    case State::kDiscard:
    case State::kFailed: break;
  }
  *this = FrameDecoder(o_);
}

void FrameDecoder::finish(std::vector<Frame>& out) { end(out, true); }
void FrameDecoder::abandon(std::vector<Frame>& out) { end(out, false); }

std::optional<Frame> datagramFrame(std::string_view data, size_t sentBytes,
                                   const DecoderOptions& o) {
  const size_t sent = std::max(sentBytes, data.size());
  size_t size = sent;
  // The trailer is only seen when the datagram was read whole.
  if (sent == data.size() && !data.empty() && (data.back() == '\n' || data.back() == '\0')) {
    data.remove_suffix(1);
    --size;
  }
  if (size > o.maxFrameBytes) {
    Frame f;
    f.message.assign(data.substr(0, o.rejectedHeadBytes));
    f.error = FrameError::kTooLarge;
    f.bytes = sent;
    return f;
  }
  if (data.empty()) return std::nullopt;
  return Frame{std::string(data), FrameError::kNone, data.size()};
}

}  // namespace shoal::syslog_input
