// RespReader on top of hiredis's reply reader; converts hiredis replies into
// owned Reply trees.
#include "shoal/redis/resp_reader.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <new>

namespace shoal::redis {
namespace {

// hiredis builds our Reply tree directly through its object-function hooks
// (no intermediate redisReply tree and no second copy of every string). A
// root object is a heap Reply; a child is appended to its parent's
// `elements` when hiredis creates it. Children come in order and depth
// first, so when a parent's vector grows its earlier children are complete
// and nothing holds their addresses. The declared count only caps the
// reservation: a peer announcing *2000000000 must not make us allocate for
// it before the elements arrive. hiredis only ever frees root objects.
constexpr size_t kMaxReservedElements = 1024;

Reply* slotFor(const redisReadTask* task) {
  if (task->parent) {
    auto* parent = static_cast<Reply*>(task->parent->obj);
    const auto idx = static_cast<size_t>(task->idx);
    if (!parent || idx != parent->elements.size()) return nullptr;
    return &parent->elements.emplace_back();
  }
  return new (std::nothrow) Reply();
}

void* createString(const redisReadTask* task, char* str, size_t len) {
  Reply* r = slotFor(task);
  if (!r) return nullptr;
  switch (task->type) {
    case REDIS_REPLY_STATUS: r->kind = Reply::Kind::kStatus; break;
    case REDIS_REPLY_ERROR: r->kind = Reply::Kind::kError; break;
    default: r->kind = Reply::Kind::kString; break;
  }
  r->str.assign(str, len);
  return r;
}

void* createArray(const redisReadTask* task, int elements) {
  Reply* r = slotFor(task);
  if (!r) return nullptr;
  r->kind = Reply::Kind::kArray;
  if (elements > 0) r->elements.reserve(std::min(static_cast<size_t>(elements), kMaxReservedElements));
  return r;
}

void* createInteger(const redisReadTask* task, long long value) {
  Reply* r = slotFor(task);
  if (!r) return nullptr;
  r->kind = Reply::Kind::kInteger;
  r->integer = value;
  return r;
}

void* createNil(const redisReadTask* task) {
  Reply* r = slotFor(task);
  if (!r) return nullptr;
  r->kind = Reply::Kind::kNil;
  return r;
}

void freeObject(void* obj) { delete static_cast<Reply*>(obj); }

redisReplyObjectFunctions kReplyFunctions = {createString, createArray, createInteger, createNil, freeObject};

}  // namespace

RespReader::RespReader() : reader_(redisReaderCreateWithFunctions(&kReplyFunctions)) {}

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
  std::unique_ptr<Reply> reply(static_cast<Reply*>(raw));
  return std::optional<Reply>(std::move(*reply));
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
