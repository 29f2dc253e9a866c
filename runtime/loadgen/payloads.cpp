// Synthetic log lines and metric events for shoal-loadgen.
#include "shoal/loadgen/payloads.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

namespace shoal::loadgen {
namespace {
constexpr std::array<const char*, 4> kServices = {"checkout", "payments", "search", "auth"};
constexpr std::array<const char*, 4> kLevels = {"info", "info", "warn", "error"};
constexpr std::array<const char*, 4> kHosts = {"node-a", "node-b", "node-c", "node-d"};

std::string iso(int64_t epochMs) {
  std::time_t t = epochMs / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(epochMs % 1000));
  return buf;
}

std::string bsdTime(int64_t epochMs) {
  static constexpr std::array<const char*, 12> kMon = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = epochMs / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d", kMon[static_cast<size_t>(tm.tm_mon)],
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}
}  // namespace

bool parsePayloadKind(const std::string& s, PayloadKind& out) {
  if (s == "json") out = PayloadKind::kJsonLog;
  else if (s == "rfc5424") out = PayloadKind::kRfc5424;
  else if (s == "rfc3164") out = PayloadKind::kRfc3164;
  else if (s == "mixed") out = PayloadKind::kMixedLog;
  else if (s == "metrics") out = PayloadKind::kMetric;
  else return false;
  return true;
}

PayloadGenerator::PayloadGenerator(PayloadKind kind, size_t targetBytes, uint64_t seed)
    : kind_(kind), targetBytes_(targetBytes), rng_(seed) {}

