// `_bulk` NDJSON building and response classification.
#include "shoal/logs/bulk.h"

#include <openssl/sha.h>
#include <simdjson.h>

#include "shoal/logs/ecs.h"

namespace shoal::logs {

std::string documentId(std::string_view stream, std::string_view entryId) {
  std::string id;
  assignDocumentId(id, stream, entryId);
  return id;
}

void assignDocumentId(std::string& out, std::string_view stream, std::string_view entryId) {
  out.clear();
  out.reserve(stream.size() + entryId.size() + 1);
  out.append(stream).push_back('/');
  out.append(entryId);
  if (out.size() <= 512) return;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(out.data()), out.size(), digest);
  static const char* kHex = "0123456789abcdef";
  out = "sha256:";
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
}

namespace {
constexpr std::string_view kActionOpen = "{\"create\":{\"_index\":", kActionId = ",\"_id\":", kActionClose = "}}\n";
}  // namespace

size_t bulkActionSize(std::string_view index, std::string_view id) {
  return kActionOpen.size() + jsonStringSize(index) + kActionId.size() + jsonStringSize(id) + kActionClose.size();
}

void appendBulkAction(std::string& body, std::string_view index, std::string_view id) {
  body += kActionOpen;
  appendJsonString(body, index);
  body += kActionId;
  appendJsonString(body, id);
  body += kActionClose;
}

void appendBulkCreate(std::string& body, std::string_view index, std::string_view id,
                      std::string_view source) {
  appendBulkAction(body, index, id);
  body += source;
  body += '\n';
}

ItemVerdict classifyItem(int status, std::string_view errorType) {
  if (status >= 200 && status < 300) return ItemVerdict::kDelivered;
  if (status == 409) return ItemVerdict::kDelivered;
  if (errorType == "cluster_block_exception") return ItemVerdict::kRetry;
  if (status == 429 || status >= 500 || status == 408 || status == 401 || status == 403)
    return ItemVerdict::kRetry;
  if (status >= 400) return ItemVerdict::kDeadLetter;
  return ItemVerdict::kRetry;  // 0 or 1xx/3xx: not an answer we understand
}

std::string describeItemError(const BulkItemResult& item) {
  std::string s = "elasticsearch: " + std::to_string(item.status);
  if (!item.errorType.empty()) s += " " + item.errorType;
  if (!item.errorReason.empty()) s += ": " + item.errorReason;
  return s;
}

Result<std::vector<BulkItemResult>> parseBulkResponse(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  padded.assign(body);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::dom::element root;
  if (auto err = parser.parse(padded.data(), body.size(), false).get(root))
    return makeError(Errc::kProtocol, std::string("bulk response: ") + simdjson::error_message(err));
  simdjson::dom::array items;
  if (root["items"].get_array().get(items))
    return makeError(Errc::kProtocol, "bulk response: no items array");
  std::vector<BulkItemResult> out;
  out.reserve(items.size());
  for (simdjson::dom::element item : items) {
    simdjson::dom::object op;
    if (item.get_object().get(op) || op.size() != 1)
      return makeError(Errc::kProtocol, "bulk response: item is not a one-action object");
    simdjson::dom::element r = (*op.begin()).value;
    BulkItemResult res;
    int64_t status = 0;
    if (r["status"].get_int64().get(status))
      return makeError(Errc::kProtocol, "bulk response: item without status");
    res.status = static_cast<int>(status);
    std::string_view sv;
    if (r["_id"].get_string().get(sv) == simdjson::SUCCESS) res.id = sv;
    simdjson::dom::element err;
    if (r["error"].get(err) == simdjson::SUCCESS) {
      if (err.is_string()) {
        res.errorReason = err.get_string().value_unsafe();
      } else {
        if (err["type"].get_string().get(sv) == simdjson::SUCCESS) res.errorType = sv;
        if (err["reason"].get_string().get(sv) == simdjson::SUCCESS) res.errorReason = sv;
        simdjson::dom::element cause;
        if (err["caused_by"].get(cause) == simdjson::SUCCESS &&
            cause["reason"].get_string().get(sv) == simdjson::SUCCESS) {
          res.errorReason += " (caused by: ";
          res.errorReason += sv;
          res.errorReason += ")";
        }
      }
    }
    out.push_back(std::move(res));
  }
  return out;
}

RequestVerdict classifyRequest(int status) {
  if (status >= 200 && status < 300) return RequestVerdict::kReadItems;
  if (status == 400 || status == 413) return RequestVerdict::kSplit;
  return RequestVerdict::kRetry;
}

std::string describeErrorBody(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size(), true).get(root) == simdjson::SUCCESS) {
    std::string_view type, reason;
    simdjson::dom::element err;
    if (root["error"].get(err) == simdjson::SUCCESS) {
      if (err.is_string()) return std::string(err.get_string().value_unsafe());
      if (err["type"].get_string().get(type) != simdjson::SUCCESS) type = {};
      if (err["reason"].get_string().get(reason) != simdjson::SUCCESS) reason = {};
      if (!type.empty() || !reason.empty()) return std::string(type) + ": " + std::string(reason);
    }
  }
  return std::string(body.substr(0, 200));
}

}  // namespace shoal::logs
