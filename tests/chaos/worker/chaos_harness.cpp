// The fault-suite harness: real redis-server, shoal-bulk-server, shoal-loadgen
// and shoal-worker processes, and the accounting at the end of a run.
#include "chaos_harness.h"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "shoal/common/clock.h"
#include "shoal/redis/client.h"

namespace shoal::chaos {
using namespace shoal::testing;

namespace {
std::string bin(const std::string& rel) {
  return std::string(SHOAL_BINARY_DIR) + "/" + rel;
}

redis::Client client(RedisServer& r) {
  auto o = redis::parseUrl(r.url());
  if (!o) throw std::runtime_error(o.error().message);
  if (!r.caFile().empty()) o->tls.caFile = r.caFile();
  return redis::Client(*o, SystemClock::instance());
}

// All entry ids of a stream (and, for the dead-letter stream, the original ids).
std::vector<redis::Reply> rangeAll(redis::Client& c, const std::string& stream) {
  std::vector<redis::Reply> out;
  std::string start = "-";
  while (true) {
    auto r = c.command({"XRANGE", stream, start, "+", "COUNT", "10000"});
    if (!r || !r->isArray() || r->elements.empty()) break;
    for (auto& e : r->elements) out.push_back(e);
    start = "(" + r->elements.back().elements[0].str;
  }
  return out;
}
}  // namespace

bool longForm() {
  const char* v = std::getenv("SHOAL_CHAOS");
  return v && std::string(v) == "long";
}

// ------------------------------------------------------------ BulkServer
BulkServer::BulkServer(int threads) {
  port_ = freePort();
  proc_ = Process(
      Process::Options{.argv = {bin("tests/tools/bulk_server/shoal-bulk-server"), "--port",
                                std::to_string(port_), "--threads", std::to_string(threads)},
                       .stdoutPath = dir_.file("bulk.out"),
                       .stderrPath = dir_.file("bulk.err")});
  if (!waitUntil([&] { return portOpen(port_); }, std::chrono::seconds(20)))
    throw std::runtime_error("shoal-bulk-server did not start");
}

bool BulkServer::control(const std::string& method, const std::string& path,
                         const std::string& body) {
  int st = 0;
  httpRequest(port_, method, path, body, &st);
  return st >= 200 && st < 300;
}

std::set<std::string> BulkServer::ids(const std::string& index) {
  int st = 0;
  auto body = httpGet(port_, "/_shoal/stats?ids=true", &st);
  std::set<std::string> out;
  if (st != 200) return out;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("ids") || !j["ids"].contains(index)) return out;
  for (auto& id : j["ids"][index]) out.insert(id.get<std::string>());
  return out;
}

int64_t BulkServer::conflicts() {
  auto j = nlohmann::json::parse(httpGet(port_, "/_shoal/stats"), nullptr, false);
  return j.is_discarded() ? 0 : j.value("conflicts", int64_t{0});
}

// -------------------------------------------------------------- Scenario
Scenario::Scenario(Options o) : opts_(std::move(o)) {
  redis_ = std::make_unique<RedisServer>(opts_.redis);
  configPath_ = writeConfig();
}

Scenario::~Scenario() {
  for (auto& w : workers_) w->stop(std::chrono::seconds(2));
}

std::string Scenario::writeConfig() {
  std::string path = dir_.file("pipeline.yaml");
  std::ofstream f(path);
  f << "apiVersion: shoal.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: chaos\nspec:\n"
    << "  type: logs\n"
    << "  source:\n    redis:\n"
    << "      stream: " << opts_.stream << "\n"
    << "      consumerGroup: shoal\n      startId: \"0\"\n      maxDeliveries: 1000\n"
    << "      claimMinIdleMs: " << opts_.claimMinIdleMs << "\n      claimIntervalMs: 250\n"
    << "      connectTimeoutMs: 1000\n      readTimeoutMs: " << opts_.readTimeoutMs << "\n"
    << "      blockMs: 200\n";
  if (!redis_->caFile().empty())
    f << "      tls:\n        enabled: true\n        caFile: " << redis_->caFile() << "\n";
  f << "  transform:\n    logs:\n      format: auto\n"
    << "  sink:\n    elasticsearch:\n      url: " << sink_.url() << "\n      index: " << opts_.index
    << "\n      timeoutMs: " << opts_.sinkTimeoutMs << "\n      connectTimeoutMs: 500\n"
    << "  delivery:\n    batchSize: 500\n    lingerMs: 5\n    retryInitialMs: 20\n    retryMaxMs: "
       "500\n"
    << "    shutdownTimeoutMs: 10000\n";
  return path;
}

void Scenario::preload(int64_t n, int64_t invalidEvery) {
  std::string cmd = bin("runtime/loadgen/shoal-loadgen") + " --quiet --redis " + redis_->url() +
                    " --stream " + opts_.stream +
                    " --kind json --payload-bytes 300 --pipeline 1000" + " --total " +
                    std::to_string(n) + " --invalid-every " + std::to_string(invalidEvery) +
                    " --seed " + std::to_string(sent_ + 1);
  runCommand(cmd + " >/dev/null");
  sent_ += n;
}

size_t Scenario::startWorker() {
  const int n = nextWorker_++;
  auto p = std::make_unique<Process>(
      Process::Options{.argv = {bin("runtime/worker/shoal-worker"), "--config", configPath_,
                                "--listen", "127.0.0.1:0", "--log-level", "warn"},
                       .env = {{"SHOAL_CONSUMER_NAME", "chaos-worker-" + std::to_string(n)},
                               {"SHOAL_REDIS_URL", redis_->url()}},
                       .stdoutPath = dir_.file("worker-" + std::to_string(n) + ".log"),
                       .stderrPath = dir_.file("worker-" + std::to_string(n) + ".log")});
  workers_.push_back(std::move(p));
  return workers_.size() - 1;
}

