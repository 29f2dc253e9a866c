// The `kubectl shoal` command line and the I/O of its subcommands (see cli.h).
#include "shoal/plugin/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <tuple>

#include "shoal/api/pipeline.h"
#include "shoal/api/worker_pool.h"
#include "shoal/controllers/kube_backends.h"
#include "shoal/controllers/worker_pool_controller.h"
#include "shoal/kube/client.h"
#include "shoal/plugin/dead_letters.h"
#include "shoal/plugin/pool_report.h"
#include "shoal/probe/redis_connection.h"
#include "shoal/redis/client.h"

namespace shoal::plugin {

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct GlobalFlags {
  std::string kubeconfig;
  std::string context;
  std::string ns;
  bool allNamespaces = false;
  std::string output = "table";
  double requestTimeoutSeconds = 30;
};

/// A failure to report: the message and the exit code.
struct Failure {
  std::string message;
  int code = kExitFailure;
};

/// The API server as one command uses it.
struct Cluster {
  std::shared_ptr<kube::Client> client;
  std::string server;
  std::string ns;  // the namespace to work in ("" with -A)
};

Result<Cluster> connect(const GlobalFlags& g) {
  auto cfg = kube::loadDefaultConfig(g.kubeconfig, g.context);
  if (!cfg.ok()) {
    return makeError(Errc::kInvalidInput, "cannot load a kubeconfig: " + cfg.error().message);
  }
  cfg.value().userAgent = "kubectl-shoal";
  cfg.value().timeout = std::chrono::milliseconds(
      static_cast<int64_t>(std::max(1.0, g.requestTimeoutSeconds) * 1000));
  auto client = kube::makeHttpClient(cfg.value());
  if (!client.ok()) {
    return makeError(Errc::kInvalidInput, "cannot use the kubeconfig: " + client.error().message);
  }
  Cluster c;
  c.client = client.value();
  c.server = cfg.value().server;
  c.ns = g.ns.empty() ? cfg.value().namespace_ : g.ns;
  if (c.ns.empty()) c.ns = "default";
  if (g.allNamespaces) c.ns = "";
  return c;
}

/// What an API error means for someone at a terminal.
std::string explainApiError(const kube::ApiError& e, const Cluster& c, const std::string& what) {
  if (e.code == 0) {
    return "cannot reach the Kubernetes API server at " + c.server + ": " + e.message;
  }
  if (e.isUnauthorized()) {
    return "the API server at " + c.server + " rejected the credentials: " + e.describe();
  }
  if (e.isForbidden()) return "not allowed to read " + what + ": " + e.message;
  if (e.isNotFound()) {
    const bool named = e.details.is_object() && e.details.contains("name");
    if (named) return e.message.empty() ? what + " not found" : e.message;
    return "the API server does not know Shoal's resources (reading " + what +
           "): are Shoal's CRDs installed? (kubectl apply -f crds/)";
  }
  return e.describe();
}

Result<std::vector<api::WorkerPool>> listPools(const Cluster& c, std::ostream& err) {
  auto page = c.client->listAll(controllers::workerPoolsResource(), c.ns);
  if (!page.ok()) {
    return makeError(Errc::kIo, explainApiError(page.error(), c, "workerpools.shoal.dev"));
  }
  std::vector<api::WorkerPool> pools;
  for (const auto& item : page.value().items) {
    auto p = api::workerPoolFromJson(item);
    if (!p.ok()) {
      err << "warning: skipping WorkerPool " << kube::keyOf(item) << ": " << p.error().message
          << "\n";
      continue;
    }
    pools.push_back(std::move(p.value()));
  }
  std::sort(pools.begin(), pools.end(), [](const api::WorkerPool& a, const api::WorkerPool& b) {
    return std::tie(a.metadata.namespace_, a.metadata.name) <
           std::tie(b.metadata.namespace_, b.metadata.name);
  });
  return pools;
}

Result<api::WorkerPool> getPool(const Cluster& c, const std::string& name) {
  auto got = c.client->get(controllers::workerPoolsResource(), c.ns, name);
  if (!got.ok()) {
    return makeError(Errc::kNotFound,
                     explainApiError(got.error(), c,
                                     "workerpool \"" + name + "\" in namespace \"" + c.ns + "\""));
  }
  auto p = api::workerPoolFromJson(got.value());
  if (!p.ok())
    return makeError(Errc::kInvalidInput, "WorkerPool " + name + ": " + p.error().message);
  return p;
}

Result<api::Pipeline> getPipeline(const Cluster& c, const std::string& name) {
  auto got = c.client->get(controllers::pipelinesResource(), c.ns, name);
  if (!got.ok()) {
    return makeError(
        Errc::kNotFound,
        explainApiError(got.error(), c, "pipeline \"" + name + "\" in namespace \"" + c.ns + "\""));
  }
  auto p = api::pipelineFromJson(got.value());
  if (!p.ok()) return makeError(Errc::kInvalidInput, "Pipeline " + name + ": " + p.error().message);
  return p;
}

/// Where and how to reach the Pipeline's Redis: the operator's own
/// resolution (spec address or URL, credentials and TLS material from the
/// Secrets it names), with --redis-url replacing the address. Credentials in
/// --redis-url win over the Secrets; then Secrets that cannot be read are no
/// failure (their TLS material is used when they can be).
Result<redis::ConnectionOptions> redisOptionsFor(const api::Pipeline& p, const Cluster& c,
                                                 const std::string& redisUrl) {
  std::optional<redis::ConnectionOptions> fromUrl;
  if (!redisUrl.empty()) {
    auto u = redis::parseUrl(redisUrl);
    if (!u.ok()) return makeError(Errc::kInvalidInput, "--redis-url: " + u.error().message);
    fromUrl = u.value();
  }
  const bool urlHasCredentials = fromUrl && !fromUrl->password.empty();
  SystemClock clock;
  controllers::KubeResourceStore store(*c.client, clock);
  auto target = controllers::redisTargetOf(p, store);
  probe::RedisTarget t;
  if (target.ok()) {
    t = target.value();
  } else if (urlHasCredentials) {
    t.tlsServerName = p.spec.redis.tlsServerName;
    t.tlsInsecureSkipVerify = p.spec.redis.tlsInsecureSkipVerify;
  } else {
    return makeError(Errc::kNotFound,
                     "reading the Pipeline's Redis credentials: " + target.error().message +
                         " (or pass them in --redis-url)");
  }
  if (fromUrl) {
    t.url = redisUrl;
    t.tls = fromUrl->tls.enabled;
  }
  auto o = probe::connectionOptionsFor(t);
  if (!o.ok())
    return makeError(Errc::kInvalidInput, "the Pipeline's Redis address: " + o.error().message);
  if (urlHasCredentials) {
    o.value().username = fromUrl->username;
    o.value().password = fromUrl->password;
  }
  o.value().connectTimeout = std::chrono::seconds(3);
  o.value().readTimeout = std::chrono::seconds(10);
  return o;
}

/// A Redis client for the Pipeline (one server, or its cluster through the
/// address as a seed node) that answered PING, or why not.
Result<std::unique_ptr<redis::KeyedClient>> openRedis(const api::Pipeline& p, const Cluster& c,
                                                      const std::string& redisUrl, Clock& clock) {
  auto opts = redisOptionsFor(p, c, redisUrl);
  if (!opts.ok()) return opts.error();
  std::unique_ptr<redis::KeyedClient> client;
  if (p.spec.redis.cluster) {
    redis::ClusterOptions co;
    co.seeds.push_back({opts.value().host, opts.value().port});
    co.node = opts.value();
    client = std::make_unique<redis::KeyedClient>(std::move(co), clock);
  } else {
    client = std::make_unique<redis::KeyedClient>(opts.value(), clock);
  }
  auto ping = client->pipeline(p.spec.redis.stream, {{"PING"}});
  if (!ping.ok() || ping.value().front().isError()) {
    std::string hint = redisUrl.empty()
                           ? " (if that address is only reachable inside the cluster, "
                             "port-forward to it and pass --redis-url redis://127.0.0.1:PORT)"
                           : "";
    return makeError(Errc::kIo, "cannot reach Redis at " + opts.value().describe() + ": " +
                                    (ping.ok() ? ping.value().front().str : ping.error().message) +
                                    hint);
  }
  return client;
}

/// A Pipeline with its dead-letter streams (one per shard by default on a
/// sharded Pipeline) and a Redis client.
struct PipelineSession {
  Cluster cluster;
  api::Pipeline pipeline;
  std::vector<DeadLetterSource> sources;
  SystemClock clock;  // before redis: the client keeps a reference
  std::unique_ptr<redis::KeyedClient> redis;
};

Result<std::unique_ptr<PipelineSession>> openPipeline(const GlobalFlags& g,
                                                      const std::string& pipelineName,
                                                      const std::string& redisUrl) {
  auto c = connect(g);
  if (!c.ok()) return c.error();
  auto p = getPipeline(c.value(), pipelineName);
  if (!p.ok()) return p.error();
  auto s = std::make_unique<PipelineSession>();
  s->cluster = std::move(c.value());
  s->pipeline = std::move(p.value());
  s->sources = deadLetterSourcesOf(s->pipeline.spec.raw);
  auto r = openRedis(s->pipeline, s->cluster, redisUrl, s->clock);
  if (!r.ok()) return r.error();
  s->redis = std::move(r.value());
  return s;
}

/// With several dead-letter streams (a sharded Pipeline's), ids are shown
/// and given as "<shard>/<id>" (the shard's index); one stream: the id.
std::string shownId(size_t source, const std::string& id, size_t sources) {
  return sources > 1 ? std::to_string(source) + "/" + id : id;
}

OutputFormat formatOf(const GlobalFlags& g) {
  return parseOutputFormat(g.output).value_or(OutputFormat::kTable);
}

// ---- the subcommands ----

int runStatus(const GlobalFlags& g, const std::string& poolName, std::ostream& out,
              std::ostream& err) {
  auto c = connect(g);
  if (!c.ok()) {
    err << "error: " << c.error().message << "\n";
    return kExitFailure;
  }
  std::vector<api::WorkerPool> pools;
  if (!poolName.empty()) {
    auto p = getPool(c.value(), poolName);
    if (!p.ok()) {
      err << "error: " << p.error().message << "\n";
      return kExitFailure;
    }
    pools.push_back(std::move(p.value()));
  } else {
    auto l = listPools(c.value(), err);
    if (!l.ok()) {
      err << "error: " << l.error().message << "\n";
      return kExitFailure;
    }
    pools = std::move(l.value());
  }
  const OutputFormat f = formatOf(g);
  if (f != OutputFormat::kTable) {
    out << renderDocument(statusDocument(pools), f);
    return 0;
  }
  if (pools.empty()) {
    err << (g.allNamespaces ? std::string("No WorkerPools found.")
                            : "No WorkerPools found in namespace " + c.value().ns + ".")
        << "\n";
    return 0;
  }
  out << formatStatus(pools, g.allNamespaces, std::chrono::system_clock::now());
  return 0;
}

int runWhy(const GlobalFlags& g, const std::string& poolName, std::ostream& out,
           std::ostream& err) {
  auto c = connect(g);
  if (!c.ok()) {
    err << "error: " << c.error().message << "\n";
    return kExitFailure;
  }
  auto p = getPool(c.value(), poolName);
  if (!p.ok()) {
    err << "error: " << p.error().message << "\n";
    return kExitFailure;
  }
  kube::ListOptions lo;
  lo.fieldSelector = "involvedObject.kind=" + std::string(api::kWorkerPoolKind) +
                     ",involvedObject.name=" + poolName;
  std::vector<PoolEvent> events;
  auto evs = c.value().client->listAll(kube::Resource::events(), c.value().ns, lo);
  if (evs.ok()) {
    events = poolEventsOf(evs.value().items, p.value());
  } else {
    err << "warning: no Events: " << explainApiError(evs.error(), c.value(), "events") << "\n";
  }
  const OutputFormat f = formatOf(g);
  if (f != OutputFormat::kTable) {
    out << renderDocument(whyDocument(p.value(), events), f);
  } else {
    out << formatWhy(p.value(), events, std::chrono::system_clock::now());
  }
  return 0;
}

int runDlq(const GlobalFlags& g, const std::string& pipelineName, int64_t tail,
           const std::string& redisUrl, std::ostream& out, std::ostream& err) {
  auto session = openPipeline(g, pipelineName, redisUrl);
  if (!session.ok()) {
    err << "error: " << session.error().message << "\n";
    return kExitFailure;
  }
  redis::KeyedClient& redis = *session.value()->redis;
  const std::vector<DeadLetterSource>& sources = session.value()->sources;
  const std::string& ns = session.value()->cluster.ns;
  int64_t length = 0;
  std::vector<DeadLetter> all;
  Json documents = Json::array();
  for (size_t i = 0; i < sources.size(); ++i) {
    const DeadLetterSource& src = sources[i];
    auto len = deadLetterLength(redis, src);
    auto entries =
        len.ok() ? readDeadLetters(redis, src, tail) : Result<std::vector<DeadLetter>>(len.error());
    if (!entries.ok()) {
      err << "error: reading " << src.deadLetterStream << ": " << entries.error().message << "\n";
      return kExitFailure;
    }
    length += len.value();
    documents.push_back(deadLettersDocument(src, len.value(), entries.value()));
    for (auto& d : entries.value()) {
      d.id = shownId(i, d.id, sources.size());
      all.push_back(std::move(d));
    }
  }
  const OutputFormat f = formatOf(g);
  if (f != OutputFormat::kTable) {
    out << renderDocument(sources.size() == 1
                              ? documents.front()
                              : Json{{"stream", session.value()->pipeline.spec.redis.stream},
                                     {"length", length},
                                     {"shards", documents}},
                          f);
    return 0;
  }
  const DeadLetterSource& first = sources.front();
  if (sources.size() == 1) {
    out << "Dead-letter stream " << first.deadLetterStream << " of Pipeline " << ns << "/"
        << pipelineName << " (source " << first.stream << ", group " << first.group << "): ";
  } else {
    out << "Dead-letter streams " << first.deadLetterStream << " .. "
        << sources.back().deadLetterStream << " of Pipeline " << ns << "/" << pipelineName << " ("
        << sources.size() << " shards, group " << first.group << "; ids are <shard>/<id>): ";
  }
  out << length << (length == 1 ? " entry" : " entries") << "\n";
  if (all.empty()) return 0;
  if (sources.size() > 1) {  // the newest `tail` over all shards, oldest first
    std::stable_sort(all.begin(), all.end(), [](const DeadLetter& a, const DeadLetter& b) {
      return idMillis(a.id.substr(a.id.find('/') + 1)).value_or(0) <
             idMillis(b.id.substr(b.id.find('/') + 1)).value_or(0);
    });
    if (tail >= 0 && static_cast<int64_t>(all.size()) > tail)
      all.erase(all.begin(), all.end() - tail);
  }
  out << "\n" << formatDeadLetters(all, std::chrono::system_clock::now());
  if (static_cast<int64_t>(all.size()) < length) {
    out << "\n(the newest " << all.size() << " of " << length << "; --tail -1 shows all)\n";
  }
  return 0;
}

struct ReplayFlags {
  std::vector<std::string> ids;
  bool all = false;
  bool yes = false;
  bool dryRun = false;
  std::string redisUrl;
};

/// Replay's ids resolved to dead-letter streams: "<i>/<id>" names source i;
/// a plain id is looked up in every source (a sharded Pipeline's ids are
/// unique per shard only) and belongs to the one holding it. Ids no source
/// holds, or that several hold, are reported on their own.
struct ResolvedIds {
  std::vector<std::vector<std::string>> perSource;
  std::vector<ReplayItem> unresolved;  // kMissing or kFailed (ambiguous)
};

Result<ResolvedIds> resolveIds(redis::KeyedClient& redis, const std::vector<DeadLetterSource>& sources,
                               const std::vector<std::string>& ids) {
  ResolvedIds r;
  r.perSource.resize(sources.size());
  if (sources.size() == 1) {
    r.perSource[0] = ids;
    return r;
  }
  std::vector<std::string> plain;
  for (const std::string& id : ids) {
    const size_t slash = id.find('/');
    if (slash == std::string::npos) {
      plain.push_back(id);
      continue;
    }
    const std::string shard = id.substr(0, slash);
    size_t i = 0;
    while (i < sources.size() && std::to_string(i) != shard) ++i;
    if (i == sources.size()) {
      r.unresolved.push_back({id, ReplayItem::Outcome::kMissing, "", "", "no shard " + shard});
    } else {
      r.perSource[i].push_back(id.substr(slash + 1));
    }
  }
  std::vector<std::vector<size_t>> holders(plain.size());
  for (size_t i = 0; i < sources.size() && !plain.empty(); ++i) {
    auto present = readDeadLettersById(redis, sources[i], plain);
    if (!present.ok()) return present.error();
    for (size_t k = 0; k < plain.size(); ++k)
      for (const auto& d : present.value())
        if (d.id == plain[k]) holders[k].push_back(i);
  }
  for (size_t k = 0; k < plain.size(); ++k) {
    if (holders[k].size() == 1) {
      r.perSource[holders[k][0]].push_back(plain[k]);
    } else if (holders[k].empty()) {
      r.unresolved.push_back({plain[k], ReplayItem::Outcome::kMissing, "", "",
                              "in no shard's dead-letter stream (already replayed, or never there)"});
    } else {
      r.unresolved.push_back({plain[k], ReplayItem::Outcome::kFailed, "", "",
                              "in several shards' dead-letter streams: name one as <shard>/<id>"});
    }
  }
  return r;
}

int runReplay(const GlobalFlags& g, const std::string& pipelineName, const ReplayFlags& rf,
              std::istream& in, std::ostream& out, std::ostream& err) {
  auto session = openPipeline(g, pipelineName, rf.redisUrl);
  if (!session.ok()) {
    err << "error: " << session.error().message << "\n";
    return kExitFailure;
  }
  redis::KeyedClient& redis = *session.value()->redis;
  const std::vector<DeadLetterSource>& sources = session.value()->sources;
  const std::string& ns = session.value()->cluster.ns;
  ResolvedIds resolved;
  if (!rf.all) {
    auto r = resolveIds(redis, sources, rf.ids);
    if (!r.ok()) {
      err << "error: reading the dead-letter streams: " << r.error().message << "\n";
      return kExitFailure;
    }
    resolved = std::move(r.value());
  }
  // One plan per dead-letter stream.
  std::vector<std::vector<ReplayItem>> plans;
  for (size_t i = 0; i < sources.size(); ++i) {
    const DeadLetterSource& src = sources[i];
    if (!rf.all && resolved.perSource[i].empty()) {
      plans.emplace_back();
      continue;
    }
    auto present = rf.all ? readDeadLetters(redis, src, -1)
                          : readDeadLettersById(redis, src, resolved.perSource[i]);
    if (!present.ok()) {
      err << "error: reading " << src.deadLetterStream << ": " << present.error().message << "\n";
      return kExitFailure;
    }
    plans.push_back(planReplay(present.value(), rf.all ? std::vector<std::string>{} : resolved.perSource[i],
                               rf.all, src));
  }
  const OutputFormat f = formatOf(g);
  auto report = [&](bool dryRun) {
    if (f != OutputFormat::kTable) {
      if (sources.size() == 1) {
        out << renderDocument(replayDocument(plans.front(), sources.front(), dryRun), f);
        return;
      }
      Json shards = Json::array();
      for (size_t i = 0; i < sources.size(); ++i)
        shards.push_back(replayDocument(plans[i], sources[i], dryRun));
      Json unresolved = Json::array();
      for (const ReplayItem& it : resolved.unresolved)
        unresolved.push_back({{"id", it.id}, {"outcome", outcomeName(it.outcome)}, {"note", it.note}});
      out << renderDocument(Json{{"dryRun", dryRun}, {"shards", shards}, {"unresolved", unresolved}}, f);
      return;
    }
    for (const ReplayItem& it : resolved.unresolved)
      out << (it.outcome == ReplayItem::Outcome::kFailed ? "failed " : "skipped ") << it.id << ": "
          << it.note << "\n";
    for (size_t i = 0; i < sources.size(); ++i) {
      if (sources.size() > 1 && plans[i].empty()) continue;
      std::vector<ReplayItem> shown = plans[i];
      for (auto& it : shown) it.id = shownId(i, it.id, sources.size());
      out << formatReplay(shown, sources[i], dryRun);
    }
    if (sources.size() > 1 && resolved.unresolved.empty() &&
        std::all_of(plans.begin(), plans.end(), [](const auto& p) { return p.empty(); }))
      out << "nothing to replay: no shard's dead-letter stream holds entries of this Pipeline\n";
  };
  size_t toMove = 0;
  for (const auto& plan : plans)
    toMove += static_cast<size_t>(std::count_if(plan.begin(), plan.end(), [](const ReplayItem& it) {
      return it.outcome == ReplayItem::Outcome::kReplay;
    }));
  // An id that could not be resolved (several shards hold it) or moved fails the run.
  auto anyFailed = [&] {
    auto failedItem = [](const ReplayItem& it) { return it.outcome == ReplayItem::Outcome::kFailed; };
    return std::any_of(resolved.unresolved.begin(), resolved.unresolved.end(), failedItem) ||
           std::any_of(plans.begin(), plans.end(),
                       [&](const auto& plan) { return std::any_of(plan.begin(), plan.end(), failedItem); });
  };
  if (rf.dryRun || toMove == 0) {
    report(rf.dryRun);
    return anyFailed() ? kExitFailure : 0;
  }
  if (!rf.yes) {
    const DeadLetterSource& first = sources.front();
    const std::string from = sources.size() == 1 ? first.deadLetterStream : "the shards' dead-letter streams";
    const std::string to = sources.size() == 1 && first.streams.size() <= 1
                               ? first.stream
                               : "their shards of " + session.value()->pipeline.spec.redis.stream;
    err << "Move " << toMove << (toMove == 1 ? " entry" : " entries") << " from " << from
        << " back to " << to << " (Pipeline " << ns << "/" << pipelineName
        << ")? Every consumer group of " << to << " reads them again. [y/N]: " << std::flush;
    std::string answer;
    std::getline(in, answer);
    if (answer != "y" && answer != "Y" && answer != "yes" && answer != "YES") {
      err << "replay cancelled: nothing changed\n";
      return kExitFailure;
    }
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    auto done = executeReplay(redis, sources[i], plans[i]);
    if (!done.ok()) {
      report(false);
      err << "error: replay stopped: " << done.error().message
          << " (entries not listed as replayed are still in " << sources[i].deadLetterStream << ")\n";
      return kExitFailure;
    }
  }
  report(false);
  return anyFailed() ? kExitFailure : 0;
}

/// The first word of argv that is neither a flag nor a global flag's value,
/// when it is not one of `commands` (CLI11 alone would only say that a
/// subcommand is required).
std::optional<std::string> unknownCommand(int argc, const char* const* argv,
                                          const std::vector<std::string>& commands) {
  static const std::vector<std::string> kTakeValue = {
      "--kubeconfig", "--context", "-n", "--namespace", "-o", "--output", "--request-timeout"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") return std::nullopt;
    if (a.size() > 1 && a[0] == '-') {
      if (std::find(kTakeValue.begin(), kTakeValue.end(), a) != kTakeValue.end()) ++i;
      continue;
    }
    if (std::find(commands.begin(), commands.end(), a) != commands.end()) return std::nullopt;
    return a;
  }
  return std::nullopt;
}

}  // namespace

