// shoal-local: runs Pipelines and WorkerPools from YAML files on this machine,
// with the operator's reconcilers and scaling policy and shoal-worker
// processes in place of Deployments. Wires the file store, process backend,
// event log, probe and runner; draws the view; stops gracefully on a signal.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "shoal/api/meta.h"
#include "shoal/common/clock.h"
#include "shoal/common/log.h"
#include "shoal/common/signals.h"
#include "shoal/local/event_log.h"
#include "shoal/local/file_store.h"
#include "shoal/local/history.h"
#include "shoal/local/local_runner.h"
#include "shoal/local/process_backend.h"
#include "shoal/local/receiver_processes.h"
#include "shoal/probe/redis_ping.h"
#include "shoal/probe/backlog_probe.h"

namespace {

namespace fs = std::filesystem;

const char* kFooter = R"(
Resource files: multi-document YAML as for `kubectl apply -f`: kind Pipeline and
WorkerPool (shoal.dev/v1alpha1) and kind Secret (v1, data or stringData); other
kinds are ignored with a warning. metadata.namespace defaults to "default".
A Secret key not defined in a file is read from the environment variable
SHOAL_SECRET_<NAME>_<KEY> (upper case, other characters as '_'), e.g.
SHOAL_SECRET_APP_LOGS_REDIS_PASSWORD for Secret app-logs-redis, key password.

Each WorkerPool runs as shoal-worker processes (--listen 127.0.0.1:<free port>,
consumer name <pool>-<n>), sized by the same scaling policy as on Kubernetes.
Scale-in sends SIGTERM (the worker drains and exits), SIGKILL after
spec.terminationGracePeriodSeconds; crashed workers restart with exponential
backoff (1 s doubling to 30 s); a changed Pipeline config rolls the workers.

Outputs:
  status file   JSON, rewritten atomically every tick: the objects with their
                status (as kubectl would show), each pool's worker processes
                (pid, port, ready, draining, log file), recent events.
  history file  CSV, one line per WorkerPool reconcile:
                t_seconds,pool,lag,pending,backlog,arrival_per_s,
                consumption_per_s,desired,replicas,ready
  chart file    SVG of backlog and replicas over time, written on exit.
  summary file  one line per pool on exit: pool=.. peak_replicas=..
                peak_backlog=.. replica_seconds=.. drain_seconds=..
SIGINT/SIGTERM: stops every worker gracefully, writes the outputs, exits 0.
Exit codes: 0 after a clean stop, 2 bad arguments or resource files, 1 otherwise.
)";

bool isExecutable(const std::string& p) { return !p.empty() && ::access(p.c_str(), X_OK) == 0; }

/// `name` next to shoal-local, else on PATH, else at `buildPath`; "" if none.
std::string findSiblingBinary(const std::string& name, const char* buildPath) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path next = self.parent_path() / name;
    if (isExecutable(next.string())) return next.string();
  }
  if (const char* path = std::getenv("PATH")) {
    std::string p(path);
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      const std::string dir = p.substr(start, end - start);
      if (!dir.empty() && isExecutable(dir + "/" + name)) return dir + "/" + name;
      start = end + 1;
    }
  }
  if (buildPath != nullptr && isExecutable(buildPath)) return buildPath;
  return "";
}

std::string findWorkerBinary() {
#ifdef SHOAL_WORKER_BUILD_PATH
  return findSiblingBinary("shoal-worker", SHOAL_WORKER_BUILD_PATH);
#else
  return findSiblingBinary("shoal-worker", nullptr);
#endif
}

std::string findReceiverBinary() {
#ifdef SHOAL_RECEIVER_BUILD_PATH
  return findSiblingBinary("shoal-receiver", SHOAL_RECEIVER_BUILD_PATH);
#else
  return findSiblingBinary("shoal-receiver", nullptr);
#endif
}

int terminalWidth() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 120;
}

