// Parsing and validation of metric events (simdjson DOM, error codes only,
// no exceptions), and their expansion into samples.
#include "shoal/metrics/metric_event.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "shoal/common/json_numbers.h"

namespace shoal::metrics {

std::string_view metricTypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kSummary: return "summary";
  }
  return "unknown";
}

bool validMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool validLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::string formatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void setLabel(LabelSet& labels, std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels.end() && it->name == name) {
    it->value = std::string(value);
  } else {
    labels.insert(it, Label{std::string(name), std::string(value)});
  }
}

uint64_t hashLabels(const LabelSet& labels) {
  // FNV-1a over name\xff value\xff ...: stable across processes and runs.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  for (auto& l : labels) {
    mix(l.name);
    mix(l.value);
  }
  return h;
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil algorithm).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

constexpr int64_t kMaxTimestampMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

Result<int64_t> parseIso8601(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec)) {
    return makeError(Errc::kInvalidInput, "timestamp: not ISO 8601 (YYYY-MM-DDTHH:MM:SS[.fff]Z)");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return makeError(Errc::kInvalidInput, "timestamp: date or time out of range");
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap)) {
    return makeError(Errc::kInvalidInput, "timestamp: no such day");
  }
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 3) ms = ms * 10 + (s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return makeError(Errc::kInvalidInput, "timestamp: empty fraction");
    for (int i = n; i < 3; ++i) ms *= 10;
  }
  int64_t offsetMin = 0;
  if (pos >= s.size()) return makeError(Errc::kInvalidInput, "timestamp: zone missing (Z or +hh:mm)");
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '-' ? -1 : 1;
    int oh, om;
    if (!digits(s, pos + 1, 2, oh)) return makeError(Errc::kInvalidInput, "timestamp: bad zone offset");
    size_t p = pos + 3;
    if (p < s.size() && s[p] == ':') ++p;
    if (!digits(s, p, 2, om) || oh > 23 || om > 59)
      return makeError(Errc::kInvalidInput, "timestamp: bad zone offset");
    offsetMin = sign * (oh * 60 + om);
    pos = p + 2;
  } else {
    return makeError(Errc::kInvalidInput, "timestamp: zone missing (Z or +hh:mm)");
  }
  if (pos != s.size()) return makeError(Errc::kInvalidInput, "timestamp: trailing characters");
  const int64_t days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + std::min(sec, 59) - offsetMin * 60;
  const int64_t out = secs * 1000 + ms;
  if (out < 0 || out > kMaxTimestampMs)
    return makeError(Errc::kInvalidInput, "timestamp: outside 1970..9999");
  return out;
}

Result<int64_t> epochToMs(double v) {
  if (!std::isfinite(v) || v < 0) return makeError(Errc::kInvalidInput, "timestamp: must be a non-negative epoch");
  // Below 1e11 it can only be seconds (1e11 s is year 5138; 1e11 ms is 1973).
  const double ms = v < 1e11 ? v * 1000.0 : v;
  if (ms > static_cast<double>(kMaxTimestampMs))
    return makeError(Errc::kInvalidInput, "timestamp: outside 1970..9999");
  return static_cast<int64_t>(std::llround(ms));
}

}  // namespace

Result<int64_t> parseTimestamp(std::string_view s) {
  if (s.empty()) return makeError(Errc::kInvalidInput, "timestamp: empty");
  if (s.size() >= 10 && s[4] == '-') return parseIso8601(s);
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (isOutOfRangeNumber(s))
    return makeError(Errc::kInvalidInput, "timestamp: " + outOfRangeReason(s));
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    return makeError(Errc::kInvalidInput, "timestamp: not ISO 8601 nor an epoch number");
  return epochToMs(v);
}

// --------------------------------------------------------------- parser
struct MetricEventParser::Impl {
  simdjson::dom::parser outer;
  simdjson::dom::parser inner;  // for labels given as a JSON string
};

MetricEventParser::MetricEventParser(EventLimits limits) : impl_(new Impl), limits_(limits) {}
MetricEventParser::~MetricEventParser() { delete impl_; }

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

Error invalid(std::string msg) { return makeError(Errc::kInvalidInput, std::move(msg)); }

