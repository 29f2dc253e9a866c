// Syslog listeners: TCP (RFC 6587), UDP (RFC 5426) and TLS (RFC 5425) on
// POSIX sockets, handing frames to a FrameSink.
//
// Design note. Each listener owns one thread that polls its listening
// socket and all of its connections, so nothing here needs a lock beyond
// the counters and the stop/resume flags. Frames read in one poll round
// (from every connection) go to the sink in one offer(). The sink may
// answer kPaused: it took none of them. Then a stream listener holds that
// batch, stops reading every connection (the kernel's buffers fill and the
// senders' writes block: back-pressure without loss) and offers the same
// batch again when resume() is called or every pauseRetry, reading again
// only once it was taken; new connections are accepted meanwhile but not
// read (a TLS handshake waits too). UDP cannot push back: a refused batch is dropped,
// counted (stats().udpDropped) and logged, never silently; so are the
// datagrams the kernel drops while the listener is busy (udpKernelDropped,
// from SO_RXQ_OVFL).
//
// Timeouts run on the injected Clock, checked at least every pollInterval:
// idleTimeout closes a connection that sent nothing for that long (half-open
// peers), readTimeout one whose frame (or TLS handshake) has been unfinished
// for that long (slow senders). Neither runs while the sink is paused (the
// silence is ours). A connection beyond maxConnections is accepted and
// closed at once (counted). A frame cut off by such a close, or by stop(),
// reaches the sink as a rejected kTruncated frame.
//
// stop(): no more accepting or reading; the frames already read (plus any
// partial frame, as kTruncated) are offered until the sink takes them or
// `grace` passes on the Clock (what is left is counted in lostAtStop and
// logged), then the connections close and the thread ends.
//
// The process should ignore SIGPIPE (a TLS alert written to a closed peer
// raises it); start() of a TLS listener sets SIGPIPE to ignored if it is at
// its default.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/syslog_input/frame_sink.h"
#include "shoal/syslog_input/framing.h"

namespace shoal::syslog_input {

struct ListenerOptions {
  Transport transport = Transport::kTcp;
  std::string bindAddress = "0.0.0.0";
  int port = 0;  // 0: any free port (see SyslogListener::port())
  DecoderOptions framing;
  size_t maxConnections = 1024;
  Duration readTimeout = std::chrono::seconds(30);
  Duration idleTimeout = std::chrono::seconds(120);
  Duration pauseRetry = std::chrono::milliseconds(200);
  /// The longest single poll wait: how often the Clock's deadlines are looked at.
  Duration pollInterval = std::chrono::milliseconds(100);
  size_t readBytes = 64 * 1024;  // per read of one connection
  /// Bytes read per poll round over all connections (bounds one offer()).
  size_t maxRoundBytes = 1 << 20;
  /// UDP: SO_RCVBUF to ask for (the kernel caps it at net.core.rmem_max); 0:
  /// the system default. A fuller buffer than this drops in the kernel,
  /// counted in udpKernelDropped.
  size_t udpReceiveBufferBytes = 0;
  std::string tlsCertFile;       // PEM chain; TLS only
  std::string tlsKeyFile;        // PEM private key; TLS only
  Clock* clock = nullptr;        // nullptr: SystemClock
};

/// \brief A snapshot of a listener's counters (monotonic except
/// connectionsOpen), for the caller to export.
struct ListenerStats {
  uint64_t connectionsAccepted = 0;
  uint64_t connectionsRefused = 0;  // over maxConnections
  uint64_t connectionsOpen = 0;
  uint64_t closedIdle = 0;
  uint64_t closedReadTimeout = 0;
  uint64_t closedBadOctetCount = 0;
  uint64_t tlsHandshakeFailures = 0;
  uint64_t framesAccepted = 0;  // complete frames the sink took
  uint64_t framesRejected = 0;  // rejected frames the sink took (too_large, ...)
  uint64_t pauses = 0;          // offers answered kPaused
  uint64_t udpDropped = 0;      // UDP frames dropped because the sink was paused
  uint64_t udpKernelDropped = 0;  // datagrams the kernel dropped (receive buffer full)
  uint64_t lostAtStop = 0;      // frames the sink still refused when stop()'s grace ended
};

/// \brief One listening socket and its connections, served by its own
/// thread between start() and stop(). start/stop/resume/stats are
/// thread-safe.
class SyslogListener {
 public:
  SyslogListener(ListenerOptions o, FrameSink& sink);
  ~SyslogListener();  // stop() with the default grace
  SyslogListener(const SyslogListener&) = delete;
  SyslogListener& operator=(const SyslogListener&) = delete;

  /// Binds, loads the TLS certificate, starts the thread. A bind failure or
  /// an unreadable certificate/key is an error (kIo / kInvalidInput).
  Result<void> start();
  /// The bound port (after start()).
  int port() const;
  /// The sink can take frames again: offer the held batch now.
  void resume();
  /// See the design note. Idempotent; returns when the thread has ended.
  void stop(Duration grace = std::chrono::seconds(5));
  ListenerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::syslog_input
