// The connection fields of a `redis` section (a Pipeline's source.redis, a
// Receiver's spec.redis): url | address, db, username, tls, cluster and the
// timeouts, with the environment overrides for the server and the secrets,
// read with the stream module's field readers so that the worker and the
// receiver accept the same words and fail with the same ones. Also the one
// conversion of that configuration into the client's ConnectionOptions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "shoal/redis/client.h"
#include "shoal/stream/config_fields.h"
#include "shoal/stream/pipeline_config.h"

namespace shoal::redis {

/// The keys parseConnectionFields reads, and the secret references the
/// operator resolves into the environment (to tolerate in checkKeys).
extern const config::Keys kConnectionKeys;
extern const config::Keys kSecretRefKeys;

/// Reads the connection fields of `n` (path: its full path, for errors) into
/// r. Does not check for unknown keys (the caller knows its section's other
/// keys). Throws ConfigError: a password in the spec, both url and address,
/// a bad URL or address, TLS keyFile without certFile, db != 0 on a cluster.
void parseConnectionFields(const YAML::Node& n, RedisSourceConfig& r, const std::string& path);

/// Whether the section names the server itself (url or address).
bool namesServer(const YAML::Node& n);

/// The environment on top: SHOAL_REDIS_URL (may carry credentials),
/// SHOAL_REDIS_USERNAME, SHOAL_REDIS_PASSWORD, SHOAL_REDIS_PASSWORD_FILE,
/// SHOAL_REDIS_TLS_{CA,CERT,KEY}_FILE. Without SHOAL_REDIS_URL and unless
/// `specNamesServer`, throws ConfigError naming `urlField`.
void applyConnectionEnv(RedisSourceConfig& r, const std::map<std::string, std::string>& env,
                        bool specNamesServer, const std::string& urlField);

/// The client's options for that configuration.
ConnectionOptions connectionOptions(const RedisSourceConfig& c);

}  // namespace shoal::redis
