// Connection: a socket to Redis over TCP or TLS (OpenSSL) with poll()-based
// timeouts, RESP requests written in one go and replies parsed by RespReader.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shoal/redis/client.h"
#include "shoal/redis/resp_reader.h"

namespace shoal::redis {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string sslErrorText() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

bool isIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

int remainingMs(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() < 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

// Waits until fd is readable/writable or the deadline passes.
Result<void> waitFd(int fd, short events, SteadyClock::time_point deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = remainingMs(deadline);
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return {};
    if (rc == 0) return makeError(Errc::kTimeout, std::string("redis: timeout while ") + what);
    if (errno != EINTR) return makeError(Errc::kIo, std::string("redis: poll: ") + std::strerror(errno));
  }
}

}  // namespace

struct Connection::Impl {
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  RespReader reader;
  Duration readTimeout;
  std::string out;

  ~Impl() {
    if (ssl) {
      SSL_shutdown(ssl);  // best effort close_notify; non-blocking
      SSL_free(ssl);
    }
    if (ctx) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }

  Result<void> connectTcp(const ConnectionOptions& o) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(o.port);
    int gai = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0)
      return makeError(Errc::kIo, "redis: resolve " + o.host + ": " + gai_strerror(gai));
    const auto deadline = SteadyClock::now() + o.connectTimeout;
    std::string lastError = "no address";
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (s < 0) {
        lastError = std::strerror(errno);
        continue;
      }
      int rc = ::connect(s, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        auto w = waitFd(s, POLLOUT, deadline, "connecting");
        if (!w) {
          lastError = w.error().message;
          ::close(s);
          continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
      if (rc != 0) {
        lastError = std::strerror(errno);
        ::close(s);
        continue;
      }
      int one = 1;
      ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd = s;
      break;
    }
    ::freeaddrinfo(res);
    if (fd < 0) return makeError(Errc::kIo, "redis: connect " + o.describe() + ": " + lastError);
    return {};
  }

  // Every certificate of a PEM bundle into the context's trust store.
  Result<void> loadCaPem(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return makeError(Errc::kIo, "redis tls: " + sslErrorText());
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      if (X509_STORE_add_cert(store, cert) == 1) ++added;
      X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error();  // the read past the last certificate
    if (added == 0) return makeError(Errc::kInvalidInput, "redis tls: CA PEM holds no certificate");
    return {};
  }

  // Client certificate (and chain) and private key from PEM text.
  Result<void> useClientPem(const std::string& certPem, const std::string& keyPem) {
    BIO* bio = BIO_new_mem_buf(certPem.data(), static_cast<int>(certPem.size()));
    if (!bio) return makeError(Errc::kIo, "redis tls: " + sslErrorText());
    X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    bool ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    while (ok) {
      X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      if (!extra) break;
      if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {  // takes ownership on success
        X509_free(extra);
        ok = false;
      }
    }
    BIO_free(bio);
    if (!ok) return makeError(Errc::kInvalidInput, "redis tls: client certificate PEM: " + sslErrorText());
    ERR_clear_error();
    BIO* kbio = BIO_new_mem_buf(keyPem.data(), static_cast<int>(keyPem.size()));
    if (!kbio) return makeError(Errc::kIo, "redis tls: " + sslErrorText());
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
    BIO_free(kbio);
    ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!ok) return makeError(Errc::kInvalidInput, "redis tls: client key PEM: " + sslErrorText());
    return {};
  }

  Result<void> startTls(const ConnectionOptions& o) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return makeError(Errc::kIo, "redis tls: " + sslErrorText());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (!o.tls.caPem.empty()) {
      if (auto r = loadCaPem(o.tls.caPem); !r) return r.error();
    } else if (!o.tls.caFile.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, o.tls.caFile.c_str(), nullptr) != 1)
        return makeError(Errc::kInvalidInput, "redis tls: CA file " + o.tls.caFile + ": " + sslErrorText());
    } else {
      SSL_CTX_set_default_verify_paths(ctx);
    }
    if (!o.tls.certPem.empty()) {
      if (auto r = useClientPem(o.tls.certPem, o.tls.keyPem.empty() ? o.tls.certPem : o.tls.keyPem);
          !r)
        return r.error();
    } else if (!o.tls.certFile.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx, o.tls.certFile.c_str()) != 1)
        return makeError(Errc::kInvalidInput, "redis tls: cert file: " + sslErrorText());
      const std::string& key = o.tls.keyFile.empty() ? o.tls.certFile : o.tls.keyFile;
      if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return makeError(Errc::kInvalidInput, "redis tls: key file: " + sslErrorText());
    }
    SSL_CTX_set_verify(ctx, o.tls.insecureSkipVerify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
    ssl = SSL_new(ctx);
    if (!ssl) return makeError(Errc::kIo, "redis tls: " + sslErrorText());
    SSL_set_fd(ssl, fd);
    const std::string name = o.tls.serverName.empty() ? o.host : o.tls.serverName;
    if (isIpLiteral(name)) {
      if (!o.tls.insecureSkipVerify)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, name.c_str());
      if (!o.tls.insecureSkipVerify) SSL_set1_host(ssl, name.c_str());
    }
    const auto deadline = SteadyClock::now() + o.connectTimeout;
    for (;;) {
      int rc = SSL_connect(ssl);
      if (rc == 1) return {};
      int err = SSL_get_error(ssl, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        auto w = waitFd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "TLS handshake");
        if (!w) return w.error();
        continue;
      }
      std::string detail = sslErrorText();
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) detail += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      return makeError(Errc::kIo, "redis tls handshake with " + o.describe() + ": " + detail);
    }
  }

  Result<void> writeAll(const std::string& data, SteadyClock::time_point deadline) {
    size_t off = 0;
    while (off < data.size()) {
      if (ssl) {
        int n = SSL_write(ssl, data.data() + off, static_cast<int>(std::min<size_t>(data.size() - off, 1 << 30)));
        if (n > 0) {
          off += static_cast<size_t>(n);
          continue;
        }
        int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          auto w = waitFd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "writing");
          if (!w) return w.error();
          continue;
        }
        return makeError(Errc::kIo, "redis tls write: " + sslErrorText());
      }
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto w = waitFd(fd, POLLOUT, deadline, "writing");
        if (!w) return w.error();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return makeError(Errc::kIo, std::string("redis write: ") + std::strerror(errno));
    }
    return {};
  }

  // Reads what is available (at least one byte) into the reader.
  Result<void> readSome(SteadyClock::time_point deadline) {
    char buf[64 * 1024];
    for (;;) {
      if (ssl) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) {
          reader.feed(std::string_view(buf, static_cast<size_t>(n)));
          return {};
        }
        int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          auto w = waitFd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "reading");
          if (!w) return w.error();
          continue;
        }
        if (err == SSL_ERROR_ZERO_RETURN) return makeError(Errc::kIo, "redis: connection closed");
        return makeError(Errc::kIo, "redis tls read: " + sslErrorText());
      }
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        reader.feed(std::string_view(buf, static_cast<size_t>(n)));
        return {};
      }
      if (n == 0) return makeError(Errc::kIo, "redis: connection closed by server");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        auto w = waitFd(fd, POLLIN, deadline, "reading");
        if (!w) return w.error();
        continue;
      }
      return makeError(Errc::kIo, std::string("redis read: ") + std::strerror(errno));
    }
  }

  Result<Reply> readReply(SteadyClock::time_point deadline) {
    for (;;) {
      auto r = reader.next();
      if (!r) return r.error();
      if (r->has_value()) return std::move(**r);
      auto rs = readSome(deadline);
      if (!rs) return rs.error();
    }
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::open(const ConnectionOptions& opts) {
  auto impl = std::make_unique<Impl>();
  impl->readTimeout = opts.readTimeout;
  if (auto r = impl->connectTcp(opts); !r) return r.error();
  if (opts.tls.enabled) {
    if (auto r = impl->startTls(opts); !r) return r.error();
  }
  std::unique_ptr<Connection> conn(new Connection(std::move(impl)));
  std::vector<Command> hello;
  if (!opts.password.empty()) {
    if (opts.username.empty())
      hello.push_back({"AUTH", opts.password});
    else
      hello.push_back({"AUTH", opts.username, opts.password});
  }
  if (opts.db != 0) hello.push_back({"SELECT", std::to_string(opts.db)});
  if (!hello.empty()) {
    auto replies = conn->pipeline(hello);
    if (!replies) return replies.error();
    for (size_t i = 0; i < replies->size(); ++i) {
      const Reply& r = (*replies)[i];
      if (r.isError()) {
        const bool auth = hello[i][0] == "AUTH";
        return makeError(auth ? Errc::kPermanent : Errc::kServer,
                         std::string("redis ") + (auth ? "AUTH" : "SELECT") + " failed: " + r.str);
      }
    }
  }
  return conn;
}

Result<Reply> Connection::command(const Command& args, Duration extraTimeout) {
  auto r = pipeline(std::vector<Command>{args}, extraTimeout);
  if (!r) return r.error();
  return std::move(r->front());
}

Result<std::vector<Reply>> Connection::pipeline(const std::vector<Command>& cmds, Duration extraTimeout) {
  if (broken_) return makeError(Errc::kIo, "redis: connection is broken");
  auto& im = *impl_;
  im.out.clear();
  for (const auto& c : cmds) encodeCommand(c, im.out);
  const auto deadline = SteadyClock::now() + im.readTimeout + extraTimeout;
  if (auto w = im.writeAll(im.out, deadline); !w) {
    broken_ = true;
    return w.error();
  }
  if (im.out.capacity() > (1 << 20)) std::string().swap(im.out);
  std::vector<Reply> replies;
  replies.reserve(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    auto r = im.readReply(deadline);
    if (!r) {
      broken_ = true;
      return r.error();
    }
    replies.push_back(std::move(*r));
  }
  return replies;
}

}  // namespace shoal::redis
