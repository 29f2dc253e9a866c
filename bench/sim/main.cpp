// shoal-sim: runs every standard trace against Shoal's policy and the KEDA+HPA
// models, prints `bench:` lines, and writes the table and one SVG per trace.
//   shoal-sim [--out DIR] [--seed N] [--trace NAME] [--log-decisions] [--set KEY=VALUE]...
// --set changes one Shoal spec field (headroom, deadBand, idleSeconds,
// pollIntervalSeconds, scaleDown.stabilizationSeconds, scaleDown.periodSeconds)
// or the workload (minReplicas, maxReplicas, drainSeconds), for exploring tuning.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string>

#include "shoal/sim/simulator.h"

namespace {

using shoal::sim::PolicyKind;
using shoal::sim::RunResult;

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return static_cast<bool>(f);
}

void bench(const std::string& name, double value, const char* unit) {
  std::printf("bench: %s %.3f %s\n", name.c_str(), value, unit);
}

// shoal / keda, with a missing figure (never drained) as infinity.
double ratio(std::optional<double> shoal, std::optional<double> keda) {
  if (!shoal) return std::numeric_limits<double>::infinity();
  if (!keda) return 0;
  return *keda > 0 ? *shoal / *keda : (*shoal > 0 ? std::numeric_limits<double>::infinity() : 1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  std::string only;
  uint64_t seed = 1;
  bool logDecisions = false;
  std::vector<std::string> sets;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out" && i + 1 < argc)
      out = argv[++i];
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--trace" && i + 1 < argc)
      only = argv[++i];
    else if (a == "--log-decisions")
      logDecisions = true;
    else if (a == "--set" && i + 1 < argc)
      sets.push_back(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: shoal-sim [--out DIR] [--seed N] [--trace NAME] [--log-decisions] "
                   "[--set KEY=VALUE]...\n");
      return 2;
    }
  }
  shoal::sim::Workload w;
  for (const auto& kv : sets) {
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    double v = eq == std::string::npos ? 0 : std::strtod(kv.c_str() + eq + 1, nullptr);
    auto& p = w.shoalScaling;
    if (key == "headroom")
      p.headroom = v;
    else if (key == "deadBand")
      p.deadBand = v;
    else if (key == "idleSeconds")
      p.idleSeconds = v;
    else if (key == "pollIntervalSeconds")
      p.pollIntervalSeconds = v;
    else if (key == "scaleDown.stabilizationSeconds")
      p.scaleDown.stabilizationSeconds = v;
    else if (key == "scaleDown.periodSeconds")
      p.scaleDown.periodSeconds = v;
    else if (key == "maxReplicas")
      w.maxReplicas = static_cast<int32_t>(v);
    else if (key == "minReplicas")
      w.minReplicas = static_cast<int32_t>(v);
    else if (key == "drainSeconds")
      w.drainSeconds = v;
    else {
      std::fprintf(stderr, "unknown --set key %s\n", key.c_str());
      return 2;
    }
  }
  shoal::sim::SimOptions opt;
  opt.seed = seed;
  if (logDecisions) opt.decisionLog = stderr;
  std::vector<RunResult> all;
  std::vector<shoal::sim::Trace> traces;
  for (auto& t : shoal::sim::standardTraces(seed)) {
    if (!only.empty() && t.name != only) continue;
    traces.push_back(t);
  }
  if (traces.empty()) {
    std::fprintf(stderr, "no trace named %s\n", only.c_str());
    return 2;
  }
  int falseZero = 0;
  int deadlineMet = 0, deadlineEvents = 0;
  double worstSettle = 0;
  for (const auto& t : traces) {
    std::map<PolicyKind, RunResult> by;
    for (PolicyKind k : shoal::sim::allPolicies()) {
      by[k] = shoal::sim::simulate(t, w, k, opt);
      all.push_back(by[k]);
    }
    const auto& s = by[PolicyKind::kShoal];
    const auto& kc = by[PolicyKind::kKedaCareful];
    const auto& kd = by[PolicyKind::kKedaDefault];
    bool events = !s.events.empty();
    bench("sim_" + t.name + "_replica_seconds_ratio", s.replicaSeconds / kc.replicaSeconds,
          "ratio");
    bench("sim_" + t.name + "_replica_seconds_ratio_default", s.replicaSeconds / kd.replicaSeconds,
          "ratio");
    bench("sim_" + t.name + "_drain_time_ratio",
          events ? ratio(s.meanDrainSeconds(), kc.meanDrainSeconds())
                 : ratio(s.meanWaitSeconds(), kc.meanWaitSeconds()),
          "ratio");
    bench("sim_" + t.name + "_reversals_per_hour", s.reversalsPerHour, "per_hour");
    falseZero += s.falseScaleToZero;
    deadlineMet += s.deadlineMet(w.drainSeconds);
    deadlineEvents += s.deadlineEvents();
    if (auto v = s.maxSettleSeconds()) worstSettle = std::max(worstSettle, *v);
    if (!out.empty()) {
      std::string path = out + "/sim_" + t.name + ".svg";
      if (!writeFile(path, shoal::sim::renderSvg(t, all))) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        return 1;
      }
    }
  }
  bench("sim_false_scale_to_zero", falseZero, "count");
  std::fprintf(stderr,
               "# shoal: drainSeconds deadline met in %d of %d feasible bursts; "
               "longest drain-to-final-replicas %.0f s\n",
               deadlineMet, deadlineEvents, worstSettle);
  std::string table = shoal::sim::renderTable(all, w);
  if (!out.empty()) {
    std::string path = out + "/sim_table.md";
    if (!writeFile(path, table)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
    std::fprintf(stderr, "# wrote %s and sim_<trace>.svg\n", path.c_str());
  } else {
    std::fputs(table.c_str(), stderr);
  }
  return 0;
}
