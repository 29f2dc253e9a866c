// Scripting `_bulk` for sink and handler unit tests: the shared scripted HTTP
// peer (shoal/testing/scripted_http.h), plus helpers that read the documents
// of a bulk body and build Elasticsearch's answers to it.
#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <string>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/logs/ecs.h"
#include "shoal/testing/scripted_http.h"

namespace shoal::logs::testing {

using shoal::testing::ScriptedHttp;
using RecordedRequest = shoal::testing::RecordedHttpRequest;
using HttpResponse = http::Response;

/// The _id of each document in a bulk body, in order.
inline std::vector<std::string> idsInBody(const std::string& body) {
  std::vector<std::string> ids;
  size_t pos = 0;
  bool action = true;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    std::string line = body.substr(pos, nl - pos);
    if (action) {
      size_t k = line.find("\"_id\":\"");
      size_t start = k + 7;
      size_t end = start;
      while (end < line.size() && !(line[end] == '"' && line[end - 1] != '\\')) ++end;
      ids.push_back(line.substr(start, end - start));
    }
    action = !action;
    pos = nl + 1;
  }
  return ids;
}

/// A 200 `_bulk` response; `item(id)` gives {status, error type}.
inline std::string bulkResponse(const std::string& body,
                                const std::function<std::pair<int, std::string>(const std::string&)>& item) {
  std::string out = "{\"took\":1,\"errors\":true,\"items\":[";
  bool first = true;
  for (auto& id : idsInBody(body)) {
    auto [status, type] = item(id);
    if (!first) out += ',';
    first = false;
    out += "{\"create\":{\"_index\":\"i\",\"_id\":" + jsonString(id) +
           ",\"status\":" + std::to_string(status);
    if (status >= 300)
      out += ",\"error\":{\"type\":" + jsonString(type) + ",\"reason\":\"injected " + type + "\"}";
    out += "}}";
  }
  return out + "]}";
}

inline std::string allCreated(const std::string& body) {
  return bulkResponse(body, [](const std::string&) { return std::make_pair(201, std::string()); });
}

/// The value of counter `name` with label key=value (0 when absent).
inline double counterValue(prometheus::Registry& registry, const std::string& name,
                           const std::string& key, const std::string& value) {
  for (auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (auto& m : family.metric) {
      for (auto& l : m.label)
        if (l.name == key && l.value == value) return m.counter.value;
    }
  }
  return 0;
}

}  // namespace shoal::logs::testing