std::string summaryLine(const std::string& pool, const shoal::local::RunSummary& s) {
  char drain[32] = "none";
  if (s.drainSeconds) std::snprintf(drain, sizeof drain, "%.1f", *s.drainSeconds);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "pool=%s peak_replicas=%d peak_desired=%d peak_backlog=%lld replica_seconds=%.1f "
                "drain_seconds=%s duration_seconds=%.1f",
                pool.c_str(), s.peakReplicas, s.peakDesired, static_cast<long long>(s.peakBacklog),
                s.replicaSeconds, drain, s.durationSeconds);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "shoal-local: runs Shoal Pipelines and WorkerPools from YAML files on this machine, with\n"
      "the operator's controllers and scaling policy and shoal-worker processes as the workers."};
  std::vector<std::string> files;
  std::string statusFile, historyFile, chartFile, summaryFile, workerBinary, receiverBinary, view, redisUrl;
  std::string workDir, logFile, logLevel = "info", workerLogLevel = "info";
  app.add_option("-f,--file", files, "Resource file (YAML); repeat for more")->required()
      ->check(CLI::ExistingFile);
  app.add_option("--status-file", statusFile,
                 "JSON status, rewritten atomically every tick (default: <work-dir>/status.json)");
  app.add_option("--history-file", historyFile, "CSV of backlog, rates and replicas per reconcile");
  app.add_option("--chart-file", chartFile, "SVG chart of backlog and replicas, written on exit");
  app.add_option("--summary-file", summaryFile, "Run summary per pool (key=value), written on exit");
  app.add_option("--worker-binary", workerBinary,
                 "shoal-worker to run (default: next to shoal-local, then PATH)");
  app.add_option("--receiver-binary", receiverBinary,
                 "shoal-receiver to run for Receivers (default: next to shoal-local, then PATH)");
  app.add_option("--view", view,
                 "live (ANSI redraw every second), log (a line per pool every 2 s) or none "
                 "(default: live on a terminal, else log)")
      ->check(CLI::IsMember({"live", "log", "none"}));
  app.add_option("--redis-url", redisUrl,
                 "Point every Pipeline and Receiver at this Redis (redis://host:port[/db], no credentials)");
  app.add_option("--work-dir", workDir,
                 "Rendered worker configs and worker logs (default: a new /tmp/shoal-local-*)");
  app.add_option("--log-file", logFile,
                 "shoal-local's own JSON log (default: stderr; <work-dir>/shoal-local.log with "
                 "--view live)");
  app.add_option("--log-level", logLevel, "debug, info, warn or error")->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--worker-log-level", workerLogLevel, "The workers' --log-level")
      ->capture_default_str()->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.footer(kFooter);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (view.empty()) view = ::isatty(STDOUT_FILENO) ? "live" : "log";
  shoal::log::setLevel(shoal::log::parseLevel(logLevel));

  auto loaded = shoal::local::loadResourceFiles(files);
  if (!loaded.ok()) {
    std::cerr << "shoal-local: " << loaded.error().message << "\n";
    return 2;
  }
  shoal::local::ResourceSet resources = std::move(loaded.value());
  for (const auto& w : resources.warnings) std::cerr << "shoal-local: warning: " << w << "\n";
  if (resources.workerPools.empty() && resources.receivers.empty()) {
    std::cerr << "shoal-local: no WorkerPool or Receiver in the given files: nothing to run\n";
    return 2;
  }
  if (!redisUrl.empty()) {
    if (auto r = shoal::local::overrideRedisUrl(resources, redisUrl); !r.ok()) {
      std::cerr << "shoal-local: " << r.error().message << "\n";
      return 2;
    }
  }
  if (workerBinary.empty()) workerBinary = findWorkerBinary();
  if (!isExecutable(workerBinary)) {
    std::cerr << "shoal-local: shoal-worker not found"
              << (workerBinary.empty() ? "" : " at " + workerBinary)
              << " (build it, put it on PATH, or pass --worker-binary)\n";
    return 2;
  }
  workerBinary = fs::absolute(workerBinary).string();
  if (!resources.receivers.empty()) {
    if (receiverBinary.empty()) receiverBinary = findReceiverBinary();
    if (!isExecutable(receiverBinary)) {
      std::cerr << "shoal-local: shoal-receiver not found" << (receiverBinary.empty() ? "" : " at " + receiverBinary)
                << " (build it, put it on PATH, or pass --receiver-binary)\n";
      return 2;
    }
    receiverBinary = fs::absolute(receiverBinary).string();
  }
  if (workDir.empty()) {
    std::string tmpl = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") +
                       "/shoal-local-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << "shoal-local: cannot create a work directory under " << tmpl << "\n";
      return 1;
    }
    workDir = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(workDir, ec);
    if (ec) {
      std::cerr << "shoal-local: cannot create " << workDir << ": " << ec.message() << "\n";
      return 1;
    }
  }
  workDir = fs::absolute(workDir).string();
  if (statusFile.empty()) statusFile = workDir + "/status.json";
  if (logFile.empty() && view == "live") logFile = workDir + "/shoal-local.log";

  std::ofstream history;
  if (!historyFile.empty()) {
    history.open(historyFile, std::ios::trunc);
    if (!history) {
      std::cerr << "shoal-local: cannot write " << historyFile << "\n";
      return 1;
    }
    history << shoal::local::historyCsvHeader() << "\n" << std::flush;
  }

  std::cerr << "shoal-local: " << resources.pipelines.size() << " Pipeline(s), "
            << resources.workerPools.size() << " WorkerPool(s), " << resources.receivers.size()
            << " Receiver(s); worker " << workerBinary
            << "; work dir " << workDir << "; status " << statusFile << "\n";
  if (!logFile.empty()) {
    int fd = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::cerr << "shoal-local: cannot write " << logFile << "\n";
      return 1;
    }
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }

  // Signals are taken synchronously by the main loop (sigtimedwait); children
  // get a clean mask (see the process runner).
  sigset_t sigs = shoal::blockShutdownSignals();

  auto& clock = shoal::SystemClock::instance();
  auto receiverObjects = resources.receivers;
  shoal::local::FileResourceStore store(std::move(resources));
  shoal::local::EventLog events(clock);
  auto runner = shoal::local::makeOsProcessRunner();
  shoal::local::ProcessBackendOptions opts;
  opts.workerBinary = workerBinary;
  opts.workDir = workDir;
  opts.logLevel = workerLogLevel;
  shoal::local::ProcessBackend backend(opts, *runner, store, &events, clock);
  shoal::probe::BacklogProbe probe(shoal::probe::makeRedisStreamInspector(clock), clock);
  shoal::local::LocalRunner loop(store, backend, events, probe, clock);
  // Receivers: the operator's Receiver reconciler over local processes,
  // each reconciled again when it asks (RedisReachable is re-checked so).
  shoal::local::LocalReceiverStore receiverStore(std::move(receiverObjects), store);
  shoal::local::ReceiverProcessOptions ropts;
  ropts.receiverBinary = receiverBinary;
  ropts.workDir = workDir;
  ropts.logLevel = workerLogLevel;
  shoal::local::ReceiverProcessBackend receivers(ropts, *runner, store, &events, clock);
  auto pinger = shoal::probe::makeRedisPinger(clock);
  shoal::controllers::ReceiverReconciler receiverReconciler(receiverStore, receivers, events, *pinger, clock, &probe);
  std::map<std::string, shoal::MonoTime> receiverDue;
  nlohmann::json receiverProcesses;
  auto stepReceivers = [&] {
    receivers.tick();
    const auto now = clock.now();
    // A process started, stopped or changed readiness: what the owned
    // Deployment's watch is on Kubernetes, so reconcile now.
    if (auto seen = receivers.snapshot(); seen != receiverProcesses) {
      receiverProcesses = std::move(seen);
      receiverDue.clear();
    }
    for (const auto& [ns, name] : receiverStore.keys()) {
      auto& due = receiverDue[ns + "/" + name];
      if (now < due) continue;
      auto r = receiverReconciler.reconcile(ns, name);
      // Errors retry soon; otherwise when the reconcile asked, or after the
      // Redis re-check interval when it waits for a change that cannot come
      // (the files are read once).
      due = now + (!r.ok() ? std::chrono::seconds(2)
                           : r.value().requeueAfter.value_or(shoal::controllers::kRedisRecheck));
      if (!r.ok()) shoal::log::warn("receiver reconcile failed", {{"receiver", ns + "/" + name},
                                                                  {"error", r.error().message}});
    }
  };

  auto writeOutputs = [&] {
    auto st = loop.statusJson();
    st["receivers"] = receiverStore.snapshot();
    st["receiverProcesses"] = receivers.snapshot();
    if (auto w = shoal::local::writeFileAtomically(statusFile, st.dump(2) + "\n"); !w.ok()) {
      shoal::log::warn("cannot write the status file", {{"error", w.error().message}});
    }
    if (history.is_open()) {
      for (const auto& s : loop.takeNewSamples()) history << shoal::local::historyCsvLine(s) << "\n";
      history.flush();
    } else {
      loop.takeNewSamples();
    }
    return st;
  };

  const bool live = view == "live";
  if (live) std::cout << "\x1b[2J\x1b[?25l" << std::flush;  // clear, hide the cursor
  auto lastView = clock.now() - std::chrono::seconds(10);
  int stopSignal = 0;
  while (stopSignal == 0) {
    stepReceivers();
    loop.step();
    auto st = writeOutputs();
    const auto now = clock.now();
    if (live && now - lastView >= std::chrono::seconds(1)) {
      std::cout << "\x1b[H" << shoal::local::renderLiveView(st, terminalWidth(), true) << "\x1b[J"
                << std::flush;
      lastView = now;
    } else if (view == "log" && now - lastView >= std::chrono::seconds(2)) {
      for (const auto& l : shoal::local::renderLogLines(st)) {
        std::cout << "[" << shoal::api::stringAt(st, "generatedAt") << "] " << l << "\n";
      }
      std::cout << std::flush;
      lastView = now;
    }
    timespec wait{0, 250 * 1000 * 1000};
    int sig = sigtimedwait(&sigs, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) stopSignal = sig;
  }
  if (live) std::cout << "\x1b[?25h";
  std::cout << "shoal-local: " << (stopSignal == SIGINT ? "SIGINT" : "SIGTERM")
            << ": stopping the workers (each drains, then exits)..." << std::endl;
  // Receivers first: they stop accepting and finish what they took in, then
  // the workers drain everything that reached the streams.
  shoal::log::info("stopping: receivers, then draining every worker");
  receivers.shutdown();
  backend.shutdown();
  writeOutputs();

  std::ofstream summary;
  if (!summaryFile.empty()) summary.open(summaryFile, std::ios::trunc);
  for (const auto& [pool, samples] : loop.history()) {
    const std::string line = summaryLine(pool, shoal::local::summarize(samples));
    std::cout << "shoal-local: summary " << line << "\n";
    if (summary.is_open()) summary << line << "\n";
    if (!chartFile.empty() && pool == loop.history().begin()->first) {
      auto svg = shoal::local::renderChartSvg(samples, "Shoal local mode: WorkerPool " + pool);
      if (auto w = shoal::local::writeFileAtomically(chartFile, svg); !w.ok()) {
        std::cerr << "shoal-local: " << w.error().message << "\n";
      }
    }
  }
  std::cout << "shoal-local: all workers stopped; status in " << statusFile << std::endl;
  return 0;
}
