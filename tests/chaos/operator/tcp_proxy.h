// A TCP forwarder on a loopback port that a test can cut and restore, to make
// one server unreachable from one client (the operator) while others (the
// workers) still reach it directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace shoal::chaos {

/// \brief Forwards 127.0.0.1:port() to 127.0.0.1:upstreamPort. cut() closes
/// every open connection and makes new ones close at once; restore() forwards
/// again. One internal thread; the public methods are thread-safe.
class TcpProxy {
 public:
  explicit TcpProxy(int upstreamPort);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void cut();
  void restore();
  bool isCut() const { return cut_.load(); }
  /// Connections refused (closed on accept) while cut.
  int64_t refused() const { return refused_.load(); }

 private:
  struct Link {
    int client = -1;
    int upstream = -1;
  };
  void run();
  void wake();
  void closeAll();

  int upstreamPort_;
  int port_ = 0;
  int listenFd_ = -1;
  int wakePipe_[2] = {-1, -1};
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> refused_{0};
  std::vector<Link> links_;  // the loop thread's only
  std::thread thread_;
};

}  // namespace shoal::chaos
