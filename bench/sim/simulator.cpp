// The discrete-time scaling simulator (see simulator.h for the model).
#include "shoal/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

namespace shoal::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Deterministic noise: a hash of (seed, stream, a, b) mapped to [0, 1). The
// same inputs give the same number on every platform and for every policy.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double uniform01(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b = 0) {
  uint64_t h = mix(seed ^ mix(stream ^ mix(a ^ mix(b))));
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}
enum Stream : uint64_t { kArrivalNoise = 1, kPodSpeed = 2, kPodStartup = 3, kPhase = 4 };

struct Pod {
  uint64_t id = 0;
  double readyAt = 0;
  bool terminating = false;
  double inflight = 0;
  int64_t speedSecond = -1;
  double speed = 0;
};

// A policy under test, asked at every step whether it wants to change the
// replica count.
class Driver {
 public:
  virtual ~Driver() = default;
  struct View {
    double t = 0;
    std::optional<int64_t> lag;  // nullopt: nil
    int64_t pending = 0;
    uint64_t entriesAdded = 0;
    uint64_t entriesRead = 0;
    int32_t current = 0;
    int32_t ready = 0;
  };
  virtual bool due(double t) const = 0;
  virtual int32_t decide(const View& v) = 0;
};

MonoTime simTime(double t) {
  return MonoTime{} + std::chrono::hours(1000) + seconds(t);
}

class ShoalDriver final : public Driver {
 public:
  ShoalDriver(policy::ScalingSpec spec, double phase, std::FILE* log)
      : spec_(std::move(spec)), next_(phase), log_(log) {}
  bool due(double t) const override { return t + 1e-9 >= next_; }
  int32_t decide(const View& v) override {
    next_ += spec_.scaling.pollIntervalSeconds;
    policy::Observation o;
    o.lag = v.lag;
    o.pending = v.pending;
    o.entriesAdded = v.entriesAdded;
    o.entriesRead = v.entriesRead;
    o.currentReplicas = v.current;
    o.readyReplicas = v.ready;
    auto d = policy::decide(spec_, state_, o, simTime(v.t));
    if (log_) {
      std::fprintf(log_, "t=%.1f lag=%s pending=%lld current=%d ready=%d raw=%.3f -> %d %s: %s\n",
                   v.t, v.lag ? std::to_string(*v.lag).c_str() : "nil",
                   static_cast<long long>(v.pending), v.current, v.ready, d.recommendedReplicas,
                   d.desiredReplicas, std::string(policy::reasonName(d.reason)).c_str(),
                   d.message.c_str());
    }
    return d.desiredReplicas;
  }

 private:
  policy::ScalingSpec spec_;
  policy::ScalingState state_;
  double next_;
  std::FILE* log_;
};

class KedaDriver final : public Driver {
 public:
  KedaDriver(KedaHpaConfig cfg, double pollPhase, double syncPhase)
      : model_(cfg, simTime(0), seconds(pollPhase), seconds(syncPhase)) {}
  bool due(double t) const override { return simTime(t) >= model_.nextEventAt(); }
  int32_t decide(const View& v) override {
    return model_.advance(simTime(v.t), KedaReading{true, v.lag}, v.current);
  }

 private:
  KedaHpaModel model_;
};

double lagThreshold(const Trace& tr, double t) {
  return std::max(100.0, tr.meanRate(t));
}

}  // namespace

double Trace::meanRate(double t) const {
  double r = 0;
  for (const auto& [from, rate] : rateSteps)
    if (t >= from) r = rate;
  if (sinePeriodSeconds > 0) r += sineAmplitude * std::sin(2 * kPi * t / sinePeriodSeconds);
  return std::max(0.0, r);
}

std::string policyName(PolicyKind k) {
  switch (k) {
    case PolicyKind::kShoal:
      return "shoal";
    case PolicyKind::kKedaCareful:
      return "keda-careful";
    case PolicyKind::kKedaCarefulBehavior:
      return "keda-careful-behavior";
    case PolicyKind::kKedaDefault:
      return "keda-default";
  }
  return "?";
}

const std::vector<PolicyKind>& allPolicies() {
  static const std::vector<PolicyKind> all{PolicyKind::kShoal, PolicyKind::kKedaCareful,
                                           PolicyKind::kKedaCarefulBehavior,
                                           PolicyKind::kKedaDefault};
  return all;
}

policy::ScalingSpec shoalSpecFor(const Workload& w) {
  policy::ScalingSpec s;
  s.scaling = w.shoalScaling;  // defaults unless the caller changed them
  s.minReplicas = w.minReplicas;
  s.maxReplicas = w.maxReplicas;
  s.scaling.drainSeconds = w.drainSeconds;
  s.scaling.perReplicaThroughput = w.perPodThroughput;
  s.scaling.podStartupSeconds = w.podStartupSeconds;
  return s;
}

