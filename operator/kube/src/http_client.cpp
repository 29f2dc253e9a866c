// The real Client: HTTPS (or plain HTTP for tests) to the API server with
// cpp-httplib and OpenSSL. Regular requests borrow a keep-alive connection
// from a small pool; each watch uses a connection of its own that the stop
// token can shut down. The bearer token file is re-read when it changes
// (projected service-account tokens rotate).
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <csignal>

#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <vector>

#include <httplib.h>

#include "shoal/kube/client.h"
#include "shoal/kube/watch_decoder.h"

namespace shoal::kube {

namespace {

struct ServerUrl {
  bool tls = true;
  std::string host;
  int port = 443;
  std::string prefix;  // path prefix without trailing '/'
};

std::optional<ServerUrl> parseServer(const std::string& s) {
  ServerUrl u;
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    u.tls = false;
    u.port = 80;
    rest = s.substr(7);
  } else {
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.prefix = rest.substr(slash);
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  if (hostport.empty()) return std::nullopt;
  if (hostport[0] == '[') {  // [v6]:port
    auto close = hostport.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return std::nullopt;
      hostport = hostport.substr(close + 2);
      try {
        u.port = std::stoi(hostport);
      } catch (...) {
        return std::nullopt;
      }
    }
  } else {
    auto colon = hostport.rfind(':');
    if (colon != std::string::npos) {
      u.host = hostport.substr(0, colon);
      try {
        u.port = std::stoi(hostport.substr(colon + 1));
      } catch (...) {
        return std::nullopt;
      }
    } else {
      u.host = hostport;
    }
  }
  if (u.host.empty() || u.port <= 0 || u.port > 65535) return std::nullopt;
  return u;
}

struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
struct PKeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};

