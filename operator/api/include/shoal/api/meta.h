// Kubernetes object metadata and status conditions as plain values, with
// lenient JSON conversion: everything here comes from the API server or a user
// file, so malformed fields become defaults or errors, never exceptions.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/result.h"

namespace shoal::api {

inline constexpr const char* kGroup = "shoal.dev";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "shoal.dev/v1alpha1";

struct OwnerReference {
  std::string apiVersion;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool blockOwnerDeletion = false;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resourceVersion;
  int64_t generation = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> finalizers;
  std::vector<OwnerReference> ownerReferences;
  std::optional<std::string> deletionTimestamp;
  std::string creationTimestamp;
};

/// One status condition per KEP-1623.
struct Condition {
  std::string type;
  std::string status = "Unknown";  // "True", "False" or "Unknown"
  int64_t observedGeneration = 0;
  std::string lastTransitionTime;  // RFC 3339, UTC
  std::string reason;              // CamelCase
  std::string message;             // for humans
  bool operator==(const Condition&) const = default;
};

inline constexpr const char* kTrue = "True";
inline constexpr const char* kFalse = "False";
inline constexpr const char* kUnknown = "Unknown";

/// Reference to a key of a Secret in the object's namespace.
struct SecretKeyRef {
  std::string name;
  std::string key;
  bool empty() const { return name.empty() || key.empty(); }
};

ObjectMeta metaFromJson(const nlohmann::json& j);
nlohmann::json toJson(const ObjectMeta& m);
nlohmann::json toJson(const OwnerReference& r);
Condition conditionFromJson(const nlohmann::json& j);
nlohmann::json toJson(const Condition& c);
std::vector<Condition> conditionsFromJson(const nlohmann::json& j);
nlohmann::json toJson(const std::vector<Condition>& cs);

/// Lenient field readers: the value at j[key] if it has the right type, else
/// the fallback. j may be anything (null, array, ...).
std::string stringAt(const nlohmann::json& j, const char* key, const std::string& fallback = "");
int64_t intAt(const nlohmann::json& j, const char* key, int64_t fallback);
std::optional<int64_t> optIntAt(const nlohmann::json& j, const char* key);
/// j[key] when it is a number, else nullopt.
std::optional<double> optNumberAt(const nlohmann::json& j, const char* key);
/// The number, or null (in a merge patch null removes a stale value).
nlohmann::json numberOrNull(const std::optional<double>& v);
double numberAt(const nlohmann::json& j, const char* key, double fallback);
bool boolAt(const nlohmann::json& j, const char* key, bool fallback);
const nlohmann::json& objectAt(const nlohmann::json& j, const char* key);
std::map<std::string, std::string> stringMapAt(const nlohmann::json& j, const char* key);

/// RFC 3339 UTC with seconds precision, as Kubernetes writes metav1.Time.
std::string formatTime(std::chrono::system_clock::time_point t);
/// RFC 3339 with milliseconds ("2026-01-02T03:04:05.678Z"), for times that
/// must survive a round trip finer than a second.
std::string formatTimeMillis(std::chrono::system_clock::time_point t);
/// Parses what formatTime and formatTimeMillis write (fractional seconds
/// kept to the microsecond); nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> parseTime(const std::string& s);

/// The JSON merge patch (RFC 7386) that turns `from` into `to`: members of
/// `from` that `to` lacks become null, so applying it removes them instead of
/// leaving their old values in place; objects recurse, everything else is
/// replaced whole.
nlohmann::json mergePatchBetween(const nlohmann::json& from, const nlohmann::json& to);

/// FNV-1a 64 of `s`: stable across platforms and releases, so it can name
/// things that must not change when the operator is upgraded.
uint64_t stableHash(std::string_view s);

/// Kubernetes' length limits on what we derive from user-chosen names (most
/// object names, DNS subdomains, may have 253 characters).
inline constexpr size_t kMaxLabelValueLength = 63;  // label values
inline constexpr size_t kMaxDnsLabelLength = 63;    // Service, pod host names

/// `name` unchanged when it has at most maxLength characters; otherwise its
/// longest prefix that leaves room for "-" and 8 hex digits of
/// stableHash(name), without trailing '-', '.' or '_', followed by those.
/// A name that fits keeps rendering as it always did; a longer one becomes a
/// deterministic value that still starts and ends alphanumeric (given a
/// name that starts so), which label values and DNS names both require.
/// maxLength must be more than 9.
std::string fitName(const std::string& name, size_t maxLength);

}  // namespace shoal::api
