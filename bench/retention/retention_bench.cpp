// Safe retention's trim step on a real redis-server 7.0, timed as the caller
// sees it (one EVAL round trip; Redis serves nothing else meanwhile):
//   retention_trim_ms_200k_acknowledged  200,000 acknowledged ~300-byte entries trimmed at once
//   retention_trim_ms_keep_10k           the same stream, keepAcknowledged.count 10,000 (its
//                                        maximum; the script pages through them with XREVRANGE)
//   retention_trim_noop_ms_10_groups     nothing to trim, 10 groups each with pending entries
//                                        (median of 200)
// Prints `bench: <name> <value> <unit>`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "shoal/probe/backlog_probe.h"
#include "shoal/redis/client.h"
#include "shoal/testing/servers.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void fill(shoal::redis::Client& c, const std::string& stream, int n) {
  const std::string payload(280, 'x');
  for (int i = 0; i < n; i += 1000) {
    std::vector<shoal::redis::Command> cmds;
    for (int k = 0; k < 1000 && i + k < n; ++k) cmds.push_back({"XADD", stream, "*", "msg", payload});
    if (!c.pipeline(cmds).ok()) std::abort();
  }
}

// Every entry read and acknowledged by group g (XGROUP SETID to the last id
// leaves nothing pending).
void allRead(shoal::redis::Client& c, const std::string& stream, const std::string& g) {
  if (!c.createGroup(stream, g, "0").ok()) std::abort();
  if (!c.command({"XGROUP", "SETID", stream, g, "$"}).ok()) std::abort();
}

double timedTrim(shoal::probe::BacklogProbe& probe, const shoal::probe::RedisTarget& t, const std::string& stream,
                 const shoal::probe::RetentionRule& rule, int64_t expectTrimmed) {
  const auto start = Clock::now();
  auto r = probe.trim(t, {stream}, rule, 0);
  const double took = ms(Clock::now() - start);
  if (!r[0].ok() || (expectTrimmed >= 0 && r[0]->trimmed != expectTrimmed)) {
    std::fprintf(stderr, "retention_bench: unexpected trim result\n");
    std::exit(1);
  }
  return took;
}

}  // namespace

int main() {
  shoal::testing::RedisServer server;
  auto& clock = shoal::SystemClock::instance();
  auto opts = shoal::redis::parseUrl(server.url());
  shoal::redis::Client c(*opts, clock);
  shoal::probe::BacklogProbe probe(shoal::probe::makeRedisStreamInspector(clock), clock);
  shoal::probe::RedisTarget t;
  t.address = "127.0.0.1:" + std::to_string(server.port());

  constexpr int kEntries = 200000;
  fill(c, "big", kEntries);
  allRead(c, "big", "a");
  allRead(c, "big", "b");
  std::printf("bench: retention_trim_ms_200k_acknowledged %.1f ms\n", timedTrim(probe, t, "big", {}, kEntries));

  fill(c, "keep", kEntries);
  allRead(c, "keep", "a");
  shoal::probe::RetentionRule keep;
  keep.keepCount = 10000;
  std::printf("bench: retention_trim_ms_keep_10k %.1f ms\n",
              timedTrim(probe, t, "keep", keep, kEntries - keep.keepCount));

  fill(c, "busy", 10000);
  for (int g = 0; g < 10; ++g) {
    const std::string name = "g" + std::to_string(g);
    if (!c.createGroup("busy", name, "0").ok()) std::abort();
    if (!c.readGroup("busy", name, "c", ">", 100, -1).ok()) std::abort();  // 100 pending each, none acked
  }
  std::vector<double> rounds;
  for (int i = 0; i < 200; ++i) rounds.push_back(timedTrim(probe, t, "busy", {}, 0));
  std::sort(rounds.begin(), rounds.end());
  std::printf("bench: retention_trim_noop_ms_10_groups %.3f ms\n", rounds[rounds.size() / 2]);
  return 0;
}
