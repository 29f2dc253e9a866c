// A running shoal-bulk-server for integration tests: started on a free
// loopback port as a child process (stopped when the handle dies), plus thin
// wrappers over its /_shoal/* control endpoints. Link target
// `shoal_bulk_server_testing`. See tests/tools/bulk_server/main.cpp for the
// server's protocol and fault-injection bodies.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

#ifndef SHOAL_BULK_SERVER_BINARY
#error "link shoal_bulk_server_testing, which defines SHOAL_BULK_SERVER_BINARY"
#endif

namespace shoal::testing {

class BulkServer {
 public:
  struct Options {
    std::string basicAuth;    // "user:pass"
    std::string apiKey;
    bool storeSources = true;
    bool tls = false;  // https with a fresh self-signed certificate (caFile())
  };
  BulkServer() : BulkServer(Options{}) {}
  explicit BulkServer(Options o) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = freePort();
      Process::Options po;
      po.argv = {SHOAL_BULK_SERVER_BINARY, "--port", std::to_string(port_)};
      if (!o.basicAuth.empty()) po.argv.insert(po.argv.end(), {"--basic-auth", o.basicAuth});
      if (!o.apiKey.empty()) po.argv.insert(po.argv.end(), {"--api-key", o.apiKey});
      if (!o.storeSources) po.argv.push_back("--no-store-sources");
      if (o.tls) {
        if (caFile_.empty()) {
          caFile_ = dir_.file("cert.pem");
          runCommand("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
                     " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
                     dir_.file("key.pem") + " -out " + caFile_ + " 2>/dev/null");
        }
        po.argv.insert(po.argv.end(), {"--tls-cert", caFile_, "--tls-key", dir_.file("key.pem")});
      }
      tls_ = o.tls;
      po.stdoutPath = dir_.file("stdout");
      po.stderrPath = dir_.file("stderr");
      proc_ = Process(po);
      if (waitUntil([&] { return portOpen(port_) || !proc_.running(); }) && proc_.running())
        return;
    }
    throw std::runtime_error("shoal-bulk-server did not start");
  }
  int port() const { return port_; }
  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  /// The self-signed certificate (its own CA) when started with tls.
  const std::string& caFile() const { return caFile_; }
  Process& process() { return proc_; }

  /// GET /_shoal/stats (with all ids when withIds).
  nlohmann::json stats(bool withIds = false) const {
    return getJson(withIds ? "/_shoal/stats?ids=true" : "/_shoal/stats");
  }
  int64_t totalDocs() const { return stats().value("totalDocs", int64_t{-1}); }
  int64_t docsIn(const std::string& index) const {
    auto s = stats();
    return s["indices"].value(index, int64_t{0});
  }
  /// GET /_shoal/docs?index=: [{"_id":..,"_source":{..}}, ...]
  nlohmann::json docs(const std::string& index) const {
    return getJson("/_shoal/docs?index=" + index)["docs"];
  }
  /// The next `next` items matching (idContains, index) fail with status.
  void failItems(int status, int64_t next = 1, const std::string& idContains = "",
                 const std::string& type = "", const std::string& index = "") const {
    nlohmann::json b = {{"status", status}, {"next", next}};
    if (!idContains.empty()) b["idContains"] = idContains;
    if (!type.empty()) b["type"] = type;
    if (!index.empty()) b["index"] = index;
    post("/_shoal/faults/items", b);
  }
  /// The next `next` _bulk requests fail as a whole with status.
  void failRequests(int status, int64_t next = 1) const {
    post("/_shoal/faults/requests", {{"status", status}, {"next", next}});
  }
  /// The next `next` _bulk requests (-1: all) are answered after ms.
  void delayRequests(int64_t ms, int64_t next = -1) const {
    post("/_shoal/faults/delay", {{"ms", ms}, {"next", next}});
  }
  void clearFaults() const {
    httplib::Client c = client();
    c.Delete("/_shoal/faults");
  }
  void reset() const { post("/_shoal/reset", nlohmann::json::object()); }

 private:
  httplib::Client client() const {
    httplib::Client c(url());
    c.enable_server_certificate_verification(false);  // control calls only
    return c;
  }
  nlohmann::json getJson(const std::string& path) const {
    httplib::Client c = client();
    auto r = c.Get(path.c_str());
    if (!r || r->status != 200) throw std::runtime_error("bulk server GET " + path + " failed");
    return nlohmann::json::parse(r->body);
  }
  void post(const std::string& path, const nlohmann::json& body) const {
    httplib::Client c = client();
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    if (!r || r->status != 200) throw std::runtime_error("bulk server POST " + path + " failed");
  }

  TempDir dir_;
  int port_ = 0;
  bool tls_ = false;
  std::string caFile_;
  Process proc_;
};

}  // namespace shoal::testing
