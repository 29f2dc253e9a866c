// Local mode's control loop, status snapshot and terminal view.
#include "shoal/local/local_runner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "shoal/api/meta.h"
#include "shoal/common/log.h"

namespace shoal::local {

using nlohmann::json;

namespace {

constexpr auto kResync = std::chrono::seconds(30);      // after Action::await()
constexpr auto kErrorRetry = std::chrono::seconds(2);  // after a failed reconcile

/// The array at j[key], or an empty array (objectAt's counterpart).
const json& arrayAt(const json& j, const char* key) {
  static const json empty = json::array();
  if (!j.is_object()) return empty;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return empty;
  return *it;
}

std::optional<int64_t> optInt(const json& j, const char* k) { return api::optIntAt(j, k); }
std::optional<double> optNum(const json& j, const char* k) {
  if (j.is_object() && j.contains(k) && j[k].is_number()) return j[k].get<double>();
  return std::nullopt;
}

std::string fmtNum(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string fmtOptInt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "?"; }
std::string fmtOptRate(const std::optional<double>& v) { return v ? fmtNum(*v, 0) : "-"; }

std::string pad(std::string s, size_t n) {
  if (s.size() < n) s.append(n - s.size(), ' ');
  return s;
}

/// Cuts a line to `width` visible columns, not counting ANSI escapes.
std::string cut(const std::string& line, int width) {
  if (width <= 0) return line;
  std::string out;
  int visible = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b') {
      size_t end = line.find('m', i);
      if (end == std::string::npos) break;
      out += line.substr(i, end - i + 1);
      i = end;
      continue;
    }
    // UTF-8 continuation bytes take no column.
    const bool continuation = (static_cast<unsigned char>(line[i]) & 0xC0) == 0x80;
    if (!continuation && visible >= width) break;
    if (!continuation) ++visible;
    out.push_back(line[i]);
  }
  return out;
}

std::string colorFor(const std::string& status, bool positiveIsTrue) {
  if (status == api::kUnknown) return "\x1b[33m";
  const bool good = (status == api::kTrue) == positiveIsTrue;
  return good ? "\x1b[32m" : "\x1b[31m";
}

std::string conditionsText(const json& conds, bool color) {
  std::string s;
  if (!conds.is_array()) return s;
  for (const auto& c : conds) {
    const std::string type = api::stringAt(c, "type");
    const std::string status = api::stringAt(c, "status");
    const std::string reason = api::stringAt(c, "reason");
    // ScalingLimited and Fallback are good when False.
    const bool positive = !(type == "ScalingLimited" || type == "Fallback");
    if (!s.empty()) s += "  ";
    if (color) s += colorFor(status, positive);
    s += type + "=" + status;
    if (color) s += "\x1b[0m";
    s += " (" + reason + ")";
  }
  return s;
}

std::string bar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * width + 0.5);
  std::string s = "[";
  for (int i = 0; i < width; ++i) s += i < filled ? "#" : ".";
  return s + "]";
}

}  // namespace

LocalRunner::LocalRunner(FileResourceStore& store, ProcessBackend& backend, EventLog& events,
                         probe::BacklogProbe& probe, Clock& clock)
    : store_(store),
      backend_(backend),
      events_(events),
      clock_(clock),
      pipelines_(store, events, probe, clock, std::chrono::seconds(2)),
      pools_(store, backend, events, probe, clock),
      started_(clock.now()) {}

void LocalRunner::step() {
  backend_.tick();
  const MonoTime now = clock_.now();
  auto due = [&](const std::string& key) {
    auto it = due_.find(key);
    return it == due_.end() || now >= it->second;
  };
  auto schedule = [&](const std::string& key, const controllers::ReconcileResult& r,
                      const std::string& what) {
    if (!r.ok()) {
      log::warn("reconcile failed", {{"object", what}, {"error", r.error().message}});
      due_[key] = now + kErrorRetry;
    } else if (r.value().requeueAfter) {
      due_[key] = now + *r.value().requeueAfter;
    } else {
      due_[key] = now + kResync;
    }
  };
  for (const auto& [ns, name] : store_.pipelineKeys()) {
    const std::string key = "Pipeline/" + ns + "/" + name;
    if (!due(key)) continue;
    schedule(key, pipelines_.reconcile(ns, name), key);
  }
  for (const auto& [ns, name] : store_.workerPoolKeys()) {
    const std::string key = "WorkerPool/" + ns + "/" + name;
    if (!due(key)) continue;
    schedule(key, pools_.reconcile(ns, name), key);
    recordSample(ns, name);
  }
}