void Scenario::killWorker(size_t i) {
  workers_[i]->signal(SIGKILL);
  workers_[i]->wait(std::chrono::seconds(10));
  workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
}

bool Scenario::workerAlive(size_t i) {
  return workers_[i]->running();
}

bool Scenario::stopWorkers() {
  bool ok = true;
  for (auto& w : workers_) w->signal(SIGTERM);
  for (auto& w : workers_) {
    auto st = w->wait(std::chrono::seconds(30));
    if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) ok = false;
  }
  workers_.clear();
  return ok;
}

int64_t Scenario::deliveredCount() {
  return static_cast<int64_t>(sink_.ids(opts_.index).size());
}

int64_t Scenario::deadLetterCount() {
  return chaos::deadLetterCount(*redis_, opts_.stream);
}

int64_t Scenario::pendingCount() {
  return chaos::pendingCount(*redis_, opts_.stream, "shoal");
}

bool Scenario::waitSettled(std::chrono::milliseconds deadline) {
  return waitUntil(
      [&] { return deliveredCount() + deadLetterCount() >= sent_ && pendingCount() == 0; },
      deadline, std::chrono::milliseconds(250));
}

Tally Scenario::tally() {
  int64_t foreign = 0;
  auto delivered = entryIdsOf(sink_.ids(opts_.index), opts_.stream, &foreign);
  Tally t = account(*redis_, opts_.stream, "shoal", delivered, foreign);
  t.sent = sent_;
  t.redelivered = sink_.conflicts();
  return t;
}

int64_t pendingCount(RedisServer& redis, const std::string& stream, const std::string& group) {
  auto c = client(redis);
  auto s = c.pendingSummary(stream, group);
  return s ? s->count : -1;
}

int64_t deadLetterCount(RedisServer& redis, const std::string& stream) {
  auto c = client(redis);
  auto r = c.command({"XLEN", stream + ":dead"});
  return r && r->kind == redis::Reply::Kind::kInteger ? r->integer : 0;
}

std::set<std::string> entryIdsOf(const std::set<std::string>& docIds, const std::string& stream,
                                 int64_t* foreign) {
  const std::string prefix = stream + "/";
  std::set<std::string> out;
  for (auto& id : docIds) {
    if (id.rfind(prefix, 0) == 0)
      out.insert(id.substr(prefix.size()));
    else if (foreign)
      ++*foreign;
  }
  return out;
}

std::vector<std::string> addEntries(RedisServer& redis, const std::string& stream,
                                    const std::string& field,
                                    const std::vector<std::string>& payloads) {
  auto c = client(redis);
  std::vector<std::string> ids;
  ids.reserve(payloads.size());
  constexpr size_t kRound = 1000;
  for (size_t at = 0; at < payloads.size(); at += kRound) {
    std::vector<redis::Command> cmds;
    for (size_t i = at; i < std::min(payloads.size(), at + kRound); ++i)
      cmds.push_back({"XADD", stream, "*", field, payloads[i]});
    auto r = c.pipeline(cmds);
    if (!r) throw std::runtime_error("XADD failed: " + r.error().message);
    for (auto& reply : *r) {
      if (!reply.isString()) throw std::runtime_error("XADD refused");
      ids.push_back(reply.str);
    }
  }
  return ids;
}

Tally account(RedisServer& redis, const std::string& stream, const std::string& group,
              const std::set<std::string>& deliveredIds, int64_t duplicates) {
  Tally t;
  auto c = client(redis);
  std::set<std::string> sentIds;
  for (auto& e : rangeAll(c, stream)) sentIds.insert(e.elements[0].str);
  std::set<std::string> deadIds;
  for (auto& e : rangeAll(c, stream + ":dead")) {
    auto& f = e.elements[1].elements;
    for (size_t i = 0; i + 1 < f.size(); i += 2)
      if (f[i].str == "shoal.original_id") deadIds.insert(f[i + 1].str);
  }
  t.sent = static_cast<int64_t>(sentIds.size());
  for (auto& id : deliveredIds)
    if (sentIds.count(id)) ++t.delivered;
  t.duplicates = duplicates;
  t.deadLettered = static_cast<int64_t>(deadIds.size());
  for (auto& id : sentIds)
    if (!deliveredIds.count(id) && !deadIds.count(id)) ++t.lost;
  t.pending = pendingCount(redis, stream, group);
  return t;
}

std::string Tally::line(const std::string& scenario) const {
  std::ostringstream s;
  s << "chaos: " << scenario << " sent=" << sent << " delivered=" << delivered
    << " duplicates=" << duplicates << " lost=" << lost << " dead_lettered=" << deadLettered
    << " pending=" << pending << " redelivered_absorbed=" << redelivered;
  return s.str();
}

std::string Scenario::logs() const {
  std::string out;
  for (int i = 0; i < nextWorker_; ++i) {
    auto l = Process::readFile(dir_.file("worker-" + std::to_string(i) + ".log"));
    if (l.size() > 3000) l = "..." + l.substr(l.size() - 3000);
    out += "--- worker " + std::to_string(i) + "\n" + l;
  }
  return out;
}

}  // namespace shoal::chaos
