// RedisTarget -> redis::ConnectionOptions (see redis_connection.h).
#include "shoal/probe/redis_connection.h"

namespace shoal::probe {

Result<redis::ConnectionOptions> connectionOptionsFor(const RedisTarget& t) {
  auto parsed = redis::parseUrl(!t.url.empty() ? t.url : (t.tls ? "rediss://" : "redis://") + t.address);
  if (!parsed.ok()) return parsed.error();
  redis::ConnectionOptions o = std::move(parsed.value());
  if (t.url.empty()) o.db = static_cast<int>(t.db);
  if (t.tls) o.tls.enabled = true;
  o.tls.insecureSkipVerify = t.tlsInsecureSkipVerify;
  o.tls.serverName = t.tlsServerName;
  o.tls.caPem = t.tlsCaPem;
  o.tls.certPem = t.tlsCertPem;
  o.tls.keyPem = t.tlsKeyPem;
  o.username = t.username;
  o.password = t.password;
  return o;
}

}  // namespace shoal::probe
