// How a RedisTarget (a Pipeline's source with its Secrets resolved) becomes
// the connection options of shoal_redis: URL or address, TLS material given as
// PEM text, credentials. One function, so the backlog probe and the
// `kubectl shoal` plugin reach Redis exactly the same way. Pure; callers link
// shoal_redis themselves (the probe keeps it private).
#pragma once

#include "shoal/common/result.h"
#include "shoal/probe/backlog_probe.h"
#include "shoal/redis/client.h"

namespace shoal::probe {

/// The options for `t`: its url when set (else redis:// or rediss:// +
/// address, with t.db), TLS on when t.tls, the PEM material, the verification
/// settings and t's username and password. Errors: an unparsable URL or address.
Result<redis::ConnectionOptions> connectionOptionsFor(const RedisTarget& t);

}  // namespace shoal::probe
