// makeServer: the cpp-httplib implementation of the Server port. See
// shoal/http/server.h for the contract; the notes here say how it is kept.
#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "shoal/http/server.h"

namespace shoal::http {

std::string ServerRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  }
  return {};
}

namespace {

// Set on the thread that answers connections over the limit: its requests
// are answered 503 before routing.
thread_local bool tlOverLimit = false;

// What the connection threads share with the server object: the connection
// count and the in-flight request count. Held by shared_ptr, so a thread that
// outlives stop() (an idle keep-alive connection waiting out its timeout)
// never touches freed memory.
struct State {
  std::mutex mu;
  std::condition_variable cv;
  size_t connections = 0;
  size_t inFlight = 0;
  bool stopped = false;
  // Connections over the limit, answered one at a time by the spare thread.
  std::deque<std::function<void()>> overLimit;
  bool spareRunning = false;
};

// httplib's TaskQueue: a thread per connection up to the limit; beyond it,
// the spare thread answers 503. shutdown() returns without waiting for the
// connection threads (stop() waits for the requests being served instead):
// an idle keep-alive connection would otherwise hold stop() for the whole
// idle timeout.
class ConnectionThreads final : public httplib::TaskQueue {
 public:
  ConnectionThreads(std::shared_ptr<State> state, std::shared_ptr<httplib::Server> owner, size_t max)
      : state_(std::move(state)), owner_(std::move(owner)), max_(max) {}

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lk(state_->mu);
    if (state_->connections < max_) {
      ++state_->connections;
      lk.unlock();
      // The thread keeps the server object alive while it runs (fn uses it).
      std::thread([state = state_, owner = owner_, fn = std::move(fn)]() mutable {
        fn();
        fn = nullptr;
        std::lock_guard g(state->mu);
        --state->connections;
        state->cv.notify_all();
      }).detach();
      return;
    }
    state_->overLimit.push_back(std::move(fn));
    if (state_->spareRunning) return;
    state_->spareRunning = true;
    lk.unlock();
    std::thread([state = state_, owner = owner_] {
      tlOverLimit = true;
      std::unique_lock l(state->mu);
      while (!state->overLimit.empty()) {
        auto next = std::move(state->overLimit.front());
        state->overLimit.pop_front();
        l.unlock();
        next();
        next = nullptr;
        l.lock();
      }
      state->spareRunning = false;
    }).detach();
  }

  void shutdown() override {}

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<httplib::Server> owner_;
  size_t max_;
};

