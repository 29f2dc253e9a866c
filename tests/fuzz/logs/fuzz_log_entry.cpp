// libFuzzer target: any payload, in any format setting, maps to an ECS
// document or to an error value; never a crash, hang or exception. Whatever
// the JSON fast path handles must come out byte for byte as from the general
// path, and the fast path must decline what the general path rejects (the
// maxFields limit included). The index the handler renders for a fast-path
// document through its IndexCache must be the general document's index.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "shoal/logs/ecs.h"
#include "shoal/logs/ecs_fast.h"
#include "shoal/logs/index_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the format so one corpus covers every parser; its
  // high bits pick a small field limit and extra entry fields.
  static const shoal::logs::LogFormat kFormats[] = {
      shoal::logs::LogFormat::kAuto, shoal::logs::LogFormat::kJson,
      shoal::logs::LogFormat::kRfc5424, shoal::logs::LogFormat::kRfc3164};
  shoal::logs::LogsTransformConfig cfg;
  cfg.format = kFormats[data[0] % 4];
  cfg.keepOriginal = (data[0] & 0x10) != 0;
  cfg.enrich = {{"service.environment", "fuzz"}};
  if (data[0] & 0x20) cfg.maxFields = 1 + (data[0] >> 6) * 4;
  shoal::StreamEntry e;
  e.id = "1700000000000-0";
  e.fields = {{"message", std::string(reinterpret_cast<const char*>(data) + 1, size - 1)},
              {"source", "fuzz"}};
  if (data[0] & 0x08)
    e.fields.insert(e.fields.end(),
                    {{"zone", "a"}, {"", "nameless"}, {"zone", "b"}, {"team", "t"}});
  const shoal::logs::EpochNanos ingest = 1'700'000'000'000'000'000LL;
  auto doc = shoal::logs::mapToEcs(e, cfg, ingest);
  static shoal::logs::FastJsonEcsMapper fast;
  if (fast.map(e, cfg, ingest)) {
    if (!doc) {
      std::fprintf(stderr, "fast path handled what the general path rejects: %s\n",
                   doc.error().message.c_str());
      std::abort();
    }
    std::string got;
    fast.appendJson(got);
    if (got != doc->json()) {
      std::fprintf(stderr, "fast path differs\n general: %s\n fast:    %s\n", doc->json().c_str(),
                   got.c_str());
      std::abort();
    }
    static const shoal::logs::IndexPattern pattern = [] {
      std::string err;
      return *shoal::logs::IndexPattern::compile("logs-{service.name}-{host.name|h}-{level}-%Y.%m.%d.%H",
                                                 "unknown", err);
    }();
    static shoal::logs::IndexCache cache(pattern);  // kept across inputs, like the handler's
    const shoal::logs::IndexCache::RawFn raw = [&](std::string_view p) { return fast.rawScalar(p); };
    const shoal::logs::IndexCache::TextFn text = [&](std::string_view p) { return fast.text(p); };
    const std::string cached = cache.render(fast.timestamp(), raw, text), general = pattern.render(*doc);
    if (cached != general) {
      std::fprintf(stderr, "cached index differs\n general: %s\n cached:  %s\n", general.c_str(), cached.c_str());
      std::abort();
    }
  }
  return 0;
}
