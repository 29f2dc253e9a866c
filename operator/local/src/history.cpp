// Run history: CSV lines, the summary and the SVG chart.
#include "shoal/local/history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace shoal::local {

namespace {

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

template <typename T>
std::string opt(const std::optional<T>& v) {
  if (!v) return "";
  if constexpr (std::is_floating_point_v<T>) {
    return fmt(*v, 1);
  } else {
    return std::to_string(*v);
  }
}

std::string xmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) for about `ticks` ticks.
double niceStep(double maxValue, int ticks) {
  if (maxValue <= 0) return 1;
  const double raw = maxValue / ticks;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * p) return m * p;
  }
  return 10 * p;
}

std::string humanCount(double v) {
  if (v >= 1e6) return fmt(v / 1e6, v >= 1e7 ? 0 : 1) + "M";
  if (v >= 1e3) return fmt(v / 1e3, v >= 1e4 ? 0 : 1) + "k";
  return fmt(v, 0);
}

}  // namespace

std::string historyCsvHeader() {
  return "t_seconds,pool,lag,pending,backlog,arrival_per_s,consumption_per_s,desired,replicas,ready";
}

std::string historyCsvLine(const HistorySample& s) {
  return fmt(s.t, 2) + "," + s.pool + "," + opt(s.lag) + "," + opt(s.pending) + "," +
         opt(s.backlog) + "," + opt(s.arrivalRate) + "," + opt(s.consumptionRate) + "," +
         std::to_string(s.desired) + "," + std::to_string(s.replicas) + "," +
         std::to_string(s.ready);
}

RunSummary summarize(const std::vector<HistorySample>& samples) {
  RunSummary r;
  if (samples.empty()) return r;
  size_t peakAt = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    r.peakReplicas = std::max(r.peakReplicas, s.replicas);
    r.peakDesired = std::max(r.peakDesired, s.desired);
    if (s.backlog && *s.backlog > r.peakBacklog) {
      r.peakBacklog = *s.backlog;
      peakAt = i;
    }
    if (s.backlog && *s.backlog > 0 && !r.burstSeenAt) r.burstSeenAt = s.t;
    if (i + 1 < samples.size()) {
      r.replicaSeconds += s.replicas * std::max(0.0, samples[i + 1].t - s.t);
    }
  }
  r.durationSeconds = samples.back().t - samples.front().t;
  if (r.burstSeenAt) {
    for (size_t i = peakAt; i < samples.size(); ++i) {
      if (samples[i].backlog && *samples[i].backlog == 0) {
        r.drainSeconds = samples[i].t - *r.burstSeenAt;
        break;
      }
    }
  }
  return r;
}

