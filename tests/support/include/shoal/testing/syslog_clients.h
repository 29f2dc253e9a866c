// Real syslog clients for tests, and what they need: a self-signed
// certificate for TLS (RFC 5425), the real `openssl s_client`, and Python's
// logging.handlers.SysLogHandler (the standard library's syslog client).
#pragma once

#include <string>
#include <vector>

#include "shoal/testing/process.h"

namespace shoal::testing {

/// A self-signed server certificate for 127.0.0.1 and localhost (EC P-256,
/// valid a day), written as <name>.pem and <name>-key.pem in dir. It is its
/// own CA: a client trusting another one refuses it.
struct CertificateFiles {
  std::string cert, key;
};
CertificateFiles selfSignedCertificate(const TempDir& dir, const std::string& name);

/// The real `openssl s_client` connected to 127.0.0.1:port, verifying the
/// server against caFile (-verify_return_error), its input the file's
/// content; returns its output (stdout and stderr), the exit code in *rc.
std::string opensslClient(int port, const std::string& caFile, const std::string& inputFile, int* rc);

/// Python's logging.handlers.SysLogHandler sending each message as a
/// warning to 127.0.0.1:port over TCP (stream = true) or UDP, with
/// `facility` one of SysLogHandler's LOG_* names without the prefix
/// ("LOCAL0", "AUTH"). Throws if python3 fails.
void pythonSysLog(const TempDir& dir, int port, bool stream, const std::string& facility,
                  const std::vector<std::string>& messages);

}  // namespace shoal::testing
