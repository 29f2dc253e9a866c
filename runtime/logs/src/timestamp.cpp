// Timestamp parsing and formatting for log documents. Pure functions.
#include "shoal/logs/timestamp.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace shoal::logs {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

std::optional<int64_t> daysFromCivil(int y, int m, int d) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd}.time_since_epoch().count();
}

std::optional<EpochNanos> compose(int y, int mo, int d, int h, int mi, int sec, int64_t frac,
                                  int64_t offsetSeconds) {
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  auto days = daysFromCivil(y, mo, d);
  if (!days) return std::nullopt;
  int64_t secs = *days * 86400 + h * 3600 + mi * 60 + sec - offsetSeconds;
  // Guard the int64 nanosecond range (years ~1678..2261).
  if (secs < -9'000'000'000LL || secs > 9'000'000'000LL) return std::nullopt;
  return secs * kNanosPerSecond + frac;
}

// Parses ".123456789" at pos; returns nanoseconds and advances pos.
int64_t fraction(std::string_view s, size_t& pos) {
  int64_t frac = 0;
  int n = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
    if (n < 9) {
      frac = frac * 10 + (s[pos] - '0');
      ++n;
    }
    ++pos;
  }
  for (; n < 9; ++n) frac *= 10;
  return frac;
}

int monthFromName(std::string_view s) {
  static const char* kNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (s.size() != 3) return 0;
  for (int i = 0; i < 12; ++i) {
    bool eq = true;
    for (int j = 0; j < 3; ++j) {
      char c = s[j];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != kNames[i][j]) eq = false;
    }
    if (eq) return i + 1;
  }
  return 0;
}

}  // namespace

std::optional<EpochNanos> parseIso8601(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return std::nullopt;
  size_t pos = 10;
  int64_t frac = 0, offset = 0;
  if (pos < s.size()) {
    char sep = s[pos];
    if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
    ++pos;
    if (!digits(s, pos, 2, h) || pos + 2 >= s.size() || s[pos + 2] != ':' ||
        !digits(s, pos + 3, 2, mi))
      return std::nullopt;
    pos += 5;
    if (pos < s.size() && s[pos] == ':') {
      if (!digits(s, pos + 1, 2, sec)) return std::nullopt;
      pos += 3;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        size_t start = pos;
        frac = fraction(s, pos);
        if (pos == start) return std::nullopt;
      }
    }
    if (pos < s.size()) {
      char z = s[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        int oh, om = 0;
        if (!digits(s, pos + 1, 2, oh)) return std::nullopt;
        pos += 3;
        if (pos < s.size() && s[pos] == ':') {
          if (!digits(s, pos + 1, 2, om)) return std::nullopt;
          pos += 3;
        } else if (pos < s.size()) {
          if (!digits(s, pos, 2, om)) return std::nullopt;
          pos += 2;
        }
        if (oh > 23 || om > 59) return std::nullopt;
        offset = (oh * 3600 + om * 60) * (z == '-' ? -1 : 1);
      }
    }
    if (pos != s.size()) return std::nullopt;
  }
  return compose(y, mo, d, h, mi, sec, frac, offset);
}

