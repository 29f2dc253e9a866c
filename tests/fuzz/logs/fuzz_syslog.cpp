// libFuzzer target: the RFC 5424 and RFC 3164 parsers on arbitrary lines.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shoal/logs/syslog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  (void)shoal::logs::parseRfc5424(line);
  (void)shoal::logs::parseRfc3164(line, 1'700'000'000'000'000'000LL);
  return 0;
}
