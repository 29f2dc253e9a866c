// The simulator's outputs: a Markdown table of every run and one hand-written
// SVG chart per trace (backlog above, replicas below, one line per policy).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "shoal/sim/simulator.h"

namespace shoal::sim {
namespace {

std::string num(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string opt(const std::optional<double>& v, int decimals = 0, const char* none = "never") {
  return v ? num(*v, decimals) : std::string(none);
}

std::string xmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// 1, 2 or 5 times a power of ten, so about `count` ticks cover [0, max].
double niceStep(double max, int count) {
  if (!(max > 0)) return 1;
  double raw = max / count;
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

std::string shortNumber(double v) {
  if (v >= 1e6) return num(v / 1e6, v >= 1e7 ? 0 : 1) + "M";
  if (v >= 1e3) return num(v / 1e3, v >= 1e4 ? 0 : 1) + "k";
  return num(v, v == std::floor(v) ? 0 : 1);
}

struct Style {
  const char* color;
  const char* dash;
};
Style styleOf(PolicyKind k) {
  switch (k) {
    case PolicyKind::kShoal:
      return {"#1a9850", ""};
    case PolicyKind::kKedaCareful:
      return {"#d73027", ""};
    case PolicyKind::kKedaCarefulBehavior:
      return {"#fc8d59", "6 3"};
    case PolicyKind::kKedaDefault:
      return {"#4575b4", "2 2"};
  }
  return {"#000", ""};
}

}  // namespace

std::string renderTable(const std::vector<RunResult>& results, const Workload& w) {
  std::map<std::string, double> shoalReplicaSeconds;
  for (const auto& r : results)
    if (r.policy == PolicyKind::kShoal) shoalReplicaSeconds[r.trace] = r.replicaSeconds;
  std::ostringstream o;
  o << "Workload: " << num(w.perPodThroughput) << " entries/s per pod (±"
    << num(w.podSpeedNoise * 100) << " %), pod start-up " << num(w.podStartupSeconds)
    << " s (±20 %), replicas " << w.minReplicas << ".." << w.maxReplicas << ", drainSeconds "
    << num(w.drainSeconds)
    << ". keda-careful: lagCount = " << num(w.perPodThroughput * w.drainSeconds)
    << "; keda-default: lagCount 5. Drain: from the event until lag <= max(100, 1 s of "
       "arrivals).\n\n";
  o << "| trace | policy | drain mean s | drain max s | deadline met | max backlog | replica-s | "
       "shoal/this replica-s | reversals/h | drain→final s | false scale-downs | false "
       "scale-to-zero |\n";
  o << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : results) {
    double shoal = shoalReplicaSeconds.count(r.trace) ? shoalReplicaSeconds[r.trace] : 0;
    std::string deadline = r.deadlineEvents() > 0 ? std::to_string(r.deadlineMet(w.drainSeconds)) +
                                                        "/" + std::to_string(r.deadlineEvents())
                                                  : "-";
    bool hasEvents = !r.events.empty();
    o << "| " << r.trace << " | " << policyName(r.policy) << " | "
      << (hasEvents ? opt(r.meanDrainSeconds(), 1) : "-") << " | "
      << (hasEvents ? opt(r.maxDrainSeconds(), 1) : "-") << " | " << deadline << " | "
      << num(r.maxBacklog) << " | " << num(r.replicaSeconds) << " | "
      << (r.replicaSeconds > 0 ? num(shoal / r.replicaSeconds, 2) : "-") << " | "
      << num(r.reversalsPerHour, 2) << " | "
      << (hasEvents ? opt(r.maxSettleSeconds(), 0, "-") : "-") << " | " << r.falseScaleDowns
      << " | " << r.falseScaleToZero << " |\n";
  }
  return o.str();
}

std::string renderSvg(const Trace& trace, const std::vector<RunResult>& results) {
  const double W = 960, H = 600;
  const double left = 70, right = 20, top = 70, gap = 50, bottom = 45;
  const double plotW = W - left - right;
  const double panelH = (H - top - gap - bottom) / 2;
  const double topY = top, botY = top + panelH + gap;

  double maxBacklog = 1, maxReplicas = 1;
  for (const auto& r : results) {
    if (r.trace != trace.name) continue;
    for (double b : r.seriesBacklog) maxBacklog = std::max(maxBacklog, b);
    for (double n : r.seriesReplicas) maxReplicas = std::max(maxReplicas, n);
  }
  const double duration = trace.durationSeconds;
  const bool minutes = duration > 1800;
  const double xUnit = minutes ? 60 : 1;
  const double bStep = niceStep(maxBacklog, 5), rStep = niceStep(maxReplicas, 5);
  const double bTop = std::ceil(maxBacklog / bStep) * bStep,
               rTop = std::ceil(maxReplicas / rStep) * rStep;
  const double xStep = niceStep(duration / xUnit, 10);

  auto X = [&](double t) { return left + plotW * t / duration; };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << left << "\" y=\"22\" font-size=\"15\" font-weight=\"bold\">"
    << xmlEscape(trace.name) << ": " << xmlEscape(trace.description) << "</text>\n";

  // Legend.
  double lx = left;
  for (const auto& r : results) {
    if (r.trace != trace.name) continue;
    Style s = styleOf(r.policy);
    o << "<line x1=\"" << lx << "\" y1=\"42\" x2=\"" << lx + 24 << "\" y2=\"42\" stroke=\""
      << s.color << "\" stroke-width=\"2.5\""
      << (*s.dash ? std::string(" stroke-dasharray=\"") + s.dash + "\"" : "") << "/>\n";
    o << "<text x=\"" << lx + 30 << "\" y=\"46\">" << xmlEscape(policyName(r.policy))
      << "</text>\n";
    lx += 60 + 8.0 * policyName(r.policy).size();
  }

  auto panel = [&](double y0, double yTop, double yStep, const char* label, bool backlog) {
    auto Y = [&](double v) { return y0 + panelH - panelH * v / yTop; };
    o << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << plotW << "\" height=\""
      << panelH << "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (double v = 0; v <= yTop + 1e-9; v += yStep) {
      o << "<line x1=\"" << left << "\" y1=\"" << Y(v) << "\" x2=\"" << left + plotW << "\" y2=\""
        << Y(v) << "\" stroke=\"#eee\"/>\n";
      o << "<text x=\"" << left - 6 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\">"
        << shortNumber(v) << "</text>\n";
    }
    for (double x = 0; x <= duration / xUnit + 1e-9; x += xStep) {
      o << "<line x1=\"" << X(x * xUnit) << "\" y1=\"" << y0 + panelH << "\" x2=\"" << X(x * xUnit)
        << "\" y2=\"" << y0 + panelH + 4 << "\" stroke=\"#999\"/>\n";
      o << "<text x=\"" << X(x * xUnit) << "\" y=\"" << y0 + panelH + 16
        << "\" text-anchor=\"middle\">" << shortNumber(x) << "</text>\n";
    }
    o << "<text x=\"16\" y=\"" << y0 + panelH / 2 << "\" transform=\"rotate(-90 16 "
      << y0 + panelH / 2 << ")\" text-anchor=\"middle\">" << label << "</text>\n";
    // Draw the baselines first so Shoal's line stays visible on top.
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& r : results) {
        if (r.trace != trace.name || (pass == 1) != (r.policy == PolicyKind::kShoal)) continue;
        Style s = styleOf(r.policy);
        const auto& ys = backlog ? r.seriesBacklog : r.seriesReplicas;
        o << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\""
          << (pass == 1 ? 2 : 1.6) << "\""
          << (*s.dash ? std::string(" stroke-dasharray=\"") + s.dash + "\"" : "") << " points=\"";
        // Only the points that change the picture: replicas as steps at each
        // change, backlog without the inner points of flat runs.
        const size_t n = ys.size();
        for (size_t i = 0; i < n; ++i) {
          const bool edge = i == 0 || i + 1 == n;
          if (!backlog) {
            if (!edge && ys[i] == ys[i - 1]) continue;
            if (i > 0)
              o << num(X(r.seriesTime[i]), 1) << "," << num(Y(std::min(ys[i - 1], yTop)), 1) << " ";
          } else if (!edge && ys[i] == ys[i - 1] && ys[i] == ys[i + 1]) {
            continue;
          }
          o << num(X(r.seriesTime[i]), 1) << "," << num(Y(std::min(ys[i], yTop)), 1) << " ";
        }
        o << "\"/>\n";
      }
    }
  };
  panel(topY, bTop, bStep, "backlog (entries)", true);
  panel(botY, rTop, rStep, "replicas", false);
  o << "<text x=\"" << left + plotW / 2 << "\" y=\"" << H - 8 << "\" text-anchor=\"middle\">time ("
    << (minutes ? "min" : "s") << ")</text>\n";
  if (trace.nilLagFrom) {
    double x = X(*trace.nilLagFrom);
    o << "<line x1=\"" << x << "\" y1=\"" << topY << "\" x2=\"" << x << "\" y2=\"" << botY + panelH
      << "\" stroke=\"#666\" stroke-dasharray=\"4 4\"/>\n";
    o << "<text x=\"" << x + 4 << "\" y=\"" << topY + 14
      << "\" fill=\"#666\">lag reads nil from here</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace shoal::sim