std::optional<EpochNanos> fromEpochInteger(int64_t v) {
  const int64_t a = v < 0 ? -v : v;
  if (a < 100'000'000'000LL) return v * kNanosPerSecond;  // seconds
  if (a < 100'000'000'000'000LL) return v * 1'000'000;     // milliseconds
  if (a < 100'000'000'000'000'000LL) return v * 1'000;     // microseconds
  return v;                                                 // nanoseconds
}

std::optional<EpochNanos> fromEpochNumber(double v) {
  if (!std::isfinite(v) || std::fabs(v) > 9.2e18) return std::nullopt;
  // Whole and fractional parts apart: a double cannot hold nanoseconds of
  // today's epoch exactly.
  const double whole = std::trunc(v);
  const double frac = v - whole;
  auto base = fromEpochInteger(static_cast<int64_t>(whole));
  if (!base) return std::nullopt;
  const double a = std::fabs(whole);
  const double unit = a < 1e11 ? 1e9 : a < 1e14 ? 1e6 : a < 1e17 ? 1e3 : 1;
  return *base + static_cast<EpochNanos>(std::llround(frac * unit));
}

std::optional<EpochNanos> parseTimestampText(std::string_view s) {
  if (auto t = parseIso8601(s)) return t;
  // A decimal epoch: digits with an optional fraction (and sign).
  if (s.empty() || s.size() > 32) return std::nullopt;
  size_t i = (s[0] == '-') ? 1 : 0;
  bool dot = false, any = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') any = true;
    else if (s[i] == '.' && !dot) dot = true;
    else return std::nullopt;
  }
  if (!any) return std::nullopt;
  // Integer part and fraction digits separately (no double rounding).
  const size_t dotPos = s.find('.');
  std::string_view intPart = s.substr(0, dotPos);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(intPart.data(), intPart.data() + intPart.size(), v);
  if (ec != std::errc() || p != intPart.data() + intPart.size()) return std::nullopt;
  auto base = fromEpochInteger(v);
  if (!base || !dot) return base;
  const int64_t a = v < 0 ? -v : v;
  const int64_t unit = a < 100'000'000'000LL ? 1'000'000'000 : a < 100'000'000'000'000LL ? 1'000'000
                       : a < 100'000'000'000'000'000LL ? 1'000 : 1;
  size_t pos = dotPos + 1;
  int64_t frac = fraction(s, pos);  // nanoseconds of one unit... scaled below
  // fraction() gives 9-digit precision of "0.xxx"; rescale to the unit.
  frac = frac / (1'000'000'000 / unit);
  return v < 0 ? *base - frac : *base + frac;
}

std::optional<EpochNanos> parseBsdTimestamp(std::string_view s, EpochNanos reference,
                                            size_t& consumed) {
  // "Mmm dd hh:mm:ss" / "Mmm  d hh:mm:ss" [/ "Mmm dd yyyy hh:mm:ss"]
  if (s.size() < 14 || s[3] != ' ') return std::nullopt;
  int mo = monthFromName(s.substr(0, 3));
  if (!mo) return std::nullopt;
  size_t pos = 4;
  int d;
  if (s[pos] == ' ') {
    if (!digits(s, pos + 1, 1, d)) return std::nullopt;
  } else if (!digits(s, pos, 2, d)) {
    if (!digits(s, pos, 1, d) || s[pos + 1] != ' ') return std::nullopt;
    pos -= 1;  // single-digit day without padding
  }
  pos += 2;
  if (pos >= s.size() || s[pos] != ' ') return std::nullopt;
  ++pos;
  int y = 0;
  bool haveYear = false;
  if (pos + 5 <= s.size() && digits(s, pos, 4, y) && s[pos + 4] == ' ') {
    haveYear = true;
    pos += 5;
  }
  int h, mi, sec;
  if (!digits(s, pos, 2, h) || pos + 8 > s.size() || s[pos + 2] != ':' ||
      !digits(s, pos + 3, 2, mi) || s[pos + 5] != ':' || !digits(s, pos + 6, 2, sec))
    return std::nullopt;
  pos += 8;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    frac = fraction(s, pos);
  }
  consumed = pos;
  if (haveYear) return compose(y, mo, d, h, mi, sec, frac, 0);
  // RFC 3164 has no year. The year is the latest that does not put the
  // timestamp more than kBsdFutureSlack after the reference: a log comes from
  // the past (delayed, replayed), rarely from the future, so "Dec 31" seen on
  // Dec 2 is last year's and "Jan 1" seen on Dec 31 next year's. The slack
  // covers the zone the device wrote its local time in (up to +14 h) and
  // clock skew. Feb 29 goes back to the latest leap year.
  const int refYear = toCivil(reference).year;
  for (int y = refYear + 1; y >= refYear - 8; --y) {
    auto t = compose(y, mo, d, h, mi, sec, frac, 0);
    if (t && *t <= reference + kBsdFutureSlack) return t;
  }
  return std::nullopt;
}

CivilTime toCivil(EpochNanos t) {
  using namespace std::chrono;
  int64_t secs = t / kNanosPerSecond;
  if (t % kNanosPerSecond < 0) --secs;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  return CivilTime{static_cast<int>(ymd.year()), static_cast<int>(unsigned(ymd.month())),
                   static_cast<int>(unsigned(ymd.day())), static_cast<int>(rem / 3600),
                   static_cast<int>((rem % 3600) / 60), static_cast<int>(rem % 60)};
}

void appendTimestamp(std::string& out, EpochNanos t) {
  // Hand-rolled: this runs twice per document (@timestamp, event.ingested).
  CivilTime c = toCivil(t);
  int64_t frac = t % kNanosPerSecond;
  if (frac < 0) frac += kNanosPerSecond;
  char buf[40];
  auto put = [&](int pos, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[pos + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, c.year < 0 ? 0 : c.year, 4);
  buf[4] = '-';
  put(5, c.month, 2);
  buf[7] = '-';
  put(8, c.day, 2);
  buf[10] = 'T';
  put(11, c.hour, 2);
  buf[13] = ':';
  put(14, c.minute, 2);
  buf[16] = ':';
  put(17, c.second, 2);
  buf[19] = '.';
  int len;
  if (frac % 1'000'000 == 0) {
    put(20, frac / 1'000'000, 3);
    len = 23;
  } else if (frac % 1'000 == 0) {
    put(20, frac / 1'000, 6);
    len = 26;
  } else {
    put(20, frac, 9);
    len = 29;
  }
  buf[len++] = 'Z';
  out.append(buf, static_cast<size_t>(len));
}

std::string formatTimestamp(EpochNanos t) {
  std::string s;
  appendTimestamp(s, t);
  return s;
}

}  // namespace shoal::logs
