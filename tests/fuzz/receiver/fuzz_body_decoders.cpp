// libFuzzer target: the receiver's body decoders (events and _bulk) on
// arbitrary bodies. Besides not crashing, what they accept must hold: each
// entry is one valid JSON object, valid UTF-8, lying inside the body, and
// every error points inside the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shoal/receiver/decode.h"
#include "shoal/receiver/json_scan.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void checkObject(std::string_view json) {
  size_t pos = 0;
  check(!json.empty() && json.front() == '{');
  check(!shoal::receiver::scanValue(json, pos).has_value() && pos == json.size());
  check(shoal::receiver::validUtf8(json));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto events = shoal::receiver::decodeEvents(body, "host");
  if (events.error) {
    check(events.error->byte <= body.size());
  } else {
    for (const auto& e : events.entries) {
      check(inside(e.json, body));
      checkObject(e.json);
      if (e.hasKey) check(inside(e.key, e.json));
    }
  }
  auto bulk = shoal::receiver::decodeBulk(body, "idx");
  if (bulk.error) {
    check(bulk.error->byte <= body.size());
  } else {
    for (const auto& item : bulk.items) {
      check(item.source.empty() || inside(item.source, body));
      if (!item.error) checkObject(item.source);
    }
  }
  return 0;
}