std::string PayloadGenerator::filler(size_t have) {
  if (have >= targetBytes_) return {};
  static constexpr char kWords[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do ";
  std::string f;
  size_t need = targetBytes_ - have;
  while (f.size() < need) f += kWords;
  f.resize(need);
  return f;
}

std::string PayloadGenerator::next(uint64_t n, int64_t epochMs) {
  switch (kind_) {
    case PayloadKind::kJsonLog: return jsonLog(n, epochMs);
    case PayloadKind::kRfc5424: return rfc5424(n, epochMs);
    case PayloadKind::kRfc3164: return rfc3164(n, epochMs);
    case PayloadKind::kMixedLog:
      switch (n % 3) {
        case 0: return jsonLog(n, epochMs);
        case 1: return rfc5424(n, epochMs);
        default: return rfc3164(n, epochMs);
      }
    case PayloadKind::kMetric: return metric(n, epochMs);
  }
  return {};
}

std::string PayloadGenerator::jsonLog(uint64_t n, int64_t epochMs) {
  const auto r = rng_();
  char head[512];
  int len = std::snprintf(
      head, sizeof head,
      "{\"@timestamp\":\"%s\",\"level\":\"%s\",\"service\":\"%s\",\"host\":\"%s\","
      "\"trace_id\":\"%016llx%016llx\",\"span_id\":\"%016llx\",\"seq\":%llu,\"message\":\"request %llu handled ",
      iso(epochMs).c_str(), kLevels[r % kLevels.size()], kServices[(r >> 8) % kServices.size()],
      kHosts[(r >> 16) % kHosts.size()], static_cast<unsigned long long>(r),
      static_cast<unsigned long long>(~r), static_cast<unsigned long long>(r >> 3),
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(n));
  std::string s(head, static_cast<size_t>(len));
  s += filler(s.size() + 2);
  s += "\"}";
  return s;
}

std::string PayloadGenerator::rfc5424(uint64_t n, int64_t epochMs) {
  const auto r = rng_();
  const int sev = static_cast<int>(r % 8);
  char head[256];
  int len = std::snprintf(head, sizeof head, "<%d>1 %s %s %s %llu - [shoal@32473 seq=\"%llu\"] request %llu ",
                          16 * 8 + sev, iso(epochMs).c_str(), kHosts[(r >> 16) % kHosts.size()],
                          kServices[(r >> 8) % kServices.size()],
                          static_cast<unsigned long long>(1000 + r % 9000),
                          static_cast<unsigned long long>(n), static_cast<unsigned long long>(n));
  std::string s(head, static_cast<size_t>(len));
  s += filler(s.size());
  return s;
}

std::string PayloadGenerator::rfc3164(uint64_t n, int64_t epochMs) {
  const auto r = rng_();
  const int sev = static_cast<int>(r % 8);
  char head[256];
  int len = std::snprintf(head, sizeof head, "<%d>%s %s %s[%llu]: seq=%llu request ", 3 * 8 + sev,
                          bsdTime(epochMs).c_str(), kHosts[(r >> 16) % kHosts.size()],
                          kServices[(r >> 8) % kServices.size()],
                          static_cast<unsigned long long>(1000 + r % 9000),
                          static_cast<unsigned long long>(n));
  std::string s(head, static_cast<size_t>(len));
  s += filler(s.size());
  return s;
}

int64_t PayloadGenerator::seriesTime(const std::string& series, int64_t epochMs) {
  auto& last = lastTs_[series];
  last = std::max(epochMs, last + 1);
  return last;
}

std::string PayloadGenerator::metric(uint64_t n, int64_t epochMs) {
  const auto r = rng_();
  char buf[640];
  int len;
  // 4 types x 4 services x 64 instances: enough series that per-series
  // timestamps (each one millisecond after the last) stay close to now.
  const char* service = kServices[r % kServices.size()];
  const std::string instance = "i-" + std::to_string((n / 4) % 64);
  epochMs = seriesTime(std::to_string(n % 4) + service + instance, epochMs);
  switch (n % 4) {
    case 0:
      len = std::snprintf(buf, sizeof buf,
                          "{\"name\":\"http_requests_total\",\"type\":\"counter\",\"value\":%llu,"
                          "\"labels\":{\"service\":\"%s\",\"instance\":\"%s\",\"code\":\"200\"},\"timestamp\":%lld}",
                          static_cast<unsigned long long>(n), service, instance.c_str(),
                          static_cast<long long>(epochMs));
      break;
    case 1:
      len = std::snprintf(buf, sizeof buf,
                          "{\"name\":\"queue_depth\",\"type\":\"gauge\",\"value\":%.2f,"
                          "\"labels\":{\"service\":\"%s\",\"instance\":\"%s\"},\"timestamp\":%lld}",
                          static_cast<double>(r % 10000) / 10.0, service, instance.c_str(),
                          static_cast<long long>(epochMs));
      break;
    case 2:
      len = std::snprintf(
          buf, sizeof buf,
          "{\"name\":\"request_seconds\",\"type\":\"histogram\",\"buckets\":{\"0.1\":%d,\"0.5\":%d,"
          "\"1\":%d},\"sum\":%.3f,\"count\":%d,\"labels\":{\"service\":\"%s\",\"instance\":\"%s\"},\"timestamp\":%lld}",
          static_cast<int>(r % 5), static_cast<int>(r % 5 + 3), static_cast<int>(r % 5 + 6),
          static_cast<double>(r % 1000) / 100.0, static_cast<int>(r % 5 + 7),
          service, instance.c_str(), static_cast<long long>(epochMs));
      break;
    default:
      len = std::snprintf(
          buf, sizeof buf,
          "{\"name\":\"payload_bytes\",\"type\":\"summary\",\"quantiles\":{\"0.5\":%d,\"0.99\":%d},"
          "\"sum\":%d,\"count\":%d,\"labels\":{\"service\":\"%s\",\"instance\":\"%s\"},\"timestamp\":%lld}",
          static_cast<int>(r % 500), static_cast<int>(r % 500 + 500), static_cast<int>(r % 9000),
          static_cast<int>(r % 30 + 1), service, instance.c_str(),
          static_cast<long long>(epochMs));
  }
  return std::string(buf, static_cast<size_t>(len));
}

std::string PayloadGenerator::malformed(uint64_t n) {
  if (kind_ == PayloadKind::kMetric) return "{\"name\":\"bad metric name!\",\"type\":\"gauge\",\"value\":1}";
  return "{\"message\": \"truncated json " + std::to_string(n);
}

}  // namespace shoal::loadgen
