// Base64 (RFC 4648): the standard alphabet for HTTP Basic credentials and
// Kubernetes Secret data, the URL-safe one for Pushgateway path segments.
// Encoding always pads with '='.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shoal {

/// Standard alphabet (+/), padded.
std::string base64Encode(std::string_view in);
/// URL-safe alphabet (-_), padded.
std::string base64UrlEncode(std::string_view in);
/// Decodes either alphabet; whitespace is skipped and padding is optional.
/// nullopt for any other character, data after padding, or a dangling symbol.
std::optional<std::string> base64Decode(std::string_view in);

}  // namespace shoal