void LocalRunner::recordSample(const std::string& ns, const std::string& name) {
  auto got = store_.getWorkerPool(ns, name);
  if (!got.ok() || !got.value()) return;
  const api::WorkerPoolStatus& st = got.value()->status;
  HistorySample s;
  s.t = toSeconds(clock_.now() - started_);
  s.pool = ns + "/" + name;
  s.lag = st.backlog.lag;
  s.pending = st.backlog.pending;
  s.backlog = st.backlog.total;
  s.arrivalRate = st.arrivalRate;
  s.consumptionRate = st.consumptionRate;
  s.desired = st.desiredReplicas;
  s.replicas = st.replicas;
  s.ready = st.readyReplicas;
  history_[s.pool].push_back(s);
  fresh_.push_back(std::move(s));
}

std::vector<HistorySample> LocalRunner::takeNewSamples() {
  std::vector<HistorySample> out;
  out.swap(fresh_);
  return out;
}

json LocalRunner::statusJson() const {
  json out = store_.snapshot();
  const MonoTime now = clock_.now();
  out["generatedAt"] = api::formatTime(clock_.wallNow());
  out["uptimeSeconds"] = std::round(toSeconds(now - started_) * 10) / 10;
  const auto workers = backend_.pools();
  for (auto& pool : out["workerPools"]) {
    const std::string key = api::stringAt(pool["metadata"], "namespace") + "/" +
                            api::stringAt(pool["metadata"], "name");
    json local = {{"workers", json::array()}, {"restarts", 0}};
    for (const auto& p : workers) {
      if (p.key != key) continue;
      local["desired"] = p.desired;
      local["configHash"] = p.configHash;
      local["restarts"] = p.restarts;
      local["consecutiveCrashes"] = p.consecutiveCrashes;
      if (p.restartInSeconds) local["restartInSeconds"] = std::round(*p.restartInSeconds * 10) / 10;
      for (const auto& w : p.workers) {
        local["workers"].push_back({{"consumer", w.consumerName},
                                    {"pid", w.pid},
                                    {"port", w.port},
                                    {"ready", w.ready},
                                    {"stopping", w.stopping},
                                    {"configHash", w.configHash},
                                    {"uptimeSeconds", std::round(toSeconds(now - w.startedAt))},
                                    {"log", w.logPath}});
      }
    }
    pool["local"] = local;
  }
  out["events"] = events_.toJson();
  return out;
}

