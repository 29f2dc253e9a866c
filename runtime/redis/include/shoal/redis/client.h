// Shoal's own Redis client: a connection over plain TCP or TLS (OpenSSL) that
// owns its socket, parses RESP with hiredis's reader (see resp_reader.h),
// pipelines commands, and offers the stream commands the worker and the
// operator's backlog probe need as typed results (errors as values).
//
// Design note
//  - Connection: one socket, blocking calls with poll()-based timeouts
//    (connect timeout, read timeout; XREADGROUP's BLOCK is added to the read
//    timeout for that call). On any I/O or protocol error the connection is
//    closed and the error returned; it is never left half-read.
//  - Client: a Connection plus reconnection. A call on a closed client first
//    reconnects (AUTH, SELECT); failed attempts are spaced by a jittered
//    shoal::Backoff on the injected Clock: until the next attempt is due, calls
//    fail fast with Errc::kIo and retryDelay() says how long to wait. A command
//    is never re-sent automatically (XREADGROUP and XADD are not idempotent);
//    the caller decides.
//  - Not thread-safe: use one Client per thread (the worker's reclaim sweep
//    has its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/common/backoff.h"
#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/stream/stream_entry.h"

namespace shoal::redis {

struct TlsOptions {
  bool enabled = false;
  std::string caFile;              // PEM bundle; empty: system default CAs
  std::string certFile, keyFile;   // client certificate (optional)
  // The same material given as PEM text (the operator reads it from Secrets
  // and has no writable disk); each takes precedence over its file.
  std::string caPem, certPem, keyPem;
  std::string serverName;          // SNI and verification name; empty: host
  bool insecureSkipVerify = false; // verification is on by default
};

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;  // empty: AUTH <password> (user "default")
  std::string password;  // empty: no AUTH
  TlsOptions tls;
  Duration connectTimeout = std::chrono::seconds(2);
  Duration readTimeout = std::chrono::seconds(5);
  Duration reconnectInitial = std::chrono::milliseconds(100);
  Duration reconnectMax = std::chrono::seconds(5);

  /// "host:port" for logs (never the password).
  std::string describe() const;
};

/// Parses redis://[user[:password]@]host[:port][/db] and rediss://... (TLS on).
/// Percent-escapes in user and password are decoded; [v6] hosts accepted.
/// Only URL-borne fields are set; the others keep their defaults.
Result<ConnectionOptions> parseUrl(std::string_view url);

/// \brief One RESP reply as an owned tree. A value type.
struct Reply {
  enum class Kind : uint8_t { kString, kStatus, kError, kInteger, kNil, kArray };
  Kind kind = Kind::kNil;
  std::string str;       // kString, kStatus, kError
  int64_t integer = 0;   // kInteger
  std::vector<Reply> elements;  // kArray

  bool isError() const { return kind == Kind::kError; }
  bool isNil() const { return kind == Kind::kNil; }
  bool isArray() const { return kind == Kind::kArray; }
  bool isString() const { return kind == Kind::kString || kind == Kind::kStatus; }
  /// An integer reply, or a string reply that is a whole decimal integer.
  std::optional<int64_t> asInt() const;
  /// Redis error replies as Errc::kServer with the server's message.
  static Result<Reply> orServerError(Reply r);
};

using Command = std::vector<std::string>;

/// \brief One connected socket (TCP or TLS). Not thread-safe.
class Connection {
 public:
  /// Connects, handshakes TLS, sends AUTH and SELECT when configured.
  static Result<std::unique_ptr<Connection>> open(const ConnectionOptions& opts);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends one command and reads its reply. A Redis error reply is a value
  /// (Reply::Kind::kError), not an Error; Errors are I/O / protocol / timeout.
  Result<Reply> command(const Command& args, Duration extraTimeout = Duration::zero());
  /// Sends all commands in one write, then reads exactly one reply each.
  Result<std::vector<Reply>> pipeline(const std::vector<Command>& cmds,
                                      Duration extraTimeout = Duration::zero());
  bool broken() const { return broken_; }

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  bool broken_ = false;
};

// ----------------------------------------------------------- stream types

/// XPENDING <stream> <group> (summary form).
struct PendingSummary {
  int64_t count = 0;
  std::string smallestId, largestId;  // empty when count == 0
  std::vector<std::pair<std::string, int64_t>> consumers;  // name, pending
};

/// One row of XPENDING's extended form.
struct PendingEntry {
  std::string id;
  std::string consumer;
  int64_t idleMs = 0;
  int64_t deliveries = 0;
};

/// XAUTOCLAIM's reply (Redis 7: three elements). Claimed entries carry the
/// delivery count they had *before* this claim plus one (XAUTOCLAIM
/// increments it), filled from a follow-up XPENDING by the client.
struct AutoClaimResult {
  std::string nextCursor;               // "0-0" when the sweep is complete
  std::vector<StreamEntry> entries;
  std::vector<std::string> deletedIds;  // pending ids whose entries were deleted
};

