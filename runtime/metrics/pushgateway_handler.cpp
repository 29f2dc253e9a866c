// Pushgateway sink: grouping, text exposition rendering, push with retry.
#include "shoal/metrics/pushgateway_handler.h"

#include <algorithm>
#include <map>

#include "shoal/common/backoff.h"
#include "shoal/common/base64.h"
#include "shoal/common/log.h"
#include "shoal/http/url.h"
#include "shoal/metrics/retry_wait.h"

namespace shoal::metrics {

std::string base64Url(std::string_view s) {
  if (s.empty()) return "=";  // Pushgateway's spelling of the empty value
  return base64UrlEncode(s);
}

namespace {

void appendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void appendLine(std::string& out, std::string_view name, const LabelSet& labels, const char* extraName,
                const std::string& extraValue, double value) {
  out += name;
  if (!labels.empty() || extraName) {
    out += '{';
    bool first = true;
    for (auto& l : labels) {
      if (!first) out += ',';
      first = false;
      out += l.name;
      out += "=\"";
      appendEscaped(out, l.value);
      out += '"';
    }
    if (extraName) {
      if (!first) out += ',';
      out += extraName;
      out += "=\"";
      appendEscaped(out, extraValue);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += formatFloat(value);
  out += '\n';
}

}  // namespace

std::string renderExposition(std::span<const MetricEvent* const> events) {
  // Families in order of first appearance; all lines of a family together.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const MetricEvent*>> fams;
  for (auto* e : events) {
    auto [it, fresh] = fams.try_emplace(e->name);
    if (fresh) order.push_back(e->name);
    it->second.push_back(e);
  }
  std::string out;
  for (auto& name : order) {
    auto& list = fams[name];
    out += "# TYPE " + name + " " + std::string(metricTypeName(list.front()->type)) + "\n";
    for (auto* e : list) {
      switch (e->type) {
        case MetricType::kCounter:
        case MetricType::kGauge:
          appendLine(out, name, e->labels, nullptr, {}, e->value);
          break;
        case MetricType::kHistogram:
          for (auto& [le, c] : e->buckets) appendLine(out, name + "_bucket", e->labels, "le", formatFloat(le), c);
          appendLine(out, name + "_sum", e->labels, nullptr, {}, e->sum);
          appendLine(out, name + "_count", e->labels, nullptr, {}, e->count);
          break;
        case MetricType::kSummary:
          for (auto& [q, v] : e->quantiles) appendLine(out, name, e->labels, "quantile", formatFloat(q), v);
          appendLine(out, name + "_sum", e->labels, nullptr, {}, e->sum);
          appendLine(out, name + "_count", e->labels, nullptr, {}, e->count);
          break;
      }
    }
  }
  return out;
}

PushgatewayHandler::PushgatewayHandler(PushgatewayConfig cfg, TransformConfig transform,
                                       Clock& clock, std::unique_ptr<http::Transport> transport)
    : cfg_(std::move(cfg)),
      clock_(clock),
      transform_(std::move(transform), clock),
      transport_(std::move(transport)) {
  auto u = http::parseUrl(cfg_.url);
  basePath_ = u ? u->path : "";
  while (!basePath_.empty() && basePath_.back() == '/') basePath_.pop_back();
}

std::vector<EntryResult> PushgatewayHandler::handle(std::span<const StreamEntry> entries, const CancelToken& cancel) {
  ParsedBatch b = transform_.parse(entries);

  struct Group {
    std::string path;
    std::vector<size_t> events;  // latest per series, see below
    std::vector<uint32_t> entries;
    std::map<std::string, MetricType> types;
    std::map<std::pair<std::string, LabelSet>, size_t> latest;  // (name, labels) -> slot in events
  };
  std::map<std::string, Group> groups;
  std::vector<std::string> groupOrder;

  for (size_t i = 0; i < b.events.size(); ++i) {
    MetricEvent& e = b.events[i];
    const uint32_t entry = b.eventEntry[i];
    std::string path = basePath_ + "/metrics/job@base64/" + base64Url(cfg_.job);
    std::map<std::string, std::string> key = cfg_.grouping;
    for (auto& name : cfg_.groupingLabels) {
      auto it = std::find_if(e.labels.begin(), e.labels.end(), [&](const Label& l) { return l.name == name; });
      if (it == e.labels.end()) continue;
      key[name] = it->value;
      e.labels.erase(it);
    }
    for (auto& [k, v] : key) path += "/" + k + "@base64/" + base64Url(v);
    auto [git, fresh] = groups.try_emplace(path);
    if (fresh) groupOrder.push_back(path);
    Group& g = git->second;
    g.path = path;
    auto [tit, newType] = g.types.try_emplace(e.name, e.type);
    if (!newType && tit->second != e.type) {
      b.results[entry] = {EntryOutcome::kDeadLetter, "pushgateway: metric \"" + e.name + "\" is a " +
                                                         std::string(metricTypeName(tit->second)) + " in this group already"};
      continue;
    }
    g.entries.push_back(entry);
    auto [lit, newSeries] = g.latest.try_emplace({e.name, e.labels}, g.events.size());
    if (newSeries) {
      g.events.push_back(i);
    } else if (b.events[g.events[lit->second]].timestampMs <= e.timestampMs) {
      g.events[lit->second] = i;
    }
  }

  for (auto& path : groupOrder) {
    Group& g = groups[path];
    std::vector<const MetricEvent*> evs;
    for (size_t i : g.events) evs.push_back(&b.events[i]);
    http::Request req;
    req.method = cfg_.put ? "PUT" : "POST";
    req.path = path;
    req.contentType = "text/plain; version=0.0.4";
    req.body = renderExposition(evs);
    Backoff backoff(cfg_.retryInitial, cfg_.retryMax);
    for (;;) {
      const http::Response r = transport_->send(req);
      lastAnswered_ = r.status != 0;
      if (r.status >= 200 && r.status < 300) break;
      if (retryableHttpStatus(r.status)) {
        const Duration d = backoff.next();
        if (backoff.attempts() == 1 || backoff.attempts() % 20 == 0)
          log::warn("pushgateway push failed, retrying", {{"status", r.status}, {"error", r.status ? r.body.substr(0, 200) : r.error}});
        if (!waitOrCancelled(clock_, d, cancel)) {
          for (uint32_t e : g.entries)
            if (b.results[e].outcome == EntryOutcome::kDelivered) b.results[e] = {EntryOutcome::kRetry, {}};
          break;
        }
        continue;
      }
      std::string body = r.body.substr(0, 512);
      std::replace(body.begin(), body.end(), '\n', ' ');
      for (uint32_t e : g.entries)
        if (b.results[e].outcome == EntryOutcome::kDelivered)
          b.results[e] = {EntryOutcome::kDeadLetter, "pushgateway: HTTP " + std::to_string(r.status) + ": " + body};
      break;
    }
  }
  return std::move(b.results);
}

}  // namespace shoal::metrics