KedaHpaConfig kedaConfigFor(const Workload& w, PolicyKind k) {
  KedaHpaConfig c;  // KEDA's and the HPA's defaults
  c.minReplicaCount = w.minReplicas;
  c.maxReplicaCount = w.maxReplicas;
  if (k == PolicyKind::kKedaCareful || k == PolicyKind::kKedaCarefulBehavior) {
    c.lagCount = static_cast<int64_t>(std::llround(w.perPodThroughput * w.drainSeconds));
  }
  if (k == PolicyKind::kKedaCarefulBehavior) c.behavior = HpaBehavior::kExplicitDefault;
  return c;
}

RunResult simulate(const Trace& tr, const Workload& w, PolicyKind kind, const SimOptions& opt) {
  RunResult res;
  res.trace = tr.name;
  res.policy = kind;
  res.durationSeconds = tr.durationSeconds;
  const double dt = opt.stepSeconds;
  const uint64_t seed = opt.seed;

  std::unique_ptr<Driver> driver;
  if (kind == PolicyKind::kShoal) {
    auto spec = shoalSpecFor(w);
    driver = std::make_unique<ShoalDriver>(
        spec, uniform01(seed, kPhase, 1) * spec.scaling.pollIntervalSeconds, opt.decisionLog);
  } else {
    auto cfg = kedaConfigFor(w, kind);
    driver =
        std::make_unique<KedaDriver>(cfg, uniform01(seed, kPhase, 2) * cfg.pollingIntervalSeconds,
                                     uniform01(seed, kPhase, 3) * cfg.hpaSyncPeriodSeconds);
  }

  double added = 0, read = 0, acked = 0;
  std::vector<Pod> pods;
  uint64_t nextPodId = 1;
  const int32_t initial = std::max(w.minReplicas, 0);
  for (int32_t i = 0; i < initial; ++i) pods.push_back(Pod{nextPodId++, 0, false, 0, -1, 0});

  struct Change {
    double t;
    int32_t from;
    int32_t to;
  };
  std::vector<Change> changes;
  struct LagPoint {
    double t;
    double lag;
  };
  // Per event: formed / drained times, tracked online.
  std::vector<std::optional<double>> formedAt(tr.events.size()), drainedAt(tr.events.size());

  const double bucket = std::max(dt, std::round(tr.durationSeconds / opt.chartPoints / dt) * dt);
  double bucketStart = 0, bucketMaxBacklog = 0;
  bool bucketOpen = false;

  auto activeCount = [&] {
    int32_t n = 0;
    for (const auto& p : pods) n += p.terminating ? 0 : 1;
    return n;
  };

  const int64_t steps = static_cast<int64_t>(std::llround(tr.durationSeconds / dt));
  for (int64_t step = 0; step < steps; ++step) {
    const double t = static_cast<double>(step) * dt;

    // 1. Arrivals.
    const int64_t second = static_cast<int64_t>(std::floor(t));
    double noise = 1.0;
    if (tr.noiseFraction > 0)
      noise = 1.0 + tr.noiseFraction *
                        (2 * uniform01(seed, kArrivalNoise, static_cast<uint64_t>(second)) - 1);
    double arriving = tr.meanRate(t) * noise * dt;
    for (const auto& b : tr.bursts) {
      if (t + 1e-9 >= b.at && t < b.at + b.overSeconds - 1e-9)
        arriving += b.entries * dt / b.overSeconds;
    }
    added += arriving;

    // 2. Consumption.
    double lag = added - read;
    for (auto& p : pods) {
      if (t < p.readyAt) continue;
      if (p.speedSecond != second) {
        p.speedSecond = second;
        p.speed =
            w.perPodThroughput *
            (1.0 + w.podSpeedNoise *
                       (2 * uniform01(seed, kPodSpeed, p.id, static_cast<uint64_t>(second)) - 1));
      }
      double capacity = p.speed * dt;
      while (capacity > 1e-12) {
        if (p.inflight <= 1e-12) {
          if (p.terminating) break;
          double take = std::min(lag, static_cast<double>(w.batchSize));
          if (take <= 1e-12) break;
          p.inflight = take;
          read += take;
          lag -= take;
        }
        double done = std::min(p.inflight, capacity);
        p.inflight -= done;
        capacity -= done;
        acked += done;
      }
    }
    std::erase_if(pods, [&](const Pod& p) {
      return p.terminating && (p.inflight <= 1e-12 || t < p.readyAt);
    });

    double pending = 0;
    int32_t ready = 0;
    for (const auto& p : pods) {
      pending += p.inflight;
      if (!p.terminating && t >= p.readyAt) ++ready;
    }
    const double backlog = lag + pending;
    res.maxBacklog = std::max(res.maxBacklog, backlog);
    res.replicaSeconds += static_cast<double>(pods.size()) * dt;
    res.meanBacklog += backlog * dt / tr.durationSeconds;

    // 3. Events: backlog formed and drained.
    for (size_t i = 0; i < tr.events.size(); ++i) {
      const double start = tr.events[i].at;
      const double end = i + 1 < tr.events.size() ? tr.events[i + 1].at : tr.durationSeconds;
      if (t < start || t >= end) continue;
      double threshold = lagThreshold(tr, t);
      if (!formedAt[i] && lag > threshold) formedAt[i] = t;
      if (formedAt[i] && !drainedAt[i] && lag <= threshold) drainedAt[i] = t;
    }

    // 4. The policy.
    const int32_t current = activeCount();
    if (driver->due(t)) {
      Driver::View v;
      v.t = t;
      const bool nil = tr.nilLagFrom && t >= *tr.nilLagFrom && t < tr.nilLagUntil;
      if (!nil) v.lag = static_cast<int64_t>(std::floor(lag + 1e-9));
      v.pending = static_cast<int64_t>(std::ceil(pending - 1e-9));
      v.entriesAdded = static_cast<uint64_t>(std::floor(added + 1e-9));
      v.entriesRead = static_cast<uint64_t>(std::floor(read + 1e-9));
      v.current = current;
      v.ready = ready;
      int32_t desired = std::clamp(driver->decide(v), 0, 10'000);
      if (desired != current) {
        changes.push_back({t, current, desired});
        if (desired < current) {
          // Was it premature? Judged on the true state, not on what the
          // policy could see.
          double lambda = tr.meanRate(t);
          double net = desired * w.perPodThroughput - lambda;
          bool cannotDrain = backlog >= 1 && (net <= 0 || backlog / net > w.drainSeconds);
          if (cannotDrain) ++res.falseScaleDowns;
          if (desired == 0 && backlog >= 1) ++res.falseScaleToZero;
          int32_t toRemove = current - desired;
          // Not-ready pods first, then the newest.
          for (int pass = 0; pass < 2 && toRemove > 0; ++pass) {
            for (auto it = pods.rbegin(); it != pods.rend() && toRemove > 0; ++it) {
              if (it->terminating) continue;
              bool notReady = t < it->readyAt;
              if ((pass == 0) != notReady) continue;
              it->terminating = true;
              --toRemove;
            }
          }
          std::erase_if(pods, [&](const Pod& p) { return p.terminating && t < p.readyAt; });
        } else {
          for (int32_t i = current; i < desired; ++i) {
            double startup =
                w.podStartupSeconds * (0.8 + 0.4 * uniform01(seed, kPodStartup, nextPodId));
            pods.push_back(Pod{nextPodId++, t + startup, false, 0, -1, 0});
          }
        }
      }
    }

    // 5. Chart series.
    if (!bucketOpen) {
      bucketOpen = true;
      bucketStart = t;
      bucketMaxBacklog = backlog;
    }
    bucketMaxBacklog = std::max(bucketMaxBacklog, backlog);
    if (t + dt >= bucketStart + bucket - 1e-9 || step + 1 == steps) {
      res.seriesTime.push_back(bucketStart);
      res.seriesBacklog.push_back(bucketMaxBacklog);
      res.seriesReplicas.push_back(activeCount());
      bucketOpen = false;
    }
  }
  res.entriesAdded = added;
  res.entriesAcked = acked;
  res.scaleChanges = static_cast<int32_t>(changes.size());

  // Reversals: sign flips between consecutive changes.
  int lastSign = 0;
  for (const auto& c : changes) {
    int sign = c.to > c.from ? 1 : -1;
    if (lastSign != 0 && sign != lastSign) ++res.reversals;
    lastSign = sign;
  }
  res.reversalsPerHour = res.reversals / (tr.durationSeconds / 3600.0);

  // Per-event figures.
  for (size_t i = 0; i < tr.events.size(); ++i) {
    const auto& ev = tr.events[i];
    const double end = i + 1 < tr.events.size() ? tr.events[i + 1].at : tr.durationSeconds;
    EventResult er;
    er.label = ev.label;
    er.at = ev.at;
    for (const auto& b : tr.bursts)
      if (b.at >= ev.at && b.at < end && b.at < ev.at + 5) er.sizeEntries += b.entries;
    er.backlogFormed = formedAt[i].has_value();
    if (drainedAt[i]) er.drainSeconds = *drainedAt[i] - ev.at;
    const double lambdaAfter = tr.meanRate(ev.at + 5);
    const double maxNet = w.maxReplicas * w.perPodThroughput - lambdaAfter;
    er.feasible = maxNet > 0 && w.podStartupSeconds + er.sizeEntries / maxNet <= w.drainSeconds;
    std::optional<double> from;
    if (!er.backlogFormed)
      from = ev.at;
    else if (drainedAt[i])
      from = *drainedAt[i];
    if (from) {
      double last = *from;
      for (const auto& c : changes)
        if (c.t >= *from && c.t < end) last = c.t;
      er.settleAfterDrainSeconds = last - *from;
    }
    res.events.push_back(er);
  }
  return res;
}

double RunResult::meanWaitSeconds() const {
  double rate = entriesAdded / durationSeconds;
  return rate > 0 ? meanBacklog / rate : 0;
}

std::optional<double> RunResult::meanDrainSeconds() const {
  double sum = 0;
  int n = 0;
  for (const auto& e : events) {
    if (!e.backlogFormed) continue;
    if (!e.drainSeconds) return std::nullopt;  // one never drained: no finite mean
    sum += *e.drainSeconds;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

std::optional<double> RunResult::maxDrainSeconds() const {
  std::optional<double> m;
  for (const auto& e : events) {
    if (!e.backlogFormed) continue;
    if (!e.drainSeconds) return std::nullopt;
    m = std::max(m.value_or(0), *e.drainSeconds);
  }
  return m;
}

std::optional<double> RunResult::maxSettleSeconds() const {
  std::optional<double> m;
  for (const auto& e : events) {
    if (!e.settleAfterDrainSeconds) continue;
    m = std::max(m.value_or(0), *e.settleAfterDrainSeconds);
  }
  return m;
}

int32_t RunResult::deadlineEvents() const {
  int32_t n = 0;
  for (const auto& e : events) n += (e.feasible && e.backlogFormed && e.sizeEntries > 0) ? 1 : 0;
  return n;
}

int32_t RunResult::deadlineMet(double drainSeconds) const {
  int32_t n = 0;
  for (const auto& e : events) {
    if (!(e.feasible && e.backlogFormed && e.sizeEntries > 0)) continue;
    if (e.drainSeconds && *e.drainSeconds <= drainSeconds) ++n;
  }
  return n;
}

std::vector<Trace> standardTraces(uint64_t seed) {
  auto u = [&](uint64_t a, uint64_t b = 0) { return uniform01(seed, 100, a, b); };
  std::vector<Trace> out;
  {
    Trace t;
    t.name = "burst_10k";
    t.description = "10,000 entries at once into an idle stream";
    t.durationSeconds = 900;
    double at = 30 + 10 * u(1);
    t.bursts.push_back({at, 10'000, 1});
    t.events.push_back({at, "burst 10k"});
    out.push_back(t);
  }
  {
    Trace t;
    t.name = "burst_100k";
    t.description = "100,000 entries within 2 s into an idle stream";
    t.durationSeconds = 900;
    double at = 30 + 10 * u(2);
    t.bursts.push_back({at, 100'000, 2});
    t.events.push_back({at, "burst 100k"});
    out.push_back(t);
  }
  {
    Trace t;
    t.name = "step";
    t.description = "100/s, a step to 1000/s at 300 s, back to 100/s at 1200 s";
    t.durationSeconds = 1800;
    t.rateSteps = {{0, 100}, {300, 1000}, {1200, 100}};
    t.noiseFraction = 0.05;
    t.events = {{300, "step up"}, {1200, "step down"}};
    out.push_back(t);
  }
  {
    Trace t;
    t.name = "diurnal";
    t.description = "1000/s ± 600/s sine over 4 h, ±20 % noise per second";
    t.durationSeconds = 4 * 3600;
    t.rateSteps = {{0, 1000}};
    t.sineAmplitude = 600;
    t.sinePeriodSeconds = 4 * 3600;
    t.noiseFraction = 0.2;
    out.push_back(t);
  }
  {
    Trace t;
    t.name = "spikes";
    t.description = "200/s ±10 %, random spikes of 5k-60k entries (mean every 10 min) over 2 h";
    t.durationSeconds = 2 * 3600;
    t.rateSteps = {{0, 200}};
    t.noiseFraction = 0.1;
    double at = 60;
    for (uint64_t i = 0; i < 64; ++i) {
      at += std::max(120.0, -600.0 * std::log(1.0 - u(10, i)));
      if (at > t.durationSeconds - 400) break;
      double size = std::round(5'000 + 55'000 * u(11, i));
      t.bursts.push_back({at, size, 2});
      t.events.push_back({at, "spike"});
    }
    out.push_back(t);
  }
  {
    Trace t;
    t.name = "nil_lag";
    t.description = "300/s with a 20k burst at 60 s; the group's lag reads nil from 300 s on";
    t.durationSeconds = 1200;
    t.rateSteps = {{0, 300}};
    t.noiseFraction = 0.1;
    t.bursts.push_back({60, 20'000, 1});
    t.events.push_back({60, "burst 20k"});
    t.nilLagFrom = 300;
    out.push_back(t);
  }
  return out;
}

}  // namespace shoal::sim
