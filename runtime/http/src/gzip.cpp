// gzip bodies over zlib. See gzip.h.
#include "shoal/http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace shoal::http {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip header and trailer

}  // namespace

GzipEncoder::GzipEncoder(int level) : stream_(nullptr) {
  auto zs = std::make_unique<z_stream>();
  if (deflateInit2(zs.get(), std::clamp(level, 1, 9), Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) == Z_OK)
    stream_ = zs.release();
}

GzipEncoder::~GzipEncoder() {
  if (!stream_) return;
  auto* zs = static_cast<z_stream*>(stream_);
  deflateEnd(zs);
  delete zs;
}

bool GzipEncoder::encode(std::string_view in, std::string& out) {
  if (!stream_) return false;
  auto* zs = static_cast<z_stream*>(stream_);
  if (deflateReset(zs) != Z_OK) return false;
  // deflateBound is enough for one Z_FINISH call, so one pass always ends the
  // member; bodies here are far below 4 GiB (maxBytesPerRequest caps them).
  if (in.size() > UINT_MAX / 2) return false;
  out.resize(deflateBound(zs, static_cast<uLong>(in.size())));
  zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs->avail_in = static_cast<uInt>(in.size());
  zs->next_out = reinterpret_cast<Bytef*>(out.data());
  zs->avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(zs, Z_FINISH);
  if (rc != Z_STREAM_END) return false;
  out.resize(zs->total_out);
  return true;
}

Result<std::string> gunzip(std::string_view body, size_t maxBytes) {
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return makeError(Errc::kProtocol, "gzip: out of memory");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  if (body.size() > UINT_MAX) return makeError(Errc::kProtocol, "gzip: body too large");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  std::string out;
  char chunk[16384];
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t got = sizeof chunk - zs.avail_out;
    if (out.size() + got > maxBytes)
      return makeError(Errc::kProtocol, "gzip: decodes to more than " + std::to_string(maxBytes) + " bytes");
    out.append(chunk, got);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) return makeError(Errc::kProtocol, "gzip: truncated");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return makeError(Errc::kProtocol, std::string("gzip: ") + (zs.msg ? zs.msg : "invalid data"));
  }
  if (zs.avail_in != 0) return makeError(Errc::kProtocol, "gzip: bytes after the gzip member");
  return out;
}

}  // namespace shoal::http
