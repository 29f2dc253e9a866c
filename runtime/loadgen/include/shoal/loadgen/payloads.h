// Synthetic payloads for load generation: JSON logs, RFC 5424 and RFC 3164
// syslog lines, and JSON metric events, deterministic for a seed. Pure code.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>

namespace shoal::loadgen {

enum class PayloadKind { kJsonLog, kRfc5424, kRfc3164, kMixedLog, kMetric };

/// Parses "json", "rfc5424", "rfc3164", "mixed", "metrics"; false if unknown.
bool parsePayloadKind(const std::string& s, PayloadKind& out);

/// \brief Generates payloads of roughly `targetBytes`. Not thread-safe.
class PayloadGenerator {
 public:
  PayloadGenerator(PayloadKind kind, size_t targetBytes, uint64_t seed);
  /// The n-th payload (n is embedded so every entry is distinguishable).
  std::string next(uint64_t n, int64_t epochMs);
  /// A deliberately malformed payload of the same kind (for dead-letter demos).
  std::string malformed(uint64_t n);

 private:
  std::string jsonLog(uint64_t n, int64_t epochMs);
  std::string rfc5424(uint64_t n, int64_t epochMs);
  std::string rfc3164(uint64_t n, int64_t epochMs);
  std::string metric(uint64_t n, int64_t epochMs);
  std::string filler(size_t have);

  /// A timestamp for a series that is never earlier than, nor equal to, the
  /// last one given to it: Prometheus rejects out-of-order and same-time
  /// samples of one series.
  int64_t seriesTime(const std::string& series, int64_t epochMs);

  PayloadKind kind_;
  std::unordered_map<std::string, int64_t> lastTs_;
  size_t targetBytes_;
  std::mt19937_64 rng_;
};

}  // namespace shoal::loadgen
