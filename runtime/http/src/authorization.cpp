// basicAuthorization: the HTTP Basic credentials header value (RFC 7617).
#include "shoal/common/base64.h"
#include "shoal/http/transport.h"

namespace shoal::http {

std::string basicAuthorization(const std::string& user, const std::string& password) {
  return "Basic " + base64Encode(user + ":" + password);
}

}  // namespace shoal::http