// A number, or one of the strings "NaN", "+Inf", "Inf", "-Inf" (JSON has no
// literal for them), or a numeric string.
bool readNumber(const element& e, double& out) {
  switch (e.type()) {
    case element_type::DOUBLE: return !e.get_double().get(out);
    case element_type::INT64: {
      int64_t i = 0;
      if (e.get_int64().get(i)) return false;
      out = static_cast<double>(i);
      return true;
    }
    case element_type::UINT64: {
      uint64_t u = 0;
      if (e.get_uint64().get(u)) return false;
      out = static_cast<double>(u);
      return true;
    }
    case element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s)) return false;
      if (s == "NaN" || s == "nan") { out = std::numeric_limits<double>::quiet_NaN(); return true; }
      if (s == "+Inf" || s == "Inf" || s == "inf" || s == "+inf") { out = std::numeric_limits<double>::infinity(); return true; }
      if (s == "-Inf" || s == "-inf") { out = -std::numeric_limits<double>::infinity(); return true; }
      auto r = std::from_chars(s.data(), s.data() + s.size(), out);
      return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
    }
    default: return false;
  }
}

// The reason for a field readNumber() refused: a numeric string beyond the
// double range says so, as a JSON number does (see outOfRangeNumber).
std::string notANumber(const element& e, std::string_view field, std::string_view otherwise) {
  std::string_view s;
  if (e.type() == element_type::STRING && !e.get_string().get(s) && isOutOfRangeNumber(s))
    return std::string(field) + ": " + outOfRangeReason(s);
  return std::string(field) + ": " + std::string(otherwise);
}

std::string quoteForReason(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out += (c == '"' || static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (s.size() > 64) out += "...";
  return out + "\"";
}

}  // namespace

