// Shared parts of the Kubernetes client: ApiError decoding and description,
// object accessors, keys, and the paged listAll convenience.
#include "shoal/kube/client.h"

#include <exception>

namespace shoal::kube {

namespace {
std::string str(const Json& j, const char* k) {
  if (!j.is_object()) return "";
  auto it = j.find(k);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}
const Json& meta(const Json& obj) {
  static const Json kEmpty = Json::object();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find("metadata");
  if (it == obj.end() || !it->is_object()) return kEmpty;
  return *it;
}
std::string defaultReason(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "";
  }
}
}  // namespace

std::string ApiError::describe() const {
  std::string s = code == 0 ? std::string("transport") : std::to_string(code);
  if (!reason.empty()) s += " " + reason;
  if (!message.empty()) s += ": " + message;
  return s;
}

shoal::Error ApiError::toError() const {
  Errc c = Errc::kServer;
  if (code == 0) c = Errc::kIo;
  else if (isNotFound()) c = Errc::kNotFound;
  else if (code == 409) c = Errc::kConflict;
  else if (isRetryable()) c = Errc::kRetryable;
  else if (isInvalid() || code == 400) c = Errc::kInvalidInput;
  else if (isGone()) c = Errc::kRetryable;
  return shoal::Error{c, describe()};
}

ApiError decodeApiError(int httpStatus, const std::string& body) {
  ApiError e;
  e.code = httpStatus;
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && str(j, "kind") == "Status") {
    e.reason = str(j, "reason");
    e.message = str(j, "message");
    auto c = j.find("code");
    if (c != j.end() && c->is_number_integer() && e.code == 0) e.code = c->get<int>();
    auto d = j.find("details");
    if (d != j.end()) {
      e.details = *d;
      if (d->is_object()) {
        auto ra = d->find("retryAfterSeconds");
        if (ra != d->end() && ra->is_number_integer() && ra->get<int64_t>() >= 0)
          e.retryAfter = std::chrono::seconds(ra->get<int64_t>());
      }
    }
  } else {
    e.message = body.size() > 512 ? body.substr(0, 512) + "..." : body;
  }
  if (e.reason.empty()) e.reason = defaultReason(e.code);
  return e;
}

std::optional<WatchEvent::Type> WatchEvent::parseType(const std::string& s) {
  if (s == "ADDED") return Type::kAdded;
  if (s == "MODIFIED") return Type::kModified;
  if (s == "DELETED") return Type::kDeleted;
  if (s == "BOOKMARK") return Type::kBookmark;
  if (s == "ERROR") return Type::kError;
  return std::nullopt;
}

const char* WatchEvent::typeName(Type t) {
  switch (t) {
    case Type::kAdded: return "ADDED";
    case Type::kModified: return "MODIFIED";
    case Type::kDeleted: return "DELETED";
    case Type::kBookmark: return "BOOKMARK";
    case Type::kError: return "ERROR";
  }
  return "?";
}

ApiError WatchEvent::statusError() const {
  int code = 0;
  if (object.is_object()) {
    auto c = object.find("code");
    if (c != object.end() && c->is_number_integer()) code = c->get<int>();
  }
  ApiError e = decodeApiError(code, object.dump());
  if (e.code == 0) e.code = 500;  // an ERROR event without a code: treat as server error
  return e;
}

std::string nameOf(const Json& obj) { return str(meta(obj), "name"); }
std::string namespaceOf(const Json& obj) { return str(meta(obj), "namespace"); }
std::string resourceVersionOf(const Json& obj) { return str(meta(obj), "resourceVersion"); }
std::string uidOf(const Json& obj) { return str(meta(obj), "uid"); }
std::string makeKey(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "/" + name;
}
std::string keyOf(const Json& obj) { return makeKey(namespaceOf(obj), nameOf(obj)); }
std::pair<std::string, std::string> splitKey(const std::string& key) {
  auto p = key.find('/');
  if (p == std::string::npos) return {"", key};
  return {key.substr(0, p), key.substr(p + 1)};
}

std::optional<Json> controllerOwnerOf(const Json& obj) {
  const Json& m = meta(obj);
  auto it = m.find("ownerReferences");
  if (it == m.end() || !it->is_array()) return std::nullopt;
  for (const auto& ref : *it) {
    if (!ref.is_object()) continue;
    auto c = ref.find("controller");
    if (c != ref.end() && c->is_boolean() && c->get<bool>()) return ref;
  }
  return std::nullopt;
}

ApiResult<ListPage> Client::listAll(const Resource& r, const std::string& ns, ListOptions opts,
                                    int64_t pageSize) {
  ListOptions first = opts;
  for (int attempt = 0; attempt < 2; ++attempt) {
    ListOptions o = first;
    o.limit = pageSize;
    o.continueToken.clear();
    ListPage all;
    bool restart = false;
    for (int page = 0;; ++page) {
      auto res = list(r, ns, o);
      if (!res) {
        if (res.error().isGone() && page > 0 && attempt == 0) {
          restart = true;  // the continue token expired: start over once
          break;
        }
        return res.error();
      }
      if (page == 0) all.resourceVersion = res->resourceVersion;
      for (auto& it : res->items) all.items.push_back(std::move(it));
      if (res->continueToken.empty()) return all;
      o.continueToken = res->continueToken;
      o.resourceVersion.clear();  // not allowed together with continue
      o.resourceVersionMatch.clear();
    }
    if (!restart) break;
  }
  return ApiError{410, "Expired", "list continue token expired twice", nullptr, std::nullopt};
}

}  // namespace shoal::kube

namespace shoal::kube {

std::string urlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string resourcePath(const Resource& r, const std::string& ns, const std::string& name,
                         const std::string& subresource) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) p += "/namespaces/" + urlEncode(ns);
  p += "/" + r.plural;
  if (!name.empty()) {
    p += "/" + urlEncode(name);
    if (!subresource.empty()) p += "/" + subresource;
  }
  return p;
}

}  // namespace shoal::kube