std::string renderLiveView(const json& status, int width, bool color) {
  const std::string bold = color ? "\x1b[1m" : "";
  const std::string dim = color ? "\x1b[2m" : "";
  const std::string reset = color ? "\x1b[0m" : "";
  std::vector<std::string> lines;
  lines.push_back(bold + "Shoal local mode" + reset + "   " + api::stringAt(status, "generatedAt") +
                  "   up " + fmtNum(api::numberAt(status, "uptimeSeconds", 0), 0) +
                  " s   (Ctrl-C stops the workers gracefully)");
  lines.push_back("");
  lines.push_back(bold + pad("WORKERPOOL", 22) + pad("BACKLOG", 12) + pad("LAG", 11) +
                  pad("PENDING", 9) + pad("IN/s", 9) + pad("OUT/s", 9) + pad("REPLICAS", 18) +
                  "DRAIN" + reset);
  const json& pools = arrayAt(status, "workerPools");
  int64_t maxBacklog = 1;
  for (const auto& p : pools) {
    const json& st = api::objectAt(p, "status");
    maxBacklog = std::max(maxBacklog, api::intAt(api::objectAt(st, "backlog"), "total", 0));
  }
  for (const auto& p : pools) {
    const json& st = api::objectAt(p, "status");
    const json& b = api::objectAt(st, "backlog");
    const std::string name = api::stringAt(api::objectAt(p, "metadata"), "name");
    const auto drain = optNum(st, "estimatedDrainSeconds");
    const std::string replicas = std::to_string(api::intAt(st, "readyReplicas", 0)) + "/" +
                                 std::to_string(api::intAt(st, "replicas", 0)) + " ready, want " +
                                 std::to_string(api::intAt(st, "desiredReplicas", 0));
    lines.push_back(pad(name, 22) + pad(fmtOptInt(optInt(b, "total")), 12) +
                    pad(fmtOptInt(optInt(b, "lag")), 11) + pad(fmtOptInt(optInt(b, "pending")), 9) +
                    pad(fmtOptRate(optNum(st, "arrivalRate")), 9) +
                    pad(fmtOptRate(optNum(st, "consumptionRate")), 9) + pad(replicas, 18) +
                    (drain ? fmtNum(*drain, 0) + " s" : "-"));
    const auto total = optInt(b, "total").value_or(0);
    lines.push_back("  backlog  " + bar(static_cast<double>(total) / maxBacklog, 40));
    const int64_t maxR = std::max<int64_t>(api::intAt(api::objectAt(p, "spec"), "maxReplicas", 10), 1);
    const int64_t running = api::intAt(st, "replicas", 0);
    std::string rbar = "  workers  [";
    for (int64_t i = 0; i < maxR && i < 60; ++i) rbar += i < running ? "#" : ".";
    rbar += "] " + std::to_string(running) + " of max " + std::to_string(maxR);
    lines.push_back(rbar);
    lines.push_back("  " + conditionsText(arrayAt(st, "conditions"),
                                          color));
    const json& local = api::objectAt(p, "local");
    if (local.is_object()) {
      std::string w = "  ";
      for (const auto& wk : arrayAt(local, "workers")) {
        const bool stopping = api::boolAt(wk, "stopping", false);
        const bool ready = api::boolAt(wk, "ready", false);
        const std::string state = stopping ? "draining" : (ready ? "ready" : "starting");
        w += api::stringAt(wk, "consumer") + " pid " + std::to_string(api::intAt(wk, "pid", 0)) +
             " " + (color ? (stopping ? "\x1b[33m" : ready ? "\x1b[32m" : "\x1b[36m") : "") +
             state + reset + "  ";
      }
      lines.push_back(w);
      const int64_t restarts = api::intAt(local, "restarts", 0);
      if (restarts > 0) {
        std::string r = "  restarts after crashes: " + std::to_string(restarts);
        if (auto in = optNum(local, "restartInSeconds")) r += ", next start in " + fmtNum(*in, 1) + " s";
        lines.push_back(r);
      }
    }
    lines.push_back("");
  }
  const json& pipes = arrayAt(status, "pipelines");
  for (const auto& p : pipes) {
    const json& st = api::objectAt(p, "status");
    lines.push_back(bold + "Pipeline " + api::stringAt(api::objectAt(p, "metadata"), "name") + reset +
                    " (" + api::stringAt(api::objectAt(p, "spec"), "type") + " -> " +
                    api::stringAt(st, "sink") + ")  " +
                    conditionsText(arrayAt(st, "conditions"), color));
  }
  lines.push_back("");
  lines.push_back(bold + "Recent events" + reset);
  const json& events = arrayAt(status, "events");
  const size_t shown = 8;
  const size_t from = events.size() > shown ? events.size() - shown : 0;
  for (size_t i = from; i < events.size(); ++i) {
    const json& e = events[i];
    std::string ts = api::stringAt(e, "lastTimestamp");
    if (ts.size() >= 19) ts = ts.substr(11, 8);
    const std::string type = api::stringAt(e, "type");
    const int64_t count = api::intAt(e, "count", 1);
    lines.push_back("  " + dim + ts + reset + " " +
                    (color && type == "Warning" ? "\x1b[33m" : "") + pad(type, 8) + reset +
                    pad(api::stringAt(e, "reason"), 20) + api::stringAt(e, "object") + ": " +
                    api::stringAt(e, "message") + (count > 1 ? " (x" + std::to_string(count) + ")" : ""));
  }
  std::string out;
  for (const auto& l : lines) out += cut(l, width) + (color ? "\x1b[K" : "") + "\n";
  return out;
}

std::vector<std::string> renderLogLines(const json& status) {
  std::vector<std::string> out;
  const json& pools = arrayAt(status, "workerPools");
  for (const auto& p : pools) {
    const json& st = api::objectAt(p, "status");
    const json& b = api::objectAt(st, "backlog");
    out.push_back("pool " + api::stringAt(api::objectAt(p, "metadata"), "name") +
                  " backlog=" + fmtOptInt(optInt(b, "total")) + " lag=" + fmtOptInt(optInt(b, "lag")) +
                  " pending=" + fmtOptInt(optInt(b, "pending")) +
                  " in/s=" + fmtOptRate(optNum(st, "arrivalRate")) +
                  " out/s=" + fmtOptRate(optNum(st, "consumptionRate")) +
                  " replicas=" + std::to_string(api::intAt(st, "replicas", 0)) +
                  " ready=" + std::to_string(api::intAt(st, "readyReplicas", 0)) +
                  " desired=" + std::to_string(api::intAt(st, "desiredReplicas", 0)));
  }
  return out;
}

}  // namespace shoal::local
