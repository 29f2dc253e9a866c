// Syslog input throughput: the frame decoder alone over an in-memory
// buffer, then a TCP listener on loopback fed by two sender threads into a
// sink that only counts (so the figure is framing + sockets + the listener
// loop, not Redis). Prints `bench: <name> <value> <unit>` lines.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "shoal/common/log.h"
#include "shoal/syslog_input/framing.h"
#include "shoal/syslog_input/listener.h"

namespace {

using namespace shoal::syslog_input;
using SteadyClock = std::chrono::steady_clock;

// An RFC 5424 line of about 300 bytes, numbered.
std::string line(size_t i) {
  std::string m = "<134>1 2026-12-04T18:00:00.000000+00:00 host-" + std::to_string(i % 50) +
                  " app 1234 ID47 - request served path=/api/v1/items/" + std::to_string(i) + " ";
  m.append(300 - std::min<size_t>(m.size(), 299), 'x');
  return m;
}

std::string payload(size_t from, size_t count, bool octets) {
  std::string out;
  out.reserve(count * 310);
  for (size_t i = from; i < from + count; ++i) {
    std::string l = line(i);
    if (octets) {
      out += std::to_string(l.size()) + " " + l;
    } else {
      out += l + "\n";
    }
  }
  return out;
}

class CountingSink : public FrameSink {
 public:
  Accept offer(Transport, std::vector<Frame>& frames) override {
    uint64_t bytes = 0;
    for (const auto& f : frames) bytes += f.message.size();
    std::lock_guard<std::mutex> lock(mu_);
    bytes_ += bytes;
    frames_ += frames.size();
    arrived_.notify_all();
    return Accept::kAccepted;
  }
  // Waits until n frames arrived or the deadline passed; the frames seen.
  uint64_t waitFor(uint64_t n, std::chrono::seconds deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    arrived_.wait_for(lock, deadline, [&] { return frames_ >= n; });
    return frames_;
  }

 private:
  std::mutex mu_;
  std::condition_variable arrived_;
  uint64_t frames_ = 0;
  uint64_t bytes_ = 0;
};

double decodeRate(size_t frames) {
  std::string in = payload(0, frames, false);
  FrameDecoder d;
  std::vector<Frame> out;
  out.reserve(1024);
  size_t got = 0;
  auto start = SteadyClock::now();
  for (size_t off = 0; off < in.size(); off += 65536) {
    d.feed(std::string_view(in).substr(off, 65536), out);
    got += out.size();
    out.clear();
  }
  double s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (got != frames) {
    std::fprintf(stderr, "decoder gave %zu of %zu frames\n", got, frames);
    std::exit(1);
  }
  return static_cast<double>(frames) / s;
}

void sendAll(int port, const std::string& data) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      std::perror("send");
      std::exit(1);
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
}

double tcpRate(size_t frames, bool octets) {
  CountingSink sink;
  ListenerOptions o;
  o.bindAddress = "127.0.0.1";
  SyslogListener listener(o, sink);
  if (auto r = listener.start(); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    std::exit(1);
  }
  const size_t senders = 2;
  std::vector<std::string> parts;
  for (size_t s = 0; s < senders; ++s) parts.push_back(payload(s * frames / senders, frames / senders, octets));
  const uint64_t total = frames / senders * senders;
  auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (const auto& p : parts) threads.emplace_back([&] { sendAll(listener.port(), p); });
  for (auto& t : threads) t.join();
  uint64_t got = sink.waitFor(total, std::chrono::seconds(120));
  if (got < total) {
    std::fprintf(stderr, "only %llu of %llu frames arrived\n", static_cast<unsigned long long>(got),
                 static_cast<unsigned long long>(total));
    std::exit(1);
  }
  double s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  listener.stop();
  return static_cast<double>(total) / s;
}

}  // namespace

int main(int argc, char** argv) {
  size_t frames = 1000000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--frames") == 0) frames = std::strtoull(argv[i + 1], nullptr, 10);
  }
  shoal::log::setLevel(shoal::log::Level::kWarn);
  std::printf("bench: syslog_decode_frames_per_s %.0f frames/s\n", decodeRate(frames));
  std::printf("bench: syslog_tcp_frames_per_s %.0f frames/s\n", tcpRate(frames, false));
  std::printf("bench: syslog_tcp_octet_frames_per_s %.0f frames/s\n", tcpRate(frames, true));
  return 0;
}
