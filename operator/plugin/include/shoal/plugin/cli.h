// `kubectl shoal`: the command line (flags like kubectl's, one subcommand per
// question: status, why, dlq, replay) and the I/O behind each subcommand (the
// API server through shoal_kube, Redis through shoal_redis). What is shown
// is computed by pool_report.h and dead_letters.h.
//
// Exit codes: 0 success; 1 failure (no kubeconfig, API server or Redis
// unreachable, object not found, replay cancelled or partly failed);
// 2 usage errors (unknown flag, missing argument, bad value), with a message
// naming the flag.
#pragma once

#include <iosfwd>

namespace shoal::plugin {

/// Runs the plugin. `in` answers the replay confirmation prompt; results go
/// to `out`, diagnostics and the prompt to `err`.
int runPlugin(int argc, const char* const* argv, std::istream& in, std::ostream& out,
              std::ostream& err);

}  // namespace shoal::plugin