std::string renderChartSvg(const std::vector<HistorySample>& samples, const std::string& title) {
  const double W = 880, H = 420, left = 80, right = 70, top = 56, bottom = 56;
  const double plotW = W - left - right, plotH = H - top - bottom;
  double tMin = samples.empty() ? 0 : samples.front().t;
  double tMax = samples.empty() ? 1 : samples.back().t;
  if (tMax <= tMin) tMax = tMin + 1;
  double maxBacklog = 1;
  int32_t maxReplicas = 1;
  for (const auto& s : samples) {
    if (s.backlog) maxBacklog = std::max(maxBacklog, static_cast<double>(*s.backlog));
    maxReplicas = std::max({maxReplicas, s.replicas, s.desired});
  }
  const double bStep = niceStep(maxBacklog, 5);
  const double bTop = std::ceil(maxBacklog / bStep) * bStep;
  const double rTop = maxReplicas + 1;
  const double rStep = niceStep(rTop, 5) < 1 ? 1 : std::ceil(niceStep(rTop, 5));
  const double tStep = niceStep(tMax - tMin, 8);

  auto x = [&](double t) { return left + (t - tMin) / (tMax - tMin) * plotW; };
  auto yB = [&](double b) { return top + plotH - b / bTop * plotH; };
  auto yR = [&](double r) { return top + plotH - r / rTop * plotH; };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">"
    << xmlEscape(title) << "</text>\n";
  // Grid and left axis (backlog).
  for (double b = 0; b <= bTop + bStep / 2; b += bStep) {
    o << "<line x1=\"" << left << "\" x2=\"" << left + plotW << "\" y1=\"" << fmt(yB(b), 1)
      << "\" y2=\"" << fmt(yB(b), 1) << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<text x=\"" << left - 8 << "\" y=\"" << fmt(yB(b) + 4, 1)
      << "\" text-anchor=\"end\" fill=\"#1f77b4\">" << humanCount(b) << "</text>\n";
  }
  // Right axis (replicas).
  for (double r = 0; r <= rTop + 0.01; r += rStep) {
    o << "<text x=\"" << left + plotW + 8 << "\" y=\"" << fmt(yR(r) + 4, 1)
      << "\" fill=\"#d62728\">" << fmt(r, 0) << "</text>\n";
  }
  // Time axis.
  for (double t = 0; tMin + t <= tMax + tStep / 100; t += tStep) {
    o << "<text x=\"" << fmt(x(tMin + t), 1) << "\" y=\"" << top + plotH + 18
      << "\" text-anchor=\"middle\">" << fmt(t, 0) << "</text>\n";
  }
  o << "<text x=\"" << left + plotW / 2 << "\" y=\"" << H - 12
    << "\" text-anchor=\"middle\">time (s)</text>\n";
  o << "<text transform=\"translate(18," << top + plotH / 2
    << ") rotate(-90)\" text-anchor=\"middle\" fill=\"#1f77b4\">backlog (lag + pending)</text>\n";
  o << "<text transform=\"translate(" << W - 18 << "," << top + plotH / 2
    << ") rotate(90)\" text-anchor=\"middle\" fill=\"#d62728\">replicas</text>\n";
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plotW << "\" height=\"" << plotH
    << "\" fill=\"none\" stroke=\"#999\"/>\n";

  // Backlog as a filled area.
  if (!samples.empty()) {
    std::ostringstream pts;
    pts << fmt(x(samples.front().t), 1) << "," << fmt(yB(0), 1);
    for (const auto& s : samples) {
      pts << " " << fmt(x(s.t), 1) << "," << fmt(yB(static_cast<double>(s.backlog.value_or(0))), 1);
    }
    pts << " " << fmt(x(samples.back().t), 1) << "," << fmt(yB(0), 1);
    o << "<polygon points=\"" << pts.str()
      << "\" fill=\"#1f77b4\" fill-opacity=\"0.25\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\n";
    // Replicas (running) and desired as step lines.
    auto steps = [&](auto value) {
      std::ostringstream p;
      for (size_t i = 0; i < samples.size(); ++i) {
        const double v = value(samples[i]);
        if (i > 0) p << " " << fmt(x(samples[i].t), 1) << "," << fmt(yR(value(samples[i - 1])), 1);
        p << (i ? " " : "") << fmt(x(samples[i].t), 1) << "," << fmt(yR(v), 1);
      }
      return p.str();
    };
    o << "<polyline points=\"" << steps([](const HistorySample& s) { return double(s.desired); })
      << "\" fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"/>\n";
    o << "<polyline points=\"" << steps([](const HistorySample& s) { return double(s.replicas); })
      << "\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2.5\"/>\n";
  }
  // Legend.
  const double ly = top - 14;
  o << "<rect x=\"" << left << "\" y=\"" << ly - 9 << "\" width=\"14\" height=\"10\" fill=\"#1f77b4\" "
       "fill-opacity=\"0.4\"/><text x=\""
    << left + 20 << "\" y=\"" << ly << "\">backlog</text>\n";
  o << "<line x1=\"" << left + 90 << "\" x2=\"" << left + 110 << "\" y1=\"" << ly - 4 << "\" y2=\""
    << ly - 4 << "\" stroke=\"#d62728\" stroke-width=\"2.5\"/><text x=\"" << left + 116
    << "\" y=\"" << ly << "\">replicas running</text>\n";
  o << "<line x1=\"" << left + 240 << "\" x2=\"" << left + 260 << "\" y1=\"" << ly - 4 << "\" y2=\""
    << ly - 4 << "\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"/><text x=\""
    << left + 266 << "\" y=\"" << ly << "\">replicas desired</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace shoal::local
