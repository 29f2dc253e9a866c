// Reading a stream's load (shoal/stream/stream_load.h) over one server or a
// cluster: XLEN, then XINFO GROUPS when the stream holds anything. The
// receiver's backlog monitor and the operator's probe both read it here.
#pragma once

#include <string>

#include "shoal/redis_cluster/keyed_client.h"
#include "shoal/stream/stream_load.h"

namespace shoal::redis {

/// A stream that does not exist has load {0, 0}. Two commands, each routed
/// on its own (a cluster follows redirects per command).
Result<StreamLoad> readStreamLoad(KeyedClient& client, const std::string& stream);

}  // namespace shoal::redis
