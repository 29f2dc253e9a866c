// libFuzzer target: any payload, in any format setting, maps to an ECS
// document or to an error value; never a crash, hang or exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shoal/logs/ecs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the format so one corpus covers every parser.
  static const shoal::logs::LogFormat kFormats[] = {
      shoal::logs::LogFormat::kAuto, shoal::logs::LogFormat::kJson,
      shoal::logs::LogFormat::kRfc5424, shoal::logs::LogFormat::kRfc3164};
  shoal::logs::LogsTransformConfig cfg;
  cfg.format = kFormats[data[0] % 4];
  cfg.keepOriginal = (data[0] & 0x10) != 0;
  cfg.enrich = {{"service.environment", "fuzz"}};
  shoal::StreamEntry e;
  e.id = "1700000000000-0";
  e.fields = {{"message", std::string(reinterpret_cast<const char*>(data) + 1, size - 1)},
              {"source", "fuzz"}};
  auto doc = shoal::logs::mapToEcs(e, cfg, 1'700'000'000'000'000'000LL);
  (void)doc;
  return 0;
}
