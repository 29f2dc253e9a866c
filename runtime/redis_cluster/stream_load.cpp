// Reading a stream's load. See stream_load.h.
#include "shoal/redis_cluster/stream_load.h"

#include <algorithm>

namespace shoal::redis {

Result<StreamLoad> readStreamLoad(KeyedClient& client, const std::string& stream) {
  auto len = client.on(stream, [&](Client& c) { return c.command({"XLEN", stream}); });
  if (!len) return len.error();
  const auto n = len->asInt();
  if (!n) return makeError(Errc::kProtocol, "XLEN " + stream + ": " + (len->isError() ? len->str : "not a number"));
  StreamLoad l{*n, *n};
  if (*n == 0) return l;  // also a stream that does not exist
  auto groups = client.on(stream, [&](Client& c) { return c.groups(stream); });
  if (!groups) return groups.error().code == Errc::kNotFound ? Result<StreamLoad>(l) : Result<StreamLoad>(groups.error());
  if (groups->empty()) return l;
  int64_t worst = 0;
  for (const auto& g : *groups) worst = std::max(worst, g.lag.value_or(*n) + g.pending);
  l.backlog = worst;
  return l;
}

}  // namespace shoal::redis