Result<MetricEvent> MetricEventParser::parse(std::string_view json, WallTime now) {
  element doc;
  if (auto err = impl_->outer.parse(json.data(), json.size()).get(doc)) {
    // simdjson calls a number beyond the double range a structural error;
    // name the field and the number instead ("value: number 1e400 is out of range").
    if (auto number = outOfRangeNumber(json)) return invalid(*number);
    return invalid(std::string("parse: invalid JSON (") + simdjson::error_message(err) + ")");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return invalid("parse: event is not a JSON object");

  MetricEvent ev;
  bool haveName = false, haveType = false, haveValue = false, haveSum = false, haveCount = false;
  bool haveTs = false;
  element labelsEl, bucketsEl, quantilesEl;
  bool haveLabels = false, haveBuckets = false, haveQuantiles = false;

  for (auto field : obj) {
    const std::string_view key = field.key;
    const element& v = field.value;
    if (key == "name") {
      std::string_view s;
      if (v.get_string().get(s)) return invalid("name: must be a string");
      ev.name = std::string(s);
      haveName = true;
    } else if (key == "type") {
      std::string_view s;
      if (v.get_string().get(s)) return invalid("type: must be a string");
      if (s == "counter") ev.type = MetricType::kCounter;
      else if (s == "gauge") ev.type = MetricType::kGauge;
      else if (s == "histogram") ev.type = MetricType::kHistogram;
      else if (s == "summary") ev.type = MetricType::kSummary;
      else return invalid("type: " + quoteForReason(s) + " is not counter, gauge, histogram or summary");
      haveType = true;
    } else if (key == "value") {
      if (!readNumber(v, ev.value)) return invalid(notANumber(v, "value", "not a number"));
      haveValue = true;
    } else if (key == "sum") {
      if (!readNumber(v, ev.sum)) return invalid(notANumber(v, "sum", "not a number"));
      haveSum = true;
    } else if (key == "count") {
      if (!readNumber(v, ev.count)) return invalid(notANumber(v, "count", "not a number"));
      haveCount = true;
    } else if (key == "labels") {
      labelsEl = v;
      haveLabels = true;
    } else if (key == "buckets") {
      bucketsEl = v;
      haveBuckets = true;
    } else if (key == "quantiles") {
      quantilesEl = v;
      haveQuantiles = true;
    } else if (key == "timestamp") {
      if (v.type() == element_type::STRING) {
        std::string_view s;
        if (v.get_string().get(s)) return invalid("internal: string expected");
        auto ts = parseTimestamp(s);
        if (!ts) return ts.error();
        ev.timestampMs = *ts;
      } else if (v.type() == element_type::NULL_VALUE) {
        continue;
      } else {
        double d = 0;
        if (!readNumber(v, d)) return invalid(notANumber(v, "timestamp", "not a string or number"));
        auto ts = epochToMs(d);
        if (!ts) return ts.error();
        ev.timestampMs = *ts;
      }
      haveTs = true;
    }
    // Unknown fields are ignored: producers may carry extra context.
  }

  if (!haveName) return invalid("name: required");
  if (!validMetricName(ev.name)) return invalid("name: " + quoteForReason(ev.name) + " is not a valid metric name");
  if (!haveType) return invalid("type: required");
  if (!haveTs) {
    ev.timestampMs = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  }

  // Labels: an object, or a string holding one.
  if (haveLabels && labelsEl.type() != element_type::NULL_VALUE) {
    simdjson::dom::object lobj;
    if (labelsEl.type() == element_type::STRING) {
      std::string_view s;
      if (labelsEl.get_string().get(s)) return invalid("internal: string expected");
      element inner;
      if (auto err = impl_->inner.parse(s.data(), s.size()).get(inner)) {
        if (auto number = outOfRangeNumber(s)) return invalid("labels: " + *number);
        return invalid(std::string("labels: string is not valid JSON (") + simdjson::error_message(err) + ")");
      }
      if (inner.get_object().get(lobj)) return invalid("labels: string does not hold a JSON object");
    } else if (labelsEl.get_object().get(lobj)) {
      return invalid("labels: must be an object or a string holding one");
    }
    for (auto lf : lobj) {
      const std::string_view name = lf.key;
      if (!validLabelName(name)) return invalid("labels: name " + quoteForReason(name) + " is not a valid label name");
      if (name.size() >= 2 && name[0] == '_' && name[1] == '_')
        return invalid("labels: name " + quoteForReason(name) + " is reserved (starts with __)");
      if (ev.type == MetricType::kHistogram && name == "le")
        return invalid("labels: \"le\" is reserved on histograms");
      if (ev.type == MetricType::kSummary && name == "quantile")
        return invalid("labels: \"quantile\" is reserved on summaries");
      std::string value;
      switch (lf.value.type()) {
        case element_type::STRING: {
          std::string_view s;
          if (lf.value.get_string().get(s)) return invalid("internal: string expected");
          value = std::string(s);
          break;
        }
        case element_type::INT64:
        case element_type::UINT64:
        case element_type::DOUBLE:
        case element_type::BOOL:
          value = simdjson::minify(lf.value);
          break;
        default:
          return invalid("labels: value of " + quoteForReason(name) + " must be a string, number or boolean");
      }
      if (value.size() > limits_.maxLabelValueBytes)
        return invalid("labels: value of " + quoteForReason(name) + " is longer than " +
                       std::to_string(limits_.maxLabelValueBytes) + " bytes");
      if (value.empty()) continue;  // empty value == label absent
      auto it = std::lower_bound(ev.labels.begin(), ev.labels.end(), name,
                                 [](const Label& l, std::string_view n) { return l.name < n; });
      if (it != ev.labels.end() && it->name == name) return invalid("labels: duplicate name " + quoteForReason(name));
      ev.labels.insert(it, Label{std::string(name), std::move(value)});
      if (ev.labels.size() > limits_.maxLabels)
        return invalid("labels: more than " + std::to_string(limits_.maxLabels) + " labels");
    }
  }

  switch (ev.type) {
    case MetricType::kCounter:
      if (!haveValue) return invalid("value: required for a counter");
      if (std::isnan(ev.value) || std::isinf(ev.value) || ev.value < 0)
        return invalid("value: a counter must be finite and >= 0");
      break;
    case MetricType::kGauge:
      if (!haveValue) return invalid("value: required for a gauge");
      break;
    case MetricType::kHistogram:
    case MetricType::kSummary: {
      const bool hist = ev.type == MetricType::kHistogram;
      if (!haveSum) return invalid("sum: required");
      if (!haveCount) return invalid("count: required");
      if (!std::isfinite(ev.sum)) return invalid("sum: must be finite");
      if (!std::isfinite(ev.count) || ev.count < 0) return invalid("count: must be finite and >= 0");
      const element& el = hist ? bucketsEl : quantilesEl;
      const char* what = hist ? "buckets" : "quantiles";
      if (!(hist ? haveBuckets : haveQuantiles)) return invalid(std::string(what) + ": required");
      simdjson::dom::object bobj;
      if (el.get_object().get(bobj)) return invalid(std::string(what) + ": must be an object");
      auto& out = hist ? ev.buckets : ev.quantiles;
      for (auto bf : bobj) {
        double key = 0, val = 0;
        const std::string_view ks = bf.key;
        if (ks == "+Inf" || ks == "Inf" || ks == "inf" || ks == "+inf") {
          key = std::numeric_limits<double>::infinity();
        } else {
          auto r = std::from_chars(ks.data(), ks.data() + ks.size(), key);
          if (ks.empty() || r.ec != std::errc() || r.ptr != ks.data() + ks.size() || std::isnan(key))
            return invalid(std::string(what) + ": key " + quoteForReason(ks) + " is not a number");
        }
        if (!readNumber(bf.value, val)) return invalid(std::string(what) + ": value of " + quoteForReason(ks) + " is not a number");
        if (hist) {
          if (!std::isfinite(val) || val < 0) return invalid("buckets: count of " + quoteForReason(ks) + " must be finite and >= 0");
        } else {
          if (key < 0 || key > 1) return invalid("quantiles: key " + quoteForReason(ks) + " is not in [0, 1]");
          if (std::isinf(val)) return invalid("quantiles: value of " + quoteForReason(ks) + " must be finite or NaN");
        }
        out.emplace_back(key, val);
        if (out.size() > limits_.maxBuckets)
          return invalid(std::string(what) + ": more than " + std::to_string(limits_.maxBuckets));
      }
      std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.first < b.first; });
      for (size_t i = 1; i < out.size(); ++i)
        if (out[i].first == out[i - 1].first) return invalid(std::string(what) + ": duplicate key " + formatFloat(out[i].first));
      if (hist) {
        for (size_t i = 1; i < out.size(); ++i)
          if (out[i].second < out[i - 1].second)
            return invalid("buckets: counts must be cumulative (non-decreasing in le)");
        if (!out.empty() && std::isinf(out.back().first) && out.back().first > 0) {
          if (out.back().second != ev.count) return invalid("buckets: +Inf bucket must equal count");
        } else {
          if (!out.empty() && out.back().second > ev.count) return invalid("buckets: a bucket exceeds count");
          out.emplace_back(std::numeric_limits<double>::infinity(), ev.count);
        }
      }
      break;
    }
  }
  return ev;
}

