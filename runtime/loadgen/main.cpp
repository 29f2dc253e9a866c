// shoal-loadgen: sends synthetic logs or metric events into a Redis stream,
// or with --http posts them to shoal-receiver in NDJSON batches (each batch
// sent again after 429/503 until it is taken: http_batches.h).
// Modes combine: an initial burst, a steady rate, repeated bursts, a fixed
// total. A sharded pipeline's streams ("<stream>:{i}") are written by key
// hash, round robin, or with one hot shard; a Redis Cluster is reached
// through its seed nodes. Prints progress on stderr and one summary line on
// stdout.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "shoal/common/clock.h"
#include "shoal/http/client.h"
#include "shoal/http/url.h"
#include "shoal/loadgen/http_batches.h"
#include "shoal/loadgen/payloads.h"
#include "shoal/loadgen/spread.h"
#include "shoal/redis/client.h"
#include "shoal/redis_cluster/keyed_client.h"
#include "shoal/stream/shards.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

// A reply worth sending again after a pause: the cluster is failing over or
// a slot is moving, or the one command's outcome was an I/O error.
bool transient(const shoal::redis::Reply& r) {
  for (const char* word : {"CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK", "LOADING", "MASTERDOWN"})
    if (r.str.rfind(word, 0) == 0) return true;
  return r.str.find("redis:") != std::string::npos;  // our client's own error texts
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal-loadgen: write synthetic log lines or metric events into a Redis stream, or post them to "
               "shoal-receiver (--http)"};
  std::string url = "redis://127.0.0.1:6379";
  std::string stream = "logs";
  std::string kindName = "json";
  std::string field;
  int64_t total = 10000;
  double rate = 0;
  int64_t burst = 0;
  double burstEvery = 0;
  double duration = 0;
  size_t payloadBytes = 300;
  int64_t invalidEvery = 0;
  int64_t pipelineDepth = 256;
  int64_t maxLen = -1;
  uint64_t seed = 1;
  uint64_t firstSeq = 0;
  bool json = false;
  bool quiet = false;
  bool cluster = false;
  std::string spreadName = "round-robin";
  shoal::loadgen::Spread spread;
  std::string httpUrl;
  int64_t batch = 500;
  app.add_option("--redis", url, "Redis URL (redis:// or rediss://; env SHOAL_REDIS_URL)")
      ->envname("SHOAL_REDIS_URL");
  app.add_option("--stream", stream, "Stream key to XADD to (with --shards: the pipeline's stream name)");
  app.add_option("--shards", spread.shards, "Write the sharded pipeline's streams <stream>:{0}..{N-1} (1 = the stream itself)")
      ->check(CLI::Range(1, static_cast<int>(shoal::kMaxShards)));
  app.add_option("--spread", spreadName,
                 "How entries pick a shard: round-robin, key (hash of a host key, order kept per key) or hot:P "
                 "(shard 0 gets P percent)");
  app.add_option("--keys", spread.keys, "Distinct keys for --spread key")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_flag("--cluster", cluster, "--redis is a seed node of a Redis Cluster (commands follow MOVED/ASK)");
  app.add_option("--kind", kindName, "Payload kind: json, rfc5424, rfc3164, mixed (logs) or metrics");
  app.add_option("--field", field, "Entry field that holds the payload (default: message for logs, event for metrics)");
  app.add_option("--total", total, "Stop after this many entries (0 = no limit; then --duration or Ctrl-C ends it)");
  app.add_option("--rate", rate, "Steady entries per second after the first burst (0 = as fast as possible)");
  app.add_option("--burst", burst, "Entries sent at once, at the start and every --burst-every seconds");
  app.add_option("--burst-every", burstEvery, "Seconds between bursts (0 = only the first)");
  app.add_option("--duration", duration, "Stop after this many seconds (0 = no limit)");
  app.add_option("--payload-bytes", payloadBytes, "Approximate payload size in bytes");
  app.add_option("--invalid-every", invalidEvery, "Make every N-th entry malformed (0 = never)");
  app.add_option("--pipeline", pipelineDepth, "XADD commands per round trip")->check(CLI::Range(1, 100000));
  app.add_option("--maxlen", maxLen, "XADD MAXLEN ~ n (-1 = unbounded)");
  app.add_option("--seed", seed, "Random seed (payloads are deterministic for a seed)");
  app.add_option("--first-seq", firstSeq,
                 "Number the entries (the seq each payload carries) from this one, so that several runs stay "
                 "distinguishable");
  app.add_option("--http", httpUrl,
                 "Post NDJSON batches to shoal-receiver at this URL instead of XADD: its base (http://host:port; "
                 "logs go to /v1/logs, metrics to /v1/metrics) or the full path; --kind json or metrics");
  app.add_option("--batch", batch, "Entries per HTTP request with --http")->check(CLI::Range(int64_t{1}, int64_t{100000}));
  app.add_flag("--json", json, "Print the summary as JSON");
  app.add_flag("--quiet", quiet, "No progress on stderr");
  CLI11_PARSE(app, argc, argv);

  shoal::loadgen::PayloadKind kind;
  if (!shoal::loadgen::parsePayloadKind(kindName, kind)) {
    std::cerr << "shoal-loadgen: --kind: unknown payload kind '" << kindName << "'\n";
    return 2;
  }
  if (!shoal::loadgen::parseSpread(spreadName, spread)) {
    std::cerr << "shoal-loadgen: --spread: expected round-robin, key or hot:<0..100>, got '" << spreadName << "'\n";
    return 2;
  }
  if (field.empty()) field = kind == shoal::loadgen::PayloadKind::kMetric ? "event" : "message";
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  auto& clock = shoal::SystemClock::instance();

  // --http: the receiver picks the stream (its route); Redis is not contacted.
  std::unique_ptr<shoal::http::Transport> transport;
  std::unique_ptr<shoal::loadgen::BatchPoster> poster;
  if (!httpUrl.empty()) {
    if (kind != shoal::loadgen::PayloadKind::kJsonLog && kind != shoal::loadgen::PayloadKind::kMetric) {
      std::cerr << "shoal-loadgen: --http posts JSON objects: use --kind json or metrics, not '" << kindName << "'\n";
      return 2;
    }
    for (auto [given, name] : {std::pair{spread.shards > 1, "--shards"}, std::pair{cluster, "--cluster"},
                               std::pair{maxLen >= 0, "--maxlen"}, std::pair{invalidEvery > 0, "--invalid-every"}}) {
      if (given) {
        std::cerr << "shoal-loadgen: " << name << " is for XADD; with --http the receiver's route decides\n";
        return 2;
      }
    }
    auto u = shoal::http::parseUrl(httpUrl);
    if (!u) {
      std::cerr << "shoal-loadgen: --http: " << u.error().message << "\n";
      return 2;
    }
    shoal::http::ClientOptions co;
    co.url = u->origin();
    co.insecureSkipVerify = true;  // a load generator, often against a self-signed receiver
    auto made = shoal::http::makeClient(co);
    if (!made) {
      std::cerr << "shoal-loadgen: --http: " << made.error().message << "\n";
      return 2;
    }
    transport = std::move(*made);
    shoal::loadgen::BatchPoster::Options po;
    const bool bare = u->path.empty() || u->path == "/";
    po.path = bare ? (kind == shoal::loadgen::PayloadKind::kMetric ? "/v1/metrics" : "/v1/logs") : u->path;
    po.seed = seed;
    auto lastWarn = clock.now() - std::chrono::seconds(10);
    po.onRetry = [&clock, lastWarn, quiet](const shoal::http::Response& r) mutable {
      if (quiet && r.status != 0) return;  // throttling is the normal case; no answer is worth saying
      if (clock.now() - lastWarn < std::chrono::seconds(1)) return;
      lastWarn = clock.now();
      std::cerr << "shoal-loadgen: "
                << (r.status == 0 ? "no answer (" + r.error + ")" : "answered " + std::to_string(r.status))
                << "; sending the batch again\n";
    };
    poster = std::make_unique<shoal::loadgen::BatchPoster>(*transport, po, clock, [] { return g_stop != 0; });
    httpUrl = u->origin() + po.path;
  }

  auto opts = shoal::redis::parseUrl(url);
  if (!opts) {
    std::cerr << "shoal-loadgen: --redis: " << opts.error().message << "\n";
    return 2;
  }
  std::unique_ptr<shoal::redis::KeyedClient> client;  // none with --http
  if (!poster) {
    if (cluster) {
      shoal::redis::ClusterOptions co;
      co.seeds.push_back({opts->host, opts->port});
      co.node = *opts;
      client = std::make_unique<shoal::redis::KeyedClient>(std::move(co), clock);
    } else {
      client = std::make_unique<shoal::redis::KeyedClient>(*opts, clock);
    }
    if (auto c = client->pipeline(stream, {{"PING"}}); !c || (*c)[0].isError()) {
      std::cerr << "shoal-loadgen: cannot reach " << opts->describe() << ": "
                << (c ? (*c)[0].str : c.error().message) << "\n";
      return 1;
    }
  }
  const std::vector<std::string> streams = shoal::shardStreams(stream, spread.shards);
  shoal::loadgen::PayloadGenerator gen(kind, payloadBytes, seed);

  const auto start = clock.now();
  int64_t sent = 0, invalid = 0, errors = 0;
  int64_t accepted = 0, rejected = 0;  // --http: what the receiver's answers said
  int64_t burstsSent = 0;
  std::string firstId, lastId;
  double paced = 0;  // entries the steady rate allows so far
  auto lastProgress = start;
  auto lastTick = start;

  auto elapsed = [&] { return shoal::toSeconds(clock.now() - start); };
  auto done = [&] {
    if (g_stop) return true;
    if (total > 0 && sent >= total) return true;
    if (duration > 0 && elapsed() >= duration) return true;
    return false;
  };

  while (!done()) {
    // How many to send now: burst due, else what the rate allows.
    int64_t want = 0;
    const double t = elapsed();
    const int64_t burstsDue = burst <= 0 ? 0 : (burstEvery > 0 ? 1 + static_cast<int64_t>(t / burstEvery) : 1);
    if (burstsDue > burstsSent) {
      want = burst;
      ++burstsSent;
    } else if (rate <= 0) {
      if (burst > 0 && total <= 0 && duration <= 0 && burstEvery <= 0) break;  // one burst only
      if (burst > 0 && burstEvery > 0) {
        clock.sleepFor(std::chrono::milliseconds(20));  // between bursts
        continue;
      }
      want = poster ? batch : pipelineDepth;
    } else {
      const auto now = clock.now();
      paced += rate * shoal::toSeconds(now - lastTick);
      lastTick = now;
      if (paced < 1) {
        clock.sleepFor(std::chrono::milliseconds(2));
        continue;
      }
      want = static_cast<int64_t>(paced);
      paced -= static_cast<double>(want);
    }
    if (total > 0) want = std::min(want, total - sent);

    while (poster && want > 0 && !g_stop) {
      const int64_t n = std::min(want, batch);
      const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                clock.wallNow().time_since_epoch()).count();
      std::string body;
      body.reserve(static_cast<size_t>(n) * (payloadBytes + 64));
      for (int64_t i = 0; i < n; ++i) {
        body += gen.next(firstSeq + static_cast<uint64_t>(sent + i), nowMs);
        body += '\n';
      }
      auto taken = poster->post(body);
      if (!taken) {
        if (taken.error().code == shoal::Errc::kRetryable) break;  // stopped: this batch is not counted
        std::cerr << "shoal-loadgen: " << taken.error().message << "\n";
        return 1;
      }
      accepted += taken->accepted;
      rejected += taken->rejected;
      sent += n;
      want -= n;
    }
    while (!poster && want > 0 && !g_stop) {
      const int64_t n = std::min(want, pipelineDepth);
      // One batch per shard stream: on a cluster each goes to its own node.
      std::vector<std::vector<shoal::redis::Command>> perShard(streams.size());
      const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                clock.wallNow().time_since_epoch()).count();
      for (int64_t i = 0; i < n; ++i) {
        const uint64_t seq = firstSeq + static_cast<uint64_t>(sent + i);
        const bool bad = invalidEvery > 0 && (seq + 1) % static_cast<uint64_t>(invalidEvery) == 0;
        const size_t shard = static_cast<size_t>(spread.shardOf(seq));
        shoal::redis::Command c = {"XADD", streams[shard]};
        if (maxLen >= 0) {
          c.push_back("MAXLEN");
          c.push_back("~");
          c.push_back(std::to_string(maxLen));
        }
        c.push_back("*");
        c.push_back(field);
        c.push_back(bad ? gen.malformed(seq) : gen.next(seq, nowMs));
        if (bad) ++invalid;
        perShard[shard].push_back(std::move(c));
      }
      if (client->oneNode() && perShard.size() > 1) {  // one round trip for all shards
        for (size_t k = 1; k < perShard.size(); ++k)
          for (auto& c : perShard[k]) perShard[0].push_back(std::move(c));
        perShard.resize(1);
      }
      for (auto& cmds : perShard) {
        // Send until every command has its id; only failed ones go again.
        while (!cmds.empty() && !g_stop) {
          auto replies = client->pipeline(cmds[0][1], cmds);
          if (!replies) {
            ++errors;
            std::cerr << "shoal-loadgen: " << replies.error().message << " (retrying)\n";
            clock.sleepFor(std::max(client->retryDelay(), shoal::Duration(std::chrono::milliseconds(100))));
            continue;
          }
          std::vector<shoal::redis::Command> again;
          for (size_t k = 0; k < replies->size(); ++k) {
            const auto& r = (*replies)[k];
            if (!r.isError()) {
              if (firstId.empty()) firstId = r.str;
              lastId = r.str;
              continue;
            }
            if (!transient(r)) {
              std::cerr << "shoal-loadgen: XADD failed: " << r.str << "\n";
              return 1;
            }
            ++errors;
            again.push_back(std::move(cmds[k]));
          }
          if (!again.empty()) {
            std::cerr << "shoal-loadgen: " << again.size() << " entries refused for now (retrying)\n";
            clock.sleepFor(std::chrono::milliseconds(100));
          }
          cmds = std::move(again);
        }
      }
      sent += n;
      want -= n;
    }
    if (!quiet && clock.now() - lastProgress > std::chrono::seconds(1)) {
      lastProgress = clock.now();
      if (poster)
        std::fprintf(stderr, "shoal-loadgen: sent %lld in %.1fs (accepted %lld, throttled %lld times)\n",
                     static_cast<long long>(sent), elapsed(), static_cast<long long>(accepted),
                     static_cast<long long>(poster->counts().throttled));
      else
        std::fprintf(stderr, "shoal-loadgen: sent %lld in %.1fs\n", static_cast<long long>(sent), elapsed());
    }
  }

  const double secs = elapsed();
  const double perSecond = secs > 0 ? static_cast<double>(sent) / secs : 0.0;
  if (poster) {
    const auto& c = poster->counts();
    if (json) {
      nlohmann::json j = {{"url", httpUrl},         {"sent", sent},           {"accepted", accepted},
                          {"rejected", rejected},   {"requests", c.requests}, {"throttled", c.throttled},
                          {"unavailable", c.unavailable}, {"noResponse", c.noResponse}, {"seconds", secs},
                          {"ratePerSecond", perSecond}};
      std::cout << j.dump() << std::endl;
    } else {
      std::printf("loadgen: url=%s sent=%lld accepted=%lld rejected=%lld requests=%lld throttled=%lld "
                  "unavailable=%lld no_response=%lld seconds=%.2f rate=%.0f/s\n",
                  httpUrl.c_str(), static_cast<long long>(sent), static_cast<long long>(accepted),
                  static_cast<long long>(rejected), static_cast<long long>(c.requests),
                  static_cast<long long>(c.throttled), static_cast<long long>(c.unavailable),
                  static_cast<long long>(c.noResponse), secs, perSecond);
    }
    return 0;
  }
  if (json) {
    nlohmann::json j = {{"sent", sent},       {"invalid", invalid}, {"stream", stream}, {"shards", spread.shards},
                        {"firstId", firstId}, {"lastId", lastId},   {"seconds", secs},
                        {"ratePerSecond", secs > 0 ? static_cast<double>(sent) / secs : 0.0},
                        {"errors", errors}};
    std::cout << j.dump() << std::endl;
  } else {
    std::printf("loadgen: stream=%s shards=%d sent=%lld invalid=%lld seconds=%.2f rate=%.0f/s first=%s last=%s\n",
                stream.c_str(), spread.shards, static_cast<long long>(sent), static_cast<long long>(invalid), secs,
                secs > 0 ? static_cast<double>(sent) / secs : 0.0, firstId.c_str(), lastId.c_str());
  }
  return 0;
}
