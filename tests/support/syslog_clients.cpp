// Real syslog clients for tests. See syslog_clients.h.
#include "shoal/testing/syslog_clients.h"

#include <fstream>

#include "shoal/testing/servers.h"

namespace shoal::testing {

CertificateFiles selfSignedCertificate(const TempDir& dir, const std::string& name) {
  CertificateFiles f{dir.file(name + ".pem"), dir.file(name + "-key.pem")};
  runCommand("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
             f.key + " -out " + f.cert + " 2>/dev/null");
  return f;
}

std::string opensslClient(int port, const std::string& caFile, const std::string& inputFile, int* rc) {
  return runCommand("openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -verify_return_error -CAfile " +
                        caFile + " -no_ign_eof < " + inputFile + " 2>&1",
                    false, rc);
}

void pythonSysLog(const TempDir& dir, int port, bool stream, const std::string& facility,
                  const std::vector<std::string>& messages) {
  const std::string script = dir.file("syslog_handler.py");
  std::ofstream(script) << R"(import logging, logging.handlers, socket, sys
port, kind, facility = int(sys.argv[1]), sys.argv[2], sys.argv[3]
h = logging.handlers.SysLogHandler(address=('127.0.0.1', port),
                                   facility=getattr(logging.handlers.SysLogHandler, 'LOG_' + facility),
                                   socktype=socket.SOCK_STREAM if kind == 'tcp' else socket.SOCK_DGRAM)
log = logging.getLogger('shoal-test-%d' % port)
log.addHandler(h)
log.setLevel(logging.INFO)
for m in sys.argv[4:]:
    log.warning(m)
h.close()
)";
  std::string cmd = "python3 " + script + " " + std::to_string(port) + (stream ? " tcp " : " udp ") + facility;
  for (const auto& m : messages) cmd += " '" + m + "'";
  runCommand(cmd + " 2>&1");
}

}  // namespace shoal::testing