// ------------------------------------------------------------ expansion
namespace {
Sample makeSample(const MetricEvent& e, std::string_view name, double v) {
  Sample s;
  s.labels.reserve(e.labels.size() + 2);
  s.labels = e.labels;
  setLabel(s.labels, "__name__", name);
  s.value = v;
  s.timestampMs = e.timestampMs;
  return s;
}
}  // namespace

void expandSamples(const MetricEvent& e, std::vector<Sample>& out) {
  switch (e.type) {
    case MetricType::kCounter:
    case MetricType::kGauge:
      out.push_back(makeSample(e, e.name, e.value));
      return;
    case MetricType::kHistogram: {
      const std::string bucket = e.name + "_bucket";
      for (auto& [le, c] : e.buckets) {
        Sample s = makeSample(e, bucket, c);
        setLabel(s.labels, "le", formatFloat(le));
        out.push_back(std::move(s));
      }
      break;
    }
    case MetricType::kSummary:
      for (auto& [q, v] : e.quantiles) {
        Sample s = makeSample(e, e.name, v);
        setLabel(s.labels, "quantile", formatFloat(q));
        out.push_back(std::move(s));
      }
      break;
  }
  out.push_back(makeSample(e, e.name + "_sum", e.sum));
  out.push_back(makeSample(e, e.name + "_count", e.count));
}

}  // namespace shoal::metrics
