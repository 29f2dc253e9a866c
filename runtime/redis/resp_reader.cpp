// RespReader on top of hiredis's reply reader; converts hiredis replies into
// owned Reply trees.
#include "shoal/redis/resp_reader.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <charconv>

namespace shoal::redis {
namespace {

Reply convert(redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.kind = Reply::Kind::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.kind = Reply::Kind::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = Reply::Kind::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = Reply::Kind::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = Reply::Kind::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.kind = Reply::Kind::kNil;
      break;
  }
  return out;
}

}  // namespace

RespReader::RespReader() : reader_(redisReaderCreate()) {}

RespReader::~RespReader() {
  if (reader_) redisReaderFree(static_cast<redisReader*>(reader_));
}

void RespReader::feed(std::string_view bytes) {
  if (failed_ || bytes.empty()) return;
  auto* r = static_cast<redisReader*>(reader_);
  if (redisReaderFeed(r, bytes.data(), bytes.size()) != REDIS_OK) {
    failed_ = true;
    error_ = r->errstr;
  }
}

Result<std::optional<Reply>> RespReader::next() {
  if (!reader_) return makeError(Errc::kProtocol, "resp: out of memory");
  if (failed_) return makeError(Errc::kProtocol, "resp: " + error_);
  auto* r = static_cast<redisReader*>(reader_);
  void* raw = nullptr;
  if (redisReaderGetReply(r, &raw) != REDIS_OK) {
    failed_ = true;
    error_ = r->errstr;
    return makeError(Errc::kProtocol, "resp: " + error_);
  }
  if (!raw) return std::optional<Reply>{};
  auto* reply = static_cast<redisReply*>(raw);
  Reply out = convert(reply);
  freeReplyObject(reply);
  return std::optional<Reply>(std::move(out));
}

void encodeCommand(const Command& args, std::string& out) {
  char num[24];
  auto appendNum = [&](char prefix, size_t n) {
    out.push_back(prefix);
    auto [p, ec] = std::to_chars(num, num + sizeof num, n);
    (void)ec;
    out.append(num, p);
    out.append("\r\n");
  };
  appendNum('*', args.size());
  for (const auto& a : args) {
    appendNum('$', a.size());
    out.append(a);
    out.append("\r\n");
  }
}

}  // namespace shoal::redis
