// Launchers for the real servers used by integration tests.
#include "shoal/testing/servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace shoal::testing {

std::string runCommand(const std::string& cmd, bool check, int* exitCode) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + cmd);
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = ::pclose(p);
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (exitCode) *exitCode = code;
  if (check && code != 0) throw std::runtime_error("command failed (" + std::to_string(code) + "): " + cmd + "\n" + out);
  return out;
}

std::string httpGet(int port, const std::string& path, int* status) {
  return httpRequest(port, "GET", path, "", status);
}

std::string httpRequest(int port, const std::string& method, const std::string& path,
                        const std::string& body, int* status) {
  if (status) *status = 0;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};  // a paused server must not hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return {};
  }
  std::string req = method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method != "GET") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (::write(fd, req.data(), req.size()) < 0) {
    ::close(fd);
    return {};
  }
  std::string resp;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto sp = resp.find(' ');
  if (status && sp != std::string::npos) *status = std::atoi(resp.c_str() + sp + 1);
  auto bodyAt = resp.find("\r\n\r\n");
  return bodyAt == std::string::npos ? std::string{} : resp.substr(bodyAt + 4);
}

// ---------------------------------------------------------------- Redis
RedisServer::RedisServer(Options o) : opts_(std::move(o)) {
  port_ = freePort();
  if (opts_.tls) {
    const std::string d = dir_.path();
    runCommand("cd " + d +
               " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=shoal-test-ca "
               "-keyout ca.key -out ca.crt >/dev/null 2>&1"
               " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
               "-out server.csr >/dev/null 2>&1"
               " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf"
               " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
               "-days 2 -extfile ext.cnf -out server.crt >/dev/null 2>&1"
               " && openssl req -newkey rsa:2048 -nodes -subj /CN=shoal-test-client "
               "-keyout client.key -out client.csr >/dev/null 2>&1"
               " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
               "-days 2 -out client.crt >/dev/null 2>&1");
    caFile_ = d + "/ca.crt";
  }
  start();
}

void RedisServer::start() {
  const std::string d = dir_.path();
  std::vector<std::string> argv = {"redis-server", "--bind", "127.0.0.1", "--save", "",
                                   "--dir", d, "--daemonize", "no", "--logfile", d + "/redis.log"};
  if (opts_.tls) {
    for (auto s : {"--port", "0", "--tls-port"}) argv.push_back(s);
    argv.push_back(std::to_string(port_));
    for (auto s : {"--tls-cert-file"}) argv.push_back(s);
    argv.push_back(d + "/server.crt");
    argv.push_back("--tls-key-file");
    argv.push_back(d + "/server.key");
    argv.push_back("--tls-ca-cert-file");
    argv.push_back(d + "/ca.crt");
    argv.push_back("--tls-auth-clients");
    argv.push_back(opts_.requireClientCert ? "yes" : "no");
  } else {
    argv.push_back("--port");
    argv.push_back(std::to_string(port_));
  }
  argv.push_back("--appendonly");
  argv.push_back(opts_.appendOnly ? "yes" : "no");
  if (opts_.appendOnly) {
    argv.push_back("--appendfsync");
    argv.push_back("always");
  }
  if (!opts_.password.empty()) {
    argv.push_back("--requirepass");
    argv.push_back(opts_.password);
  }
  proc_ = Process(Process::Options{.argv = argv});
  if (!waitUntil([&] { return portOpen(port_); }, std::chrono::seconds(10))) {
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) +
                             ": " + Process::readFile(d + "/redis.log"));
  }
  // Loading an AOF may take a moment after the port opens.
  waitUntil([&] { return cli("PING").find("PONG") != std::string::npos; }, std::chrono::seconds(10));
}

std::string RedisServer::url() const {
  std::string auth = opts_.password.empty() ? "" : ":" + opts_.password + "@";
  return std::string(opts_.tls ? "rediss://" : "redis://") + auth + "127.0.0.1:" +
         std::to_string(port_);
}

std::string RedisServer::cli(const std::string& args) const {
  std::string cmd = "redis-cli -h 127.0.0.1 -p " + std::to_string(port_);
  if (opts_.tls) cmd += " --tls --cacert " + caFile_;
  if (!opts_.password.empty()) cmd += " --no-auth-warning -a " + opts_.password;
  return runCommand(cmd + " " + args + " 2>&1", false);
}

void RedisServer::restart() {
  proc_.stop();
  start();
}

void RedisServer::stop() { proc_.stop(); }

