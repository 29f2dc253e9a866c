// cpp-httplib implementation of HttpTransport.
#include "shoal/logs/http_transport.h"
#include "shoal/common/base64.h"

#include <httplib.h>

#include <mutex>

namespace shoal::logs {
namespace {

class HttplibTransport final : public HttpTransport {
 public:
  HttplibTransport(const BaseUrl& url, const HttpClientOptions& o)
      : prefix_(url.prefix),
        authorization_(o.authorization),
        client_(url.scheme + "://" + url.host + ":" + std::to_string(url.port)) {
    client_.set_keep_alive(true);
    // Headers and body go out in separate writes: with Nagle's algorithm the
    // body's last segment waits for the server's delayed ACK (~40 ms a request).
    client_.set_tcp_nodelay(true);
    client_.set_decompress(false);
    client_.set_connection_timeout(o.connectTimeoutMs / 1000, (o.connectTimeoutMs % 1000) * 1000);
    client_.set_read_timeout(o.requestTimeoutMs / 1000, (o.requestTimeoutMs % 1000) * 1000);
    client_.set_write_timeout(o.requestTimeoutMs / 1000, (o.requestTimeoutMs % 1000) * 1000);
    if (url.scheme == "https") {
      if (!o.caFile.empty()) client_.set_ca_cert_path(o.caFile);
      client_.enable_server_certificate_verification(!o.insecureSkipVerify);
    }
  }

  HttpResponse post(const std::string& path, const std::string& body,
                    const std::string& contentType) override {
    std::lock_guard lk(mu_);
    try {
      return convert(client_.Post((prefix_ + path).c_str(), headers(), body, contentType.c_str()));
    } catch (const std::exception& e) {
      return HttpResponse{0, {}, e.what()};
    }
  }

  HttpResponse get(const std::string& path) override {
    std::lock_guard lk(mu_);
    try {
      return convert(client_.Get((prefix_ + path).c_str(), headers()));
    } catch (const std::exception& e) {
      return HttpResponse{0, {}, e.what()};
    }
  }

 private:
  httplib::Headers headers() const {
    httplib::Headers h{{"Accept", "application/json"}, {"Accept-Encoding", "identity"}};
    if (!authorization_.empty()) h.emplace("Authorization", authorization_);
    return h;
  }

  static HttpResponse convert(const httplib::Result& r) {
    if (!r) return HttpResponse{0, {}, httplib::to_string(r.error())};
    return HttpResponse{r->status, r->body, {}};
  }

  std::mutex mu_;
  std::string prefix_;
  std::string authorization_;
  httplib::Client client_;
};

}  // namespace

Result<BaseUrl> parseBaseUrl(const std::string& url) {
  BaseUrl u;
  size_t rest;
  if (url.rfind("http://", 0) == 0) {
    u.scheme = "http";
    u.port = 80;
    rest = 7;
  } else if (url.rfind("https://", 0) == 0) {
    u.scheme = "https";
    u.port = 443;
    rest = 8;
  } else {
    return makeError(Errc::kInvalidInput, "must start with http:// or https://");
  }
  size_t slash = url.find('/', rest);
  std::string hostport = url.substr(rest, slash == std::string::npos ? std::string::npos : slash - rest);
  if (slash != std::string::npos) u.prefix = url.substr(slash);
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  if (hostport.find('@') != std::string::npos)
    return makeError(Errc::kInvalidInput, "credentials in the URL are not supported; use SHOAL_SINK_USERNAME/SHOAL_SINK_PASSWORD");
  size_t colon = hostport.rfind(':');
  if (!hostport.empty() && hostport[0] == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == std::string::npos) return makeError(Errc::kInvalidInput, "unterminated IPv6 address");
    u.host = hostport.substr(0, close + 1);
    colon = hostport.find(':', close);
  } else {
    u.host = hostport.substr(0, colon);
  }
  if (colon != std::string::npos) {
    std::string p = hostport.substr(colon + 1);
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
      return makeError(Errc::kInvalidInput, "invalid port \"" + p + "\"");
    u.port = std::stoi(p);
    if (u.port < 1 || u.port > 65535) return makeError(Errc::kInvalidInput, "invalid port \"" + p + "\"");
  }
  if (u.host.empty()) return makeError(Errc::kInvalidInput, "missing host");
  return u;
}

Result<std::unique_ptr<HttpTransport>> makeHttpTransport(const HttpClientOptions& o) {
  auto url = parseBaseUrl(o.url);
  if (!url) return url.error();
  return std::unique_ptr<HttpTransport>(std::make_unique<HttplibTransport>(*url, o));
}

std::string basicAuthorization(const std::string& user, const std::string& password) {
  return "Basic " + base64Encode(user + ":" + password);
}

}  // namespace shoal::logs
