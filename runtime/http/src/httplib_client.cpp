// makeClient: the cpp-httplib implementation of Transport.
#include <httplib.h>

#include <cctype>
#include <mutex>

#include "shoal/http/client.h"
#include "shoal/http/url.h"

namespace shoal::http {
namespace {

class HttplibClient final : public Transport {
 public:
  HttplibClient(const Url& url, const ClientOptions& o)
      : headers_(o.headers), client_(url.origin()) {
    basePath_ = url.path;
    while (!basePath_.empty() && basePath_.back() == '/') basePath_.pop_back();
    client_.set_keep_alive(o.keepAlive);
    // Headers and body go out in separate writes: with Nagle's algorithm the
    // body's last segment waits for the server's delayed ACK (~40 ms a request).
    client_.set_tcp_nodelay(true);
    client_.set_decompress(o.decompress);
    client_.set_connection_timeout(o.connectTimeout);
    client_.set_read_timeout(o.requestTimeout);
    client_.set_write_timeout(o.requestTimeout);
    if (url.scheme == "https") {
      if (!o.caFile.empty()) client_.set_ca_cert_path(o.caFile);
      client_.enable_server_certificate_verification(!o.insecureSkipVerify);
    }
  }

  Response send(const Request& req) override {
    std::lock_guard lk(mu_);
    try {
      return convert(dispatch(req));
    } catch (const std::exception& e) {
      return Response{0, {}, e.what()};
    } catch (...) {
      return Response{0, {}, "unknown error"};
    }
  }

 private:
  httplib::Result dispatch(const Request& req) {
    httplib::Headers h(headers_.begin(), headers_.end());
    for (auto& [name, value] : req.headers) {
      h.erase(name);  // httplib::Headers compares names case-insensitively
      h.emplace(name, value);
    }
    const std::string path = basePath_ + req.path;
    if (req.method == "POST") return client_.Post(path, h, req.body, req.contentType);
    if (req.method == "PUT") return client_.Put(path, h, req.body, req.contentType);
    if (req.method == "GET") return client_.Get(path, h);
    if (req.method == "DELETE") return client_.Delete(path, h);
    throw std::invalid_argument("unsupported HTTP method \"" + req.method + "\"");
  }

  static Response convert(const httplib::Result& r) {
    if (!r) return Response{0, {}, httplib::to_string(r.error())};
    Response out{r->status, r->body, {}, {}};
    for (const auto& [name, value] : r->headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[lower] = value;
    }
    return out;
  }

  std::mutex mu_;
  std::string basePath_;
  Headers headers_;
  httplib::Client client_;
};

}  // namespace

Result<std::unique_ptr<Transport>> makeClient(const ClientOptions& o) {
  auto url = parseUrl(o.url);
  if (!url) return url.error();
  return std::unique_ptr<Transport>(std::make_unique<HttplibClient>(*url, o));
}

}  // namespace shoal::http
