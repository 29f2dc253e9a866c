// _bulk NDJSON building, response parsing and item/request classification.
#include "shoal/logs/bulk.h"

#include <gtest/gtest.h>

using namespace shoal::logs;

TEST(DocumentId, ReadableStableAndUnique) {
  EXPECT_EQ(documentId("logs:app", "1700000000000-0"), "logs:app/1700000000000-0");
  EXPECT_EQ(documentId("logs:app", "1-0"), documentId("logs:app", "1-0"));
  EXPECT_NE(documentId("a/1-0", "2-0"), documentId("a", "2-0"));
  EXPECT_NE(documentId("a", "1-0"), documentId("a", "1-1"));
  EXPECT_NE(documentId("a", "1-0"), documentId("b", "1-0"));
  std::string longStream(600, 's');
  std::string id = documentId(longStream, "1-0");
  EXPECT_EQ(id.rfind("sha256:", 0), 0u);
  EXPECT_EQ(id.size(), 7u + 64u);
  EXPECT_EQ(id, documentId(longStream, "1-0"));
  EXPECT_NE(id, documentId(longStream, "1-1"));
}

TEST(DocumentId, AssignedOverAReusedBufferIsTheSame) {
  std::string buf = "whatever was here before, and longer than the id";
  for (auto [stream, entry] : {std::pair<std::string, std::string>{"logs:app", "1700000000000-0"},
                               {std::string(600, 's'), "1-0"},
                               {"a", "2-0"}}) {
    assignDocumentId(buf, stream, entry);
    EXPECT_EQ(buf, documentId(stream, entry));
  }
}

TEST(BulkBody, CreateActionWithEscapedIndexAndId) {
  std::string body;
  appendBulkCreate(body, "logs-a", "s/1-0", R"({"m":1})");
  appendBulkCreate(body, "logs-b", "we\"ird", R"({"m":2})");
  EXPECT_EQ(body,
            "{\"create\":{\"_index\":\"logs-a\",\"_id\":\"s/1-0\"}}\n{\"m\":1}\n"
            "{\"create\":{\"_index\":\"logs-b\",\"_id\":\"we\\\"ird\"}}\n{\"m\":2}\n");
}

TEST(BulkBody, ActionSizeIsTheSizeWritten) {
  std::string ctl;
  for (int c = 0; c < 0x20; ++c) ctl.push_back(static_cast<char>(c));
  for (const std::string& s : {std::string(), std::string("logs-a"), std::string("we\"ird\\path"), ctl,
                               std::string("caf\xc3\xa9 \xe2\x80\xa8 long enough to take the 8-byte words"),
                               std::string(600, 'x') + "\n", std::string("12345678\t")}) {
    std::string line;
    appendBulkAction(line, s, "s/1-0");
    EXPECT_EQ(bulkActionSize(s, "s/1-0"), line.size()) << s;
    line.clear();
    appendBulkAction(line, "i", s);
    EXPECT_EQ(bulkActionSize("i", s), line.size()) << s;
  }
}

TEST(BulkResponse, ParsesItemsWithErrors) {
  auto items = parseBulkResponse(R"({"took":3,"errors":true,"items":[
    {"create":{"_index":"a","_id":"1","_version":1,"result":"created","status":201}},
    {"create":{"_index":"a","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
    {"create":{"_index":"a","_id":"3","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n]","caused_by":{"type":"x","reason":"not a number"}}}},
    {"index":{"_index":"a","_id":"4","status":429,"error":"old style"}}]})");
  ASSERT_TRUE(items) << items.error().message;
  ASSERT_EQ(items->size(), 4u);
  EXPECT_EQ((*items)[0].status, 201);
  EXPECT_EQ((*items)[0].id, "1");
  EXPECT_EQ((*items)[1].errorType, "version_conflict_engine_exception");
  EXPECT_EQ((*items)[2].errorReason, "failed to parse field [n] (caused by: not a number)");
  EXPECT_EQ((*items)[3].errorReason, "old style");
  EXPECT_EQ(describeItemError((*items)[2]),
            "elasticsearch: 400 mapper_parsing_exception: failed to parse field [n] (caused by: not a number)");
}

TEST(BulkResponse, GarbageIsAProtocolError) {
  for (const char* bad : {"", "not json", R"({"took":1})", R"({"items":[{"create":{}}]})",
                          R"({"items":[{"a":{"status":1},"b":{"status":2}}]})", R"({"items":[1]})"})
    EXPECT_FALSE(parseBulkResponse(bad)) << bad;
}

TEST(BulkClassification, ItemVerdicts) {
  EXPECT_EQ(classifyItem(200, ""), ItemVerdict::kDelivered);
  EXPECT_EQ(classifyItem(201, ""), ItemVerdict::kDelivered);
  EXPECT_EQ(classifyItem(409, "version_conflict_engine_exception"), ItemVerdict::kDelivered);
  EXPECT_EQ(classifyItem(429, "es_rejected_execution_exception"), ItemVerdict::kRetry);
  EXPECT_EQ(classifyItem(500, ""), ItemVerdict::kRetry);
  EXPECT_EQ(classifyItem(503, "unavailable_shards_exception"), ItemVerdict::kRetry);
  EXPECT_EQ(classifyItem(403, "cluster_block_exception"), ItemVerdict::kRetry);
  EXPECT_EQ(classifyItem(400, "cluster_block_exception"), ItemVerdict::kRetry);
  EXPECT_EQ(classifyItem(401, "security_exception"), ItemVerdict::kRetry);
  EXPECT_EQ(classifyItem(400, "mapper_parsing_exception"), ItemVerdict::kDeadLetter);
  EXPECT_EQ(classifyItem(400, "illegal_argument_exception"), ItemVerdict::kDeadLetter);
  EXPECT_EQ(classifyItem(404, "index_not_found_exception"), ItemVerdict::kDeadLetter);
}

TEST(BulkClassification, RequestVerdicts) {
  EXPECT_EQ(classifyRequest(200), RequestVerdict::kReadItems);
  EXPECT_EQ(classifyRequest(0), RequestVerdict::kRetry);
  EXPECT_EQ(classifyRequest(500), RequestVerdict::kRetry);
  EXPECT_EQ(classifyRequest(503), RequestVerdict::kRetry);
  EXPECT_EQ(classifyRequest(429), RequestVerdict::kRetry);
  EXPECT_EQ(classifyRequest(401), RequestVerdict::kRetry);
  EXPECT_EQ(classifyRequest(404), RequestVerdict::kRetry);
  EXPECT_EQ(classifyRequest(400), RequestVerdict::kSplit);
  EXPECT_EQ(classifyRequest(413), RequestVerdict::kSplit);
}

TEST(BulkResponse, DescribesErrorBodies) {
  EXPECT_EQ(describeErrorBody(R"({"error":{"type":"t","reason":"r"},"status":400})"), "t: r");
  EXPECT_EQ(describeErrorBody(R"({"error":"plain"})"), "plain");
  EXPECT_EQ(describeErrorBody("<html>bad gateway</html>"), "<html>bad gateway</html>");
}