// ----------------------------------------------------------- Prometheus
PrometheusServer::PrometheusServer(Options o) {
  port_ = freePort();
  std::ofstream f(dir_.file("prometheus.yml"));
  f << "global:\n  scrape_interval: " << o.scrapeInterval
    << "\n  evaluation_interval: " << o.scrapeInterval << "\n";
  if (!o.scrapeConfigs.empty()) f << "scrape_configs:\n" << o.scrapeConfigs;
  if (!o.remoteWrite.empty()) f << "remote_write:\n" << o.remoteWrite;
  if (!o.ruleFiles.empty()) {
    f << "rule_files:\n";
    for (const auto& r : o.ruleFiles) f << "  - '" << r << "'\n";
  }
  f.close();
  start();
}

void PrometheusServer::start() {
  proc_ = Process(Process::Options{
      .argv = {"prometheus", "--config.file=" + dir_.file("prometheus.yml"),
               "--storage.tsdb.path=" + dir_.file("data"),
               "--web.listen-address=127.0.0.1:" + std::to_string(port_),
               "--web.enable-remote-write-receiver", "--log.level=warn"},
      .stderrPath = dir_.file("prometheus.log")});
  if (!waitUntil(
          [&] {
            int st = 0;
            httpGet(port_, "/-/ready", &st);
            return st == 200;
          },
          std::chrono::seconds(30))) {
    throw std::runtime_error("prometheus did not become ready: " +
                             Process::readFile(dir_.file("prometheus.log")));
  }
}

void PrometheusServer::stop() { proc_.stop(); }

// ---------------------------------------------------------- Pushgateway
PushgatewayServer::PushgatewayServer() {
  port_ = freePort();
  proc_ = Process(Process::Options{
      .argv = {"prometheus-pushgateway", "--web.listen-address=127.0.0.1:" + std::to_string(port_),
               "--log.level=warn"}});
  if (!waitUntil([&] { return portOpen(port_); }, std::chrono::seconds(20)))
    throw std::runtime_error("pushgateway did not start");
}

// ------------------------------------------------------------ PostgreSQL
namespace {
const char* kPgBin = "/usr/lib/postgresql/15/bin";
}

PostgresServer::PostgresServer() {
  port_ = freePort();
  const std::string d = dir_.path();
  runCommand("install -d -o postgres -g postgres " + d + "/pg && cd /tmp && runuser -u postgres -- " +
             kPgBin + "/initdb -D " + d + "/pg/data -U postgres -A trust -E UTF8 --no-sync >" + d +
             "/initdb.log 2>&1");
  runCommand("cd /tmp && runuser -u postgres -- " + std::string(kPgBin) + "/pg_ctl -D " + d +
             "/pg/data -l " + d + "/pg/log -w -o \"-p " + std::to_string(port_) + " -k " + d +
             "/pg -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null 2>&1");
}

PostgresServer::~PostgresServer() {
  runCommand("cd /tmp && runuser -u postgres -- " + std::string(kPgBin) + "/pg_ctl -D " +
                 dir_.path() + "/pg/data -m immediate -w stop >/dev/null 2>&1",
             false);
}

std::string PostgresServer::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=postgres";
}

std::string PostgresServer::psql(const std::string& sql) const {
  std::string esc;
  for (char c : sql) {
    if (c == '\'') esc += "'\\''";
    else esc += c;
  }
  return runCommand("psql -h 127.0.0.1 -p " + std::to_string(port_) +
                    " -U postgres -d postgres -At -c '" + esc + "' 2>&1");
}

// ------------------------------------------------------------------ etcd
EtcdServer::EtcdServer() {
  port_ = freePort();
  peerPort_ = freePort();
  const std::string c = "http://127.0.0.1:" + std::to_string(port_);
  const std::string p = "http://127.0.0.1:" + std::to_string(peerPort_);
  proc_ = Process(Process::Options{
      .argv = {"etcd", "--name", "t", "--data-dir", dir_.file("etcd"), "--listen-client-urls", c,
               "--advertise-client-urls", c, "--listen-peer-urls", p,
               "--initial-advertise-peer-urls", p, "--initial-cluster", "t=" + p,
               "--log-level", "error"},
      .stderrPath = dir_.file("etcd.log")});
  if (!waitUntil(
          [&] {
            int st = 0;
            httpGet(port_, "/health", &st);
            return st == 200;
          },
          std::chrono::seconds(30)))
    throw std::runtime_error("etcd did not start: " + Process::readFile(dir_.file("etcd.log")));
}

}  // namespace shoal::testing
