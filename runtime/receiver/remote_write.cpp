// Remote write into metric events. See remote_write.h.
#include "shoal/receiver/remote_write.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "shoal/metrics/remote_write_codec.h"

namespace shoal::receiver {

Result<RemoteWriteEvents> remoteWriteEvents(std::string_view snappyBody, std::string_view keyLabel) {
  auto raw = metrics::snappyUncompress(snappyBody);
  if (!raw) return makeError(Errc::kInvalidInput, "not a snappy block: " + raw.error().message);
  auto series = metrics::decodeWriteRequest(*raw);
  if (!series) return makeError(Errc::kInvalidInput, "not a remote write request: " + series.error().message);
  RemoteWriteEvents out;
  out.series = series->size();
  for (const auto& s : *series) {
    std::string name, key;
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& l : s.labels) {
      if (l.name == "__name__") {
        name = l.value;
      } else {
        labels[l.name] = l.value;
      }
      if (!keyLabel.empty() && l.name == keyLabel) key = l.value;
    }
    if (name.empty()) {
      ++out.unnamed;
      continue;
    }
    for (const auto& [ts, v] : s.samples) {
      nlohmann::json e = {{"name", name}, {"type", "gauge"}, {"labels", labels}, {"timestamp", ts}};
      if (std::isnan(v)) {
        e["value"] = "NaN";
      } else if (std::isinf(v)) {
        e["value"] = v > 0 ? "+Inf" : "-Inf";
      } else {
        e["value"] = v;
      }
      out.events.push_back(e.dump());
      out.keys.push_back(key);
    }
  }
  return out;
}

}  // namespace shoal::receiver
