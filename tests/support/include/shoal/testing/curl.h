// The real curl as an HTTP client for tests: one invocation, its exit code,
// the HTTP status, the response headers and body.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace shoal::testing {

struct CurlResult {
  int exitCode = -1;  // curl's; 0 when a response arrived
  int status = 0;     // the last response's HTTP status; 0 if none
  std::string headers;  // the raw response header block(s)
  std::string body;
  std::string stderrText;

  /// A response header's value (case-insensitive name), "" if absent.
  std::string header(const std::string& name) const;
};

/// Runs `curl -sS <args...>` (e.g. {"-X", "POST", "--data-binary", "@f", url})
/// and waits at most `deadline` for it.
CurlResult curl(const std::vector<std::string>& args,
                std::chrono::milliseconds deadline = std::chrono::seconds(30));

}  // namespace shoal::testing
