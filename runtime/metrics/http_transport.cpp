// cpp-httplib implementation of HttpTransport.
#include "shoal/metrics/http_transport.h"

#include <httplib.h>

namespace shoal::metrics {

Result<ParsedUrl> parseHttpUrl(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return makeError(Errc::kInvalidInput, "not a URL (scheme://host[:port]/path)");
  const std::string s = url.substr(0, scheme);
  if (s != "http" && s != "https") return makeError(Errc::kInvalidInput, "scheme must be http or https");
  const auto slash = url.find('/', scheme + 3);
  ParsedUrl p;
  p.base = slash == std::string::npos ? url : url.substr(0, slash);
  p.path = slash == std::string::npos ? "" : url.substr(slash);
  if (p.base.size() <= scheme + 3) return makeError(Errc::kInvalidInput, "host missing");
  return p;
}

namespace {

class HttplibTransport final : public HttpTransport {
 public:
  HttplibTransport(const std::string& base, std::chrono::milliseconds timeout) : client_(base) {
    client_.set_keep_alive(true);
    client_.set_tcp_nodelay(true);  // headers and body go out as separate writes
    client_.set_connection_timeout(timeout);
    client_.set_read_timeout(timeout);
    client_.set_write_timeout(timeout);
  }

  HttpResponse send(const HttpRequest& req) override {
    httplib::Headers headers(req.headers.begin(), req.headers.end());
    httplib::Result r = req.method == "PUT"
                            ? client_.Put(req.path, headers, req.body, req.contentType)
                        : req.method == "DELETE" ? client_.Delete(req.path, headers)
                                                 : client_.Post(req.path, headers, req.body, req.contentType);
    HttpResponse out;
    if (!r) {
      out.error = httplib::to_string(r.error());
      return out;
    }
    out.status = r->status;
    out.body = r->body.substr(0, 4096);
    return out;
  }

 private:
  httplib::Client client_;
};

}  // namespace

std::unique_ptr<HttpTransport> makeHttplibTransport(const std::string& base,
                                                    std::chrono::milliseconds timeout) {
  return std::make_unique<HttplibTransport>(base, timeout);
}

}  // namespace shoal::metrics
