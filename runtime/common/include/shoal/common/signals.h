// The shutdown-signal setup every Shoal main shares: SIGTERM and SIGINT are
// blocked in every thread (call before starting any) so that one thread
// takes them with sigwait(); SIGPIPE is ignored (a peer closing a socket is
// an error return, never a death).
#pragma once

#include <pthread.h>
#include <signal.h>

namespace shoal {

/// Blocks SIGTERM and SIGINT in the calling thread (and the threads it
/// starts afterwards), ignores SIGPIPE, and returns the blocked set for
/// sigwait().
inline sigset_t blockShutdownSignals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sigs;
}

}  // namespace shoal