/// One group of XINFO GROUPS.
struct GroupInfo {
  std::string name;
  int64_t consumers = 0;
  int64_t pending = 0;
  std::string lastDeliveredId;
  std::optional<int64_t> entriesRead;  // nil on some servers / states
  std::optional<int64_t> lag;          // nil after XDEL/trim or arbitrary SETID
};

/// XINFO STREAM (the summary form).
struct StreamInfo {
  int64_t length = 0;
  std::optional<int64_t> entriesAdded;
  std::string lastGeneratedId;
  int64_t groups = 0;
};

/// \brief A reconnecting client with the commands Shoal uses. Not thread-safe.
class Client {
 public:
  Client(ConnectionOptions opts, Clock& clock);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Connects now if not connected (respecting the reconnect backoff).
  Result<void> connect();
  bool connected() const { return conn_ != nullptr; }
  void disconnect() { conn_.reset(); }
  /// How long until the next reconnect attempt is allowed (zero if now).
  Duration retryDelay() const;
  const ConnectionOptions& options() const { return opts_; }

  /// Any command. Error replies come back as Reply values.
  Result<Reply> command(const Command& args, Duration extraTimeout = Duration::zero());
  /// Pipelined: one write, N replies in order.
  Result<std::vector<Reply>> pipeline(const std::vector<Command>& cmds,
                                      Duration extraTimeout = Duration::zero());

  Result<void> ping();
  /// Deletes keys; returns how many existed.
  Result<int64_t> del(const std::vector<std::string>& keys);

  /// XGROUP CREATE stream group startId MKSTREAM. Returns true if created,
  /// false if it already existed (BUSYGROUP).
  Result<bool> createGroup(const std::string& stream, const std::string& group,
                           const std::string& startId, bool mkstream = true);
  /// XREADGROUP GROUP g c COUNT n [BLOCK ms] STREAMS s id. An empty vector when
  /// nothing arrived within block (blockMs < 0: no BLOCK argument). Entries read
  /// with ">" have deliveries = 1; with an explicit id the count is not known
  /// from this reply (left at 1; see pendingRange()). Entries whose payload was
  /// deleted (nil fields in the pending list) come back with no fields.
  Result<std::vector<StreamEntry>> readGroup(const std::string& stream, const std::string& group,
                                             const std::string& consumer, const std::string& id,
                                             int64_t count, int64_t blockMs);
  /// XACK stream group id... (one call, many ids). Returns how many were acked.
  Result<int64_t> ack(const std::string& stream, const std::string& group,
                      const std::vector<std::string>& ids);
  /// XAUTOCLAIM stream group consumer minIdle start COUNT n.
  Result<AutoClaimResult> autoClaim(const std::string& stream, const std::string& group,
                                    const std::string& consumer, int64_t minIdleMs,
                                    const std::string& start, int64_t count);
  /// XPENDING stream group.
  Result<PendingSummary> pendingSummary(const std::string& stream, const std::string& group);
  /// XPENDING stream group [IDLE ms] start end count [consumer].
  Result<std::vector<PendingEntry>> pendingRange(const std::string& stream,
                                                 const std::string& group,
                                                 const std::string& start,
                                                 const std::string& end, int64_t count,
                                                 const std::string& consumer = "",
                                                 int64_t minIdleMs = -1);
  /// XINFO GROUPS stream. Errc::kNotFound when the stream does not exist.
  Result<std::vector<GroupInfo>> groups(const std::string& stream);
  /// XINFO STREAM stream. Errc::kNotFound when the stream does not exist.
  Result<StreamInfo> streamInfo(const std::string& stream);
  /// XADD stream [MAXLEN ~ n] * field value ... Returns the new id.
  Result<std::string> add(const std::string& stream,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          int64_t approxMaxLen = -1);

 private:
  ConnectionOptions opts_;
  Clock& clock_;
  Backoff backoff_;
  MonoTime nextAttempt_{};
  std::unique_ptr<Connection> conn_;
};

// Reply decoding, exposed for tests and for callers that pipeline the stream
// commands themselves.
Result<std::vector<StreamEntry>> decodeReadGroup(const Reply& r);
Result<std::vector<StreamEntry>> decodeEntries(const Reply& r);
/// The same, moving the strings out of a reply the caller gives up.
Result<std::vector<StreamEntry>> decodeReadGroup(Reply&& r);
Result<std::vector<StreamEntry>> decodeEntries(Reply&& r);
Result<AutoClaimResult> decodeAutoClaim(const Reply& r);
Result<PendingSummary> decodePendingSummary(const Reply& r);
Result<std::vector<PendingEntry>> decodePendingRange(const Reply& r);
Result<std::vector<GroupInfo>> decodeGroups(const Reply& r);
Result<StreamInfo> decodeStreamInfo(const Reply& r);

}  // namespace shoal::redis
