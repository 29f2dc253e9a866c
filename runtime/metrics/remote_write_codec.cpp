// Hand-written protobuf encoding/decoding of remote write's WriteRequest,
// plus snappy block compression.
#include "shoal/metrics/remote_write_codec.h"

#include <snappy.h>

#include <cstring>

namespace shoal::metrics {

namespace {

constexpr uint8_t kTagTimeseries = (1 << 3) | 2;  // field 1, length-delimited
constexpr uint8_t kTagLabel = (1 << 3) | 2;
constexpr uint8_t kTagSample = (2 << 3) | 2;
constexpr uint8_t kTagName = (1 << 3) | 2;
constexpr uint8_t kTagValue = (2 << 3) | 2;
constexpr uint8_t kTagSampleValue = (1 << 3) | 1;  // fixed64
constexpr uint8_t kTagSampleTs = (2 << 3) | 0;     // varint

size_t varintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void putVarint(std::string& out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

size_t fieldSize(size_t len) { return 1 + varintSize(len) + len; }

size_t labelSize(const Label& l) { return fieldSize(l.name.size()) + fieldSize(l.value.size()); }

size_t sampleSize(int64_t ts) {
  return 1 + 8 + (ts != 0 ? 1 + varintSize(static_cast<uint64_t>(ts)) : 0);
}

}  // namespace

void encodeWriteRequest(std::span<const SeriesSlice> series, std::string& out) {
  // Sizes first so every length prefix is known when it is written.
  size_t total = 0;
  std::vector<size_t> seriesSizes;
  seriesSizes.reserve(series.size());
  for (auto& s : series) {
    size_t n = 0;
    for (auto& l : *s.labels) n += fieldSize(labelSize(l));
    for (auto& [ts, v] : s.samples) n += fieldSize(sampleSize(ts));
    seriesSizes.push_back(n);
    total += fieldSize(n);
  }
  out.reserve(out.size() + total);
  for (size_t i = 0; i < series.size(); ++i) {
    out.push_back(static_cast<char>(kTagTimeseries));
    putVarint(out, seriesSizes[i]);
    for (auto& l : *series[i].labels) {
      out.push_back(static_cast<char>(kTagLabel));
      putVarint(out, labelSize(l));
      out.push_back(static_cast<char>(kTagName));
      putVarint(out, l.name.size());
      out.append(l.name);
      out.push_back(static_cast<char>(kTagValue));
      putVarint(out, l.value.size());
      out.append(l.value);
    }
    for (auto& [ts, v] : series[i].samples) {
      out.push_back(static_cast<char>(kTagSample));
      putVarint(out, sampleSize(ts));
      out.push_back(static_cast<char>(kTagSampleValue));
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      char le[8];
      for (int b = 0; b < 8; ++b) le[b] = static_cast<char>((bits >> (8 * b)) & 0xff);
      out.append(le, 8);
      if (ts != 0) {
        out.push_back(static_cast<char>(kTagSampleTs));
        putVarint(out, static_cast<uint64_t>(ts));
      }
    }
  }
}

std::string snappyCompress(std::string_view raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

Result<std::string> snappyUncompress(std::string_view compressed) {
  std::string out;
  size_t len = 0;
  if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &len) || len > (256u << 20))
    return makeError(Errc::kInvalidInput, "snappy: bad or too large block");
  if (!snappy::Uncompress(compressed.data(), compressed.size(), &out))
    return makeError(Errc::kInvalidInput, "snappy: corrupt block");
  return out;
}

// --------------------------------------------------------------- decode
namespace {

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  bool done() const { return p >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) {
        ok = false;
        return 0;
      }
      const uint8_t b = *p++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (!ok || n > static_cast<uint64_t>(end - p)) {
      ok = false;
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  uint64_t fixed64() {
    if (end - p < 8) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v |= static_cast<uint64_t>(p[b]) << (8 * b);
    p += 8;
    return v;
  }
  void skip(uint32_t wireType) {
    switch (wireType) {
      case 0: varint(); break;
      case 1: fixed64(); break;
      case 2: bytes(); break;
      case 5:
        if (end - p < 4) ok = false;
        else p += 4;
        break;
      default: ok = false;
    }
  }
};

Reader readerOf(std::string_view s) {
  auto* b = reinterpret_cast<const uint8_t*>(s.data());
  return Reader{b, b + s.size()};
}

// Calls onLabel(name, value) and onSample(ts, value) for one TimeSeries.
template <typename OnLabel, typename OnSample>
bool decodeSeries(std::string_view body, OnLabel onLabel, OnSample onSample) {
  Reader r = readerOf(body);
  while (r.ok && !r.done()) {
    const uint64_t tag = r.varint();
    if (!r.ok) break;
    const uint32_t field = static_cast<uint32_t>(tag >> 3), wt = static_cast<uint32_t>(tag & 7);
    if (field == 1 && wt == 2) {
      Reader lr = readerOf(r.bytes());
      std::string_view name, value;
      while (r.ok && lr.ok && !lr.done()) {
        const uint64_t lt = lr.varint();
        if (!lr.ok) break;
        if ((lt >> 3) == 1 && (lt & 7) == 2) name = lr.bytes();
        else if ((lt >> 3) == 2 && (lt & 7) == 2) value = lr.bytes();
        else lr.skip(static_cast<uint32_t>(lt & 7));
      }
      if (!lr.ok) return false;
      onLabel(name, value);
    } else if (field == 2 && wt == 2) {
      Reader sr = readerOf(r.bytes());
      int64_t ts = 0;
      double v = 0;
      while (r.ok && sr.ok && !sr.done()) {
        const uint64_t st = sr.varint();
        if (!sr.ok) break;
        if ((st >> 3) == 1 && (st & 7) == 1) {
          const uint64_t bits = sr.fixed64();
          std::memcpy(&v, &bits, 8);
        } else if ((st >> 3) == 2 && (st & 7) == 0) {
          ts = static_cast<int64_t>(sr.varint());
        } else {
          sr.skip(static_cast<uint32_t>(st & 7));
        }
      }
      if (!sr.ok) return false;
      onSample(ts, v);
    } else {
      r.skip(wt);
    }
  }
  return r.ok;
}

template <typename OnSeries>
bool decodeRequest(std::string_view body, OnSeries onSeries) {
  Reader r = readerOf(body);
  while (r.ok && !r.done()) {
    const uint64_t tag = r.varint();
    if (!r.ok) break;
    if ((tag >> 3) == 1 && (tag & 7) == 2) {
      const std::string_view s = r.bytes();
      if (!r.ok || !onSeries(s)) return false;
    } else {
      r.skip(static_cast<uint32_t>(tag & 7));
    }
  }
  return r.ok;
}

}  // namespace

Result<std::vector<DecodedSeries>> decodeWriteRequest(std::string_view body) {
  std::vector<DecodedSeries> out;
  const bool ok = decodeRequest(body, [&](std::string_view s) {
    DecodedSeries ds;
    const bool sok = decodeSeries(
        s, [&](std::string_view n, std::string_view v) { ds.labels.push_back(Label{std::string(n), std::string(v)}); },
        [&](int64_t ts, double v) { ds.samples.emplace_back(ts, v); });
    out.push_back(std::move(ds));
    return sok;
  });
  if (!ok) return makeError(Errc::kInvalidInput, "protobuf: malformed WriteRequest");
  return out;
}

Result<WriteRequestCounts> countWriteRequest(std::string_view body) {
  WriteRequestCounts c;
  const bool ok = decodeRequest(body, [&](std::string_view s) {
    ++c.series;
    return decodeSeries(s, [](std::string_view, std::string_view) {}, [&](int64_t, double) { ++c.samples; });
  });
  if (!ok) return makeError(Errc::kInvalidInput, "protobuf: malformed WriteRequest");
  return c;
}

}  // namespace shoal::metrics