std::unique_ptr<BIO, BioDeleter> memBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string contentTypeOf(PatchType t) {
  switch (t) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategic: return "application/strategic-merge-patch+json";
    case PatchType::kApply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

ApiError transportError(httplib::Error e, const std::string& what) {
  ApiError err;
  err.code = 0;
  err.reason = "Transport";
  err.message = what + ": " + httplib::to_string(e);
  return err;
}

class Query {
 public:
  void add(const std::string& k, const std::string& v) {
    if (v.empty()) return;
    s_ += s_.empty() ? '?' : '&';
    s_ += k + "=" + urlEncode(v);
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

class HttpClient final : public Client {
 public:
  HttpClient(ClientConfig cfg, ServerUrl url) : cfg_(std::move(cfg)), url_(std::move(url)) {}

  shoal::Result<void> init() {
    if (!cfg_.clientCertPem.empty()) {
      auto b = memBio(cfg_.clientCertPem);
      cert_.reset(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
      if (!cert_) return shoal::Error{Errc::kInvalidInput, "client certificate is not PEM"};
      auto k = memBio(cfg_.clientKeyPem);
      key_.reset(PEM_read_bio_PrivateKey(k.get(), nullptr, nullptr, nullptr));
      if (!key_) return shoal::Error{Errc::kInvalidInput, "client key is not PEM"};
      ERR_clear_error();
    }
    if (!cfg_.caPem.empty()) {
      auto b = memBio(cfg_.caPem);
      int n = 0;
      while (X509* c = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) {
        caCerts_.emplace_back(c);
        ++n;
      }
      ERR_clear_error();
      if (n == 0) return shoal::Error{Errc::kInvalidInput, "CA data holds no PEM certificate"};
    }
    return {};
  }

  ApiResult<Json> get(const Resource& r, const std::string& ns, const std::string& name,
                      const std::string& subresource) override {
    return call("GET", resourcePath(r, ns, name, subresource), "", "");
  }

  ApiResult<ListPage> list(const Resource& r, const std::string& ns,
                           const ListOptions& opts) override {
    Query q;
    q.add("labelSelector", opts.labelSelector);
    q.add("fieldSelector", opts.fieldSelector);
    if (opts.limit > 0) q.add("limit", std::to_string(opts.limit));
    q.add("continue", opts.continueToken);
    q.add("resourceVersion", opts.resourceVersion);
    q.add("resourceVersionMatch", opts.resourceVersionMatch);
    auto res = call("GET", resourcePath(r, ns) + q.str(), "", "");
    if (!res) return res.error();
    ListPage page;
    Json& j = *res;
    if (!j.is_object() || !j.contains("items")) {
      return ApiError{0, "BadResponse", "list response without items", nullptr, std::nullopt};
    }
    if (j["items"].is_array()) {
      page.items.reserve(j["items"].size());
      for (auto& it : j["items"]) page.items.push_back(std::move(it));
    }
    if (auto m = j.find("metadata"); m != j.end() && m->is_object()) {
      if (auto v = m->find("resourceVersion"); v != m->end() && v->is_string())
        page.resourceVersion = v->get<std::string>();
      if (auto v = m->find("continue"); v != m->end() && v->is_string())
        page.continueToken = v->get<std::string>();
      if (auto v = m->find("remainingItemCount"); v != m->end() && v->is_number_integer())
        page.remainingItemCount = v->get<int64_t>();
    }
    return page;
  }

  ApiResult<void> watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                        const WatchHandler& handler, std::stop_token stop) override {
    Query q;
    q.add("watch", "true");
    q.add("resourceVersion", opts.resourceVersion);
    q.add("labelSelector", opts.labelSelector);
    q.add("fieldSelector", opts.fieldSelector);
    if (opts.allowBookmarks) q.add("allowWatchBookmarks", "true");
    if (opts.timeoutSeconds > 0) q.add("timeoutSeconds", std::to_string(opts.timeoutSeconds));
    if (opts.sendInitialEvents) {
      q.add("sendInitialEvents", "true");
      q.add("resourceVersionMatch", "NotOlderThan");
    }
    std::string path = url_.prefix + resourcePath(r, ns) + q.str();

    auto cli = newConnection();
    if (!cli) return ApiError{0, "Transport", "cannot create TLS client", nullptr, std::nullopt};
    // Idle watches send nothing for long stretches; the server ends them at
    // timeoutSeconds, so the read timeout only has to catch a dead peer.
    int readTimeout = (opts.timeoutSeconds > 0 ? opts.timeoutSeconds : 300) + 30;
    cli->set_read_timeout(readTimeout, 0);
    cli->set_keep_alive(false);

    WatchEventDecoder decoder;
    std::vector<WatchEvent> events;
    int status = 0;
    std::string errorBody;
    bool handlerStopped = false;
    std::optional<std::string> decodeError;

    if (stop.stop_requested()) return {};
    httplib::ClientImpl* raw = cli.get();
    std::stop_callback onStop(stop, [raw] { raw->stop(); });

    auto result = cli->Get(
        path, headers("application/json"),
        [&](const httplib::Response& resp) {
          status = resp.status;
          return true;
        },
        [&](const char* data, size_t len) {
          if (stop.stop_requested()) return false;
          if (status != 200) {
            if (errorBody.size() < (1u << 20)) errorBody.append(data, len);
            return true;
          }
          events.clear();
          auto fed = decoder.feed(std::string_view(data, len), events);
          for (const auto& ev : events) {
            if (!handler(ev)) {
              handlerStopped = true;
              return false;
            }
          }
          if (!fed.ok()) {
            decodeError = fed.error().message;
            return false;
          }
          return true;
        });
    if (handlerStopped || stop.stop_requested()) return {};
    if (decodeError) return ApiError{0, "BadResponse", "watch stream: " + *decodeError, nullptr, std::nullopt};
    if (!result) {
      if (status != 0 && status != 200) return decodeApiError(status, errorBody);
      return transportError(result.error(), "watch " + r.plural);
    }
    if (result->status != 200) {
      return decodeApiError(result->status, errorBody.empty() ? result->body : errorBody);
    }
    return {};
  }

  ApiResult<Json> create(const Resource& r, const std::string& ns, const Json& obj,
                         const WriteOptions& opts) override {
    Query q;
    q.add("fieldManager", opts.fieldManager);
    if (opts.dryRun) q.add("dryRun", "All");
    return call("POST", resourcePath(r, ns) + q.str(), obj.dump(), "application/json");
  }

  ApiResult<Json> update(const Resource& r, const std::string& ns, const std::string& name,
                         const Json& obj, const std::string& subresource,
                         const WriteOptions& opts) override {
    Query q;
    q.add("fieldManager", opts.fieldManager);
    if (opts.dryRun) q.add("dryRun", "All");
    return call("PUT", resourcePath(r, ns, name, subresource) + q.str(), obj.dump(),
                "application/json");
  }

  ApiResult<Json> patch(const Resource& r, const std::string& ns, const std::string& name,
                        PatchType type, const Json& body, const PatchOptions& opts,
                        const std::string& subresource) override {
    Query q;
    q.add("fieldManager", opts.fieldManager);
    if (type == PatchType::kApply && opts.force) q.add("force", "true");
    if (opts.dryRun) q.add("dryRun", "All");
    return call("PATCH", resourcePath(r, ns, name, subresource) + q.str(), body.dump(),
                contentTypeOf(type));
  }

  ApiResult<Json> remove(const Resource& r, const std::string& ns, const std::string& name,
                         const DeleteOptions& opts) override {
    Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
    if (!opts.propagationPolicy.empty()) body["propagationPolicy"] = opts.propagationPolicy;
    if (opts.gracePeriodSeconds) body["gracePeriodSeconds"] = *opts.gracePeriodSeconds;
    if (!opts.preconditionUid.empty()) body["preconditions"]["uid"] = opts.preconditionUid;
    if (!opts.preconditionResourceVersion.empty())
      body["preconditions"]["resourceVersion"] = opts.preconditionResourceVersion;
    return call("DELETE", resourcePath(r, ns, name), body.dump(), "application/json");
  }

 private:
  std::unique_ptr<httplib::ClientImpl> newConnection() {
    std::unique_ptr<httplib::ClientImpl> cli;
    if (url_.tls) {
      auto ssl = std::make_unique<httplib::SSLClient>(url_.host, url_.port, cert_.get(), key_.get());
      if (!ssl->is_valid()) return nullptr;
      if (!caCerts_.empty()) {
        X509_STORE* store = X509_STORE_new();
        for (const auto& c : caCerts_) X509_STORE_add_cert(store, c.get());
        ssl->set_ca_cert_store(store);  // takes ownership
      }
      ssl->enable_server_certificate_verification(!cfg_.insecureSkipTlsVerify);
      cli = std::move(ssl);
    } else {
      cli = std::make_unique<httplib::ClientImpl>(url_.host, url_.port);
    }
    cli->set_connection_timeout(std::chrono::seconds(5));
    auto t = cfg_.timeout.count();
    cli->set_read_timeout(t / 1000, (t % 1000) * 1000);
    cli->set_write_timeout(t / 1000, (t % 1000) * 1000);
    cli->set_keep_alive(true);
    if (!cfg_.username.empty()) cli->set_basic_auth(cfg_.username, cfg_.password);
    return cli;
  }

  std::unique_ptr<httplib::ClientImpl> borrow() {
    {
      std::lock_guard<std::mutex> l(poolMu_);
      if (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        return c;
      }
    }
    return newConnection();
  }

  void giveBack(std::unique_ptr<httplib::ClientImpl> c) {
    std::lock_guard<std::mutex> l(poolMu_);
    if (pool_.size() < 8) pool_.push_back(std::move(c));
  }

  std::string bearerToken() {
    if (cfg_.tokenFile.empty()) return cfg_.token;
    std::lock_guard<std::mutex> l(tokenMu_);
    struct stat st {};
    if (::stat(cfg_.tokenFile.c_str(), &st) == 0) {
      bool changed = st.st_mtim.tv_sec != tokenMtime_.tv_sec ||
                     st.st_mtim.tv_nsec != tokenMtime_.tv_nsec || st.st_size != tokenSize_;
      if (changed || fileToken_.empty()) {
        std::ifstream f(cfg_.tokenFile);
        std::stringstream ss;
        ss << f.rdbuf();
        std::string t = ss.str();
        while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
        if (!t.empty()) {
          fileToken_ = t;
          tokenMtime_ = st.st_mtim;
          tokenSize_ = st.st_size;
        }
      }
    }
    return fileToken_.empty() ? cfg_.token : fileToken_;
  }

  httplib::Headers headers(const std::string& accept) {
    httplib::Headers h{{"Accept", accept}, {"User-Agent", cfg_.userAgent}};
    std::string tok = bearerToken();
    if (!tok.empty()) h.emplace("Authorization", "Bearer " + tok);
    return h;
  }

  ApiResult<Json> call(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& contentType) {
    auto cli = borrow();
    if (!cli) return ApiError{0, "Transport", "cannot create TLS client", nullptr, std::nullopt};
    std::string full = url_.prefix + path;
    auto h = headers("application/json");
    httplib::Result res{nullptr, httplib::Error::Unknown};
    if (method == "GET") res = cli->Get(full, h);
    else if (method == "POST") res = cli->Post(full, h, body, contentType);
    else if (method == "PUT") res = cli->Put(full, h, body, contentType);
    else if (method == "PATCH") res = cli->Patch(full, h, body, contentType);
    else if (method == "DELETE") res = cli->Delete(full, h, body, contentType);
    if (!res) return transportError(res.error(), method + " " + path);
    int status = res->status;
    giveBack(std::move(cli));
    if (status < 200 || status >= 300) {
      ApiError e = decodeApiError(status, res->body);
      if (!e.retryAfter && res->has_header("Retry-After")) {
        try {
          e.retryAfter = std::chrono::seconds(std::stoi(res->get_header_value("Retry-After")));
        } catch (...) {
        }
      }
      return e;
    }
    Json j = Json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return ApiError{0, "BadResponse", method + " " + path + ": response is not JSON", nullptr,
                      std::nullopt};
    }
    return j;
  }

  ClientConfig cfg_;
  ServerUrl url_;
  std::unique_ptr<X509, X509Deleter> cert_;
  std::unique_ptr<EVP_PKEY, PKeyDeleter> key_;
  std::vector<std::unique_ptr<X509, X509Deleter>> caCerts_;
  std::mutex poolMu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> pool_;
  std::mutex tokenMu_;
  std::string fileToken_;
  struct timespec tokenMtime_ {};
  off_t tokenSize_ = -1;
};

}  // namespace

shoal::Result<std::shared_ptr<Client>> makeHttpClient(const ClientConfig& cfg) {
  // OpenSSL writes to sockets with write(2): a peer that went away (or a watch
  // socket shut down to stop it) would raise SIGPIPE and kill the process.
  static std::once_flag ignorePipe;
  std::call_once(ignorePipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  auto url = parseServer(cfg.server);
  if (!url) return shoal::Error{Errc::kInvalidInput, "bad server URL: " + cfg.server};
  auto c = std::make_shared<HttpClient>(cfg, *url);
  auto ok = c->init();
  if (!ok) return ok.error();
  return std::shared_ptr<Client>(std::move(c));
}

}  // namespace shoal::kube
