// The Elasticsearch `_bulk` wire format: building NDJSON `create` actions,
// reading a bulk response item by item, and deciding what each status means
// for delivery. Pure functions; the HTTP side lives in es_sink.h.
//
// Item verdicts (by status and error type):
//   2xx                                     delivered
//   409 (create: the _id exists)            delivered: a redelivered entry
//   429, 5xx, 408, 401, 403, and any
//   cluster_block_exception                 retry (only that item)
//   other 4xx (400 mapping, 404 index)      dead-letter with the ES error
// 401/403 are retried rather than dead-lettered: credentials or privileges
// are a configuration problem, and an outage must not become dead letters.
//
// Request verdicts (the whole `_bulk` call):
//   transport error, 5xx, 429, 401/403/404/406, others   retry all its items
//   200                                                  read the items
//   400, 413                                             split in halves to
//                                                        isolate the culprit; a
//                                                        single document is
//                                                        dead-lettered
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/result.h"

namespace shoal::logs {

/// The deterministic document id of a stream entry: "<stream>/<entry id>"
/// (readable; unique because entry ids contain no '/'), or, when that would
/// exceed Elasticsearch's 512-byte _id limit, "sha256:<hex of the same>".
std::string documentId(std::string_view stream, std::string_view entryId);
/// The same written over `out` (its buffer is reused: no allocation per
/// document once it is large enough).
void assignDocumentId(std::string& out, std::string_view stream, std::string_view entryId);

/// The size of the `create` action line appendBulkAction writes.
size_t bulkActionSize(std::string_view index, std::string_view id);
/// Appends the `create` action line (with its newline).
void appendBulkAction(std::string& body, std::string_view index, std::string_view id);
/// Appends one `create` action and its source (already one-line JSON).
void appendBulkCreate(std::string& body, std::string_view index, std::string_view id,
                      std::string_view source);

enum class ItemVerdict { kDelivered, kRetry, kDeadLetter };

struct BulkItemResult {
  int status = 0;
  std::string id;
  std::string errorType;
  std::string errorReason;
};

ItemVerdict classifyItem(int status, std::string_view errorType);

/// "elasticsearch: 400 mapper_parsing_exception: failed to parse [...]"
std::string describeItemError(const BulkItemResult& item);

/// Parses a 200 `_bulk` response body into its items, in order.
Result<std::vector<BulkItemResult>> parseBulkResponse(std::string_view body);

enum class RequestVerdict { kReadItems, kRetry, kSplit };
/// status 0 means the request did not complete (connect, timeout, reset).
RequestVerdict classifyRequest(int status);

/// The "type: reason" of an Elasticsearch error body, or a prefix of the body.
std::string describeErrorBody(std::string_view body);

}  // namespace shoal::logs