int runPlugin(int argc, const char* const* argv, std::istream& in, std::ostream& out,
              std::ostream& err) {
  CLI::App app{
      "Shoal's kubectl plugin: how WorkerPools scale and why, and their Pipelines' dead "
      "letters.",
      "kubectl shoal"};
  app.require_subcommand(1, 1);
  app.fallthrough();  // global flags may follow the subcommand, as with kubectl
  // A flag given twice: the last one counts, as with kubectl.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  GlobalFlags g;
  app.add_option("--kubeconfig", g.kubeconfig,
                 "Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)");
  app.add_option("--context", g.context, "The kubeconfig context to use");
  app.add_option("-n,--namespace", g.ns, "The namespace (default: the context's)");
  app.add_flag("-A,--all-namespaces", g.allNamespaces, "status: list pools of every namespace");
  app.add_option("-o,--output", g.output, "Output format: table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  app.add_option("--request-timeout", g.requestTimeoutSeconds,
                 "Seconds to wait for each API request (default 30)")
      ->check(CLI::PositiveNumber);

  std::string poolName, pipelineName;
  auto* status = app.add_subcommand(
      "status", "WorkerPools with backlog, rates, replicas, drain estimate and conditions");
  status->add_option("pool", poolName, "One pool (default: every pool of the namespace)");

  auto* why = app.add_subcommand(
      "why", "The pool's scaling decisions: their inputs and reasons, from status and Events");
  why->add_option("pool", poolName, "The WorkerPool")->required();

  int64_t tail = 50;
  std::string dlqRedisUrl;
  auto* dlq = app.add_subcommand("dlq", "The dead-letter stream of a Pipeline, with reasons");
  dlq->add_option("pipeline", pipelineName, "The Pipeline")->required();
  dlq->add_option("--tail", tail, "Show the newest N entries (-1: all; default 50)");
  dlq->add_option("--redis-url", dlqRedisUrl,
                  "Reach Redis at this URL instead of the Pipeline's address (e.g. through "
                  "kubectl port-forward); credentials in it replace the Secret's");

  ReplayFlags rf;
  auto* replay = app.add_subcommand(
      "replay",
      "Move dead-lettered entries back to the source stream: each entry at most once (an "
      "atomic XADD + XDEL), so replaying twice never duplicates");
  replay->add_option("pipeline", pipelineName, "The Pipeline")->required();
  auto* idsOpt = replay
                     ->add_option("--ids", rf.ids,
                                  "Dead-letter stream ids to replay (comma-separated or repeated)")
                     ->delimiter(',')
                     ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* allOpt = replay->add_flag("--all", rf.all, "Replay every entry of this Pipeline");
  idsOpt->excludes(allOpt);
  replay->add_flag("-y,--yes", rf.yes, "Do not ask for confirmation");
  replay->add_flag("--dry-run", rf.dryRun, "Show what would be replayed; change nothing");
  replay->add_option("--redis-url", rf.redisUrl,
                     "Reach Redis at this URL instead of the Pipeline's address");

  if (auto word = unknownCommand(argc, argv, {"status", "why", "dlq", "replay"})) {
    err << "error: unknown command \"" << *word << "\" for \"kubectl shoal\"\n"
        << "See 'kubectl shoal --help'.\n";
    return kExitUsage;
  }
  for (auto* sub : {status, why, dlq, replay}) {
    sub->footer(
        "Global flags (before or after the command): --kubeconfig, --context, -n/--namespace, "
        "-A/--all-namespaces, -o/--output table|json|yaml, --request-timeout; see 'kubectl "
        "shoal --help'.");
  }
  replay->footer(
      "\nEach entry moves at most once: one Lua script checks that the id is still in the "
      "dead-letter stream, XADDs its original fields (without the shoal.* fields the worker "
      "added) to the source stream and XDELs it, atomically. Entries of another stream or "
      "consumer group are skipped. Asks for confirmation on stderr unless --yes.\n" +
      replay->get_footer());
  try {
    app.parse(argc, argv);
    if (replay->parsed() && rf.ids.empty() && !rf.all) {
      throw CLI::ValidationError("replay", "needs --ids ID[,ID...] or --all");
    }
    if (g.allNamespaces &&
        (!poolName.empty() || why->parsed() || dlq->parsed() || replay->parsed())) {
      throw CLI::ValidationError("--all-namespaces",
                                 "only `status` without a pool name works across namespaces");
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "error: " << e.what() << "\n";
    std::string sub;
    for (const auto* s : app.get_subcommands()) sub = " " + s->get_name();
    err << "See 'kubectl shoal" << sub << " --help'.\n";
    return kExitUsage;
  }

  if (status->parsed()) return runStatus(g, poolName, out, err);
  if (why->parsed()) return runWhy(g, poolName, out, err);
  if (dlq->parsed()) return runDlq(g, pipelineName, tail, dlqRedisUrl, out, err);
  return runReplay(g, pipelineName, rf, in, out, err);
}

}  // namespace shoal::plugin