// The socket a request came on: the one whose two ends are the request's
// addresses and ports. httplib hands handlers no socket, and ignores a
// response's "Connection: close"; this is looked up only on the error paths
// below.
int socketOf(const httplib::Request& req) {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  while (dirent* e = ::readdir(d)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    sockaddr_storage peer{}, local{};
    socklen_t pl = sizeof peer, ll = sizeof local;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    auto port = [](const sockaddr_storage& a) {
      return a.ss_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port)
                                    : ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    };
    auto host = [](const sockaddr_storage& a) {
      char buf[INET6_ADDRSTRLEN] = {};
      if (a.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
      else
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
      return std::string(buf);
    };
    if (port(peer) == req.remote_port && port(local) == req.local_port && host(peer) == req.remote_addr) {
      found = fd;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// Set by closeAfter on the connection's thread, read by endIfMarked on the
// same thread once the response is written.
thread_local bool tlEndConnection = false;

// One request being served, from the moment its handler is entered (the
// body still to read) until the response is ready; stop() waits for these.
// Not admitted once stop() has begun.
class InFlight {
 public:
  explicit InFlight(State& s) : s_(s) {
    std::lock_guard g(s_.mu);
    admitted_ = !s_.stopped;
    if (admitted_) ++s_.inFlight;
  }
  ~InFlight() {
    if (!admitted_) return;
    std::lock_guard g(s_.mu);
    --s_.inFlight;
    s_.cv.notify_all();
  }
  bool admitted() const { return admitted_; }

 private:
  State& s_;
  bool admitted_ = false;
};

void closeAfter(const httplib::Request&, httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_header("Connection", "close");
  res.set_content(text, "text/plain");
  tlEndConnection = true;
}

// httplib's logger runs after the response was written. For a response
// closeAfter answered, the socket is shut down there, so httplib's
// next read ends the connection; first what the client already sent is
// drained (a bounded amount), since closing a socket with unread data
// resets it and can cost the client the response it has not read yet.
void endIfMarked(const httplib::Request& req, const httplib::Response& res) {
  if (!tlEndConnection) return;
  tlEndConnection = false;
  const int fd = socketOf(req);
  if (fd < 0) return;
  char buf[16384];
  for (size_t drained = 0; drained < (1u << 20);) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_RDWR);
}

class HttplibServer final : public Server {
 public:
  explicit HttplibServer(ServerOptions o) : opts_(std::move(o)), state_(std::make_shared<State>()) {}
  ~HttplibServer() override { stop(); }

  void route(const std::string& method, const std::string& pattern, RouteHandler handler) override {
    routes_.push_back({method, pattern, std::move(handler)});
  }

  Result<void> start() override {
    if (!opts_.tlsCertFile.empty() || !opts_.tlsKeyFile.empty()) {
      if (opts_.tlsCertFile.empty() || opts_.tlsKeyFile.empty())
        return makeError(Errc::kInvalidInput, "TLS needs both a certificate and a key file");
      svr_ = std::make_shared<httplib::SSLServer>(opts_.tlsCertFile.c_str(), opts_.tlsKeyFile.c_str());
      if (!svr_->is_valid())
        return makeError(Errc::kInvalidInput, "cannot load the TLS certificate '" + opts_.tlsCertFile +
                                                  "' and key '" + opts_.tlsKeyFile + "'");
    } else {
      svr_ = std::make_shared<httplib::Server>();
    }
    configure();
    port_ = opts_.port == 0 ? svr_->bind_to_any_port(opts_.host)
                            : (svr_->bind_to_port(opts_.host, opts_.port) ? opts_.port : -1);
    if (port_ <= 0)
      return makeError(Errc::kIo, "cannot listen on " + opts_.host + ":" + std::to_string(opts_.port));
    listener_ = std::thread([svr = svr_] { svr->listen_after_bind(); });
    return {};
  }

  int port() const override { return port_; }

  void stop() override {
    if (!svr_ || stopped_.exchange(true)) return;
    {
      std::unique_lock lk(state_->mu);
      state_->stopped = true;
    }
    svr_->stop();
    if (listener_.joinable()) listener_.join();
    std::unique_lock lk(state_->mu);
    state_->cv.wait(lk, [&] { return state_->inFlight == 0; });
  }

 private:
  struct Route {
    std::string method, pattern;
    RouteHandler handler;
  };

  void configure() {
    auto state = state_;
    std::weak_ptr<httplib::Server> weak = svr_;
    const size_t max = opts_.maxConnections;
    svr_->new_task_queue = [state, weak, max] {
      return new ConnectionThreads(state, weak.lock(), max);
    };
    svr_->set_tcp_nodelay(true);
    svr_->set_logger(endIfMarked);
    svr_->set_read_timeout(opts_.readTimeout);
    svr_->set_write_timeout(opts_.readTimeout);
    svr_->set_keep_alive_timeout(std::max<time_t>(1, opts_.idleTimeout.count()));
    svr_->set_keep_alive_max_count(1000000);
    svr_->set_pre_routing_handler([state](const httplib::Request& req, httplib::Response& res) {
      bool refuse = tlOverLimit;
      if (!refuse) {
        std::lock_guard g(state->mu);
        refuse = state->stopped;
      }
      if (!refuse) return httplib::Server::HandlerResponse::Unhandled;
      closeAfter(req, res, 503, tlOverLimit ? "too many connections\n" : "shutting down\n");
      return httplib::Server::HandlerResponse::Handled;
    });
    const size_t maxBody = opts_.maxBodyBytes;
    svr_->set_expect_100_continue_handler([maxBody](const httplib::Request& req, httplib::Response& res) {
      if (req.has_header("Content-Length") && declaredLength(req) > maxBody) {
        closeAfter(req, res, 413, "request body larger than " + std::to_string(maxBody) + " bytes\n");
        return 413;
      }
      return 100;
    });
    for (const Route& r : routes_) {
      const RouteHandler h = r.handler;
      const std::string method = r.method;
      if (method == "GET") {
        svr_->Get(r.pattern, [state, h, method](const httplib::Request& req, httplib::Response& res) {
          InFlight f(*state);
          if (!f.admitted()) return closeAfter(req, res, 503, "shutting down\n");
          serve(method, req, res, std::string(), h);
        });
      } else {
        auto withBody = [state, h, method, maxBody](const httplib::Request& req, httplib::Response& res,
                                                   const httplib::ContentReader& reader) {
          InFlight f(*state);
          if (!f.admitted()) return closeAfter(req, res, 503, "shutting down\n");
          if (req.has_header("Content-Length") && declaredLength(req) > maxBody) {
            closeAfter(req, res, 413, "request body larger than " + std::to_string(maxBody) + " bytes\n");
            return;
          }
          std::string body;
          bool tooLarge = false;
          const bool ok = reader([&](const char* data, size_t n) {
            if (body.size() + n > maxBody) {
              tooLarge = true;
              return false;
            }
            body.append(data, n);
            return true;
          });
          if (!ok) {
            if (tooLarge) {
              closeAfter(req, res, 413, "request body larger than " + std::to_string(maxBody) + " bytes\n");
            } else if (res.status == 415) {
              closeAfter(req, res, 415, "unsupported Content-Encoding\n");
            } else {
              closeAfter(req, res, 400, "the request body could not be read or decoded\n");
            }
            return;
          }
          serve(method, req, res, std::move(body), h);
        };
        if (method == "POST") svr_->Post(r.pattern, withBody);
        if (method == "PUT") svr_->Put(r.pattern, withBody);
      }
    }
  }

  static size_t declaredLength(const httplib::Request& req) {
    const std::string v = req.get_header_value("Content-Length");
    size_t n = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return 0;
      n = n > (SIZE_MAX - 9) / 10 ? SIZE_MAX : n * 10 + static_cast<size_t>(c - '0');
    }
    return n;
  }

  // Runs a handler (inside an admitted InFlight). The route lambdas hold the
  // state and the handler, never the server object, which may be gone while
  // a lingering connection is still served.
  static void serve(const std::string& method, const httplib::Request& req, httplib::Response& res, std::string body,
                    const RouteHandler& h) {
    ServerRequest sr;
    sr.method = method;
    sr.path = req.path;
    for (size_t i = 1; i < req.matches.size(); ++i) sr.captures.push_back(req.matches[i].str());
    for (const auto& [k, v] : req.headers) sr.headers.emplace(k, v);
    sr.body = std::move(body);
    sr.remoteAddress = req.remote_addr;
    ServerResponse out;
    try {
      out = h(sr);
    } catch (const std::exception& e) {
      out = ServerResponse{500, std::string("internal error: ") + e.what() + "\n", "text/plain", {}};
    } catch (...) {
      out = ServerResponse{500, "internal error\n", "text/plain", {}};
    }
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    res.set_content(std::move(out.body), out.contentType);
  }

  ServerOptions opts_;
  std::shared_ptr<State> state_;
  std::vector<Route> routes_;
  std::shared_ptr<httplib::Server> svr_;
  std::thread listener_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<Server> makeServer(ServerOptions options) {
  return std::make_unique<HttplibServer>(std::move(options));
}

}  // namespace shoal::http
