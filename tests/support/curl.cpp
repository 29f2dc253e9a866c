// curl as the tests' HTTP client. See curl.h.
#include "shoal/testing/curl.h"

#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "shoal/testing/process.h"

namespace shoal::testing {

std::string CurlResult::header(const std::string& name) const {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  const std::string want = lower(name);
  std::istringstream in(headers);
  std::string line, value;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos || lower(line.substr(0, colon)) != want) continue;
    value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
  }
  return value;
}

CurlResult curl(const std::vector<std::string>& args, std::chrono::milliseconds deadline) {
  TempDir dir;
  Process::Options o;
  o.argv = {"curl", "-sS", "-o", dir.file("body"), "-D", dir.file("headers"), "-w", "%{http_code}"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.stdoutPath = dir.file("code");
  o.stderrPath = dir.file("stderr");
  CurlResult r;
  {
    Process p(o);
    auto st = p.wait(deadline);
    if (st && WIFEXITED(*st)) r.exitCode = WEXITSTATUS(*st);
  }
  r.body = Process::readFile(dir.file("body"));
  r.headers = Process::readFile(dir.file("headers"));
  r.stderrText = Process::readFile(dir.file("stderr"));
  try {
    r.status = std::stoi(Process::readFile(dir.file("code")));
  } catch (...) {
    r.status = 0;
  }
  return r;
}

}  // namespace shoal::testing
