// shoal-bulk-server: a stand-in for Elasticsearch/OpenSearch's `_bulk` API,
// for integration tests and benchmarks. It is NOT a search engine: it stores
// documents by (_index, _id) in memory, answers `_bulk` in the real response
// shape, and lets tests inject failures. No real Elasticsearch/OpenSearch can
// be run on this machine (see the lead's notes), so this is what the log sink
// is tested against.
//
// Usage:
//   shoal-bulk-server --port P [--host 127.0.0.1] [--basic-auth user:pass]
//                     [--api-key KEY] [--no-store-sources] [--threads N]
//                     [--tls-cert CERT.pem --tls-key KEY.pem]
//   --port 0 picks a free port; the chosen one is printed on stdout as
//   "shoal-bulk-server listening on HOST:PORT".
//   With --basic-auth and/or --api-key, Elasticsearch endpoints require
//   `Authorization: Basic base64(user:pass)` or `Authorization: ApiKey KEY`
//   (either one that is configured); otherwise 401 security_exception.
//   The /_shoal/* control endpoints never require auth.
//   --no-store-sources keeps ids only (for million-document benchmarks).
//   --tls-cert/--tls-key serve https instead of http.
//
// Elasticsearch endpoints (what the worker uses):
//   GET  /                          cluster info (name, version.number 8.11.0)
//   GET  /_cluster/health           {"status":"green",...}
//   POST|PUT /_bulk, /{index}/_bulk NDJSON; actions create, index, delete
//        (update answers an item-level 400). `create` on an existing _id gives
//        409 version_conflict_engine_exception; `index` overwrites (200
//        updated / 201 created). Missing _id on create/index: an id is
//        generated. A source that is not a JSON object: 400
//        mapper_parsing_exception. Body not ending in "\n", bad action line or
//        missing _index: whole-request 400 illegal_argument_exception.
//        Content-Type other than application/json or application/x-ndjson:
//        406. Bodies over 100 MiB: 413. A body sent with Content-Encoding
//        gzip (or deflate, br) is decoded first (cpp-httplib does it; a body
//        that does not decode is a 400).
//   GET  /{index}/_count            {"count":N}
//   GET  /{index}/_doc/{id}         {"_index","_id","found",["_source"]}
//        `?filter_path=` keeps only the named parts of the response: took,
//        errors, items, items.*.<field> (e.g. the worker's
//        errors,items.*._id,items.*.status,items.*.error).
//   POST /_refresh, /{index}/_refresh   no-op 200
//
// Test control endpoints (JSON bodies):
//   POST /_shoal/faults/items   {"status":429, "type":"...", "reason":"...",
//                                "idContains":"abc", "index":"logs-x",
//                                "next":N}
//        The next N bulk items matching the rule (every item when neither
//        idContains nor index is given) fail with that status and error; the
//        document is not stored. next -1: until cleared. Default next 1;
//        default type from status (429 es_rejected_execution_exception, 400
//        mapper_parsing_exception, 404 index_not_found_exception, 403/429
//        with type cluster_block_exception allowed, 5xx
//        unavailable_shards_exception). Rules are tried in the order added.
//   POST /_shoal/faults/requests {"status":503, "next":N, "type":..,"reason":..}
//        The next N `_bulk` requests fail as a whole with that status and an
//        Elasticsearch error body; nothing is stored.
//   POST /_shoal/faults/delay    {"ms":200, "next":N}
//        The next N `_bulk` requests (-1: all) are answered after ms.
//   DELETE /_shoal/faults        clears all faults.
//   POST /_shoal/reset           clears faults, documents and stats.
//   GET  /_shoal/stats[?ids=true] {"indices":{"idx":docs},"totalDocs",
//        "bulkRequests","failedRequests","items","createAttempts",
//        "indexAttempts","created","conflicts","injectedItemFailures",
//        "authFailures","wireBytes","bodyBytes","gzipRequests",
//        "statusCounts":{"201":n,...},
//        ["ids":{"idx":[...]}]}
//   GET  /_shoal/docs?index=X[&id=Y]  {"index":X,"docs":[{"_id":..,"_source":{..}}]}
#include <httplib.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using nlohmann::json;

// ---------------------------------------------------------------- helpers

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string base64(std::string_view in) {
  static const char* kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string defaultErrorType(int status) {
  switch (status) {
    case 400: return "mapper_parsing_exception";
    case 403: return "cluster_block_exception";
    case 404: return "index_not_found_exception";
    case 409: return "version_conflict_engine_exception";
    case 429: return "es_rejected_execution_exception";
    default: return status >= 500 ? "unavailable_shards_exception" : "illegal_argument_exception";
  }
}

std::string errorBody(int status, const std::string& type, const std::string& reason) {
  json e = {{"type", type}, {"reason", reason}};
  json body = {{"error", {{"root_cause", json::array({e})}, {"type", type}, {"reason", reason}}},
               {"status", status}};
  return body.dump();
}

// ---------------------------------------------------------------- state

struct ItemFault {
  int status = 429;
  std::string type, reason;
  std::string idContains, index;
  int64_t remaining = 1;  // -1: unlimited
};

struct RequestFault {
  int status = 503;
  std::string type, reason;
  int64_t remaining = 1;
};

struct DelayFault {
  int64_t ms = 0;
  int64_t remaining = 0;
};

struct Stats {
  int64_t bulkRequests = 0, failedRequests = 0, items = 0, createAttempts = 0,
          indexAttempts = 0, created = 0, conflicts = 0, injectedItemFailures = 0,
          authFailures = 0;
  // `_bulk` bodies: bytes as received (Content-Length, compressed or not),
  // bytes after decoding, and how many requests came gzipped.
  int64_t wireBytes = 0, bodyBytes = 0, gzipRequests = 0;
  std::map<int, int64_t> statusCounts;
};

// Documents of one index: _id -> source (empty when sources are not stored).
using IndexDocs = std::unordered_map<std::string, std::string>;

class BulkStore {
 public:
  explicit BulkStore(bool storeSources) : storeSources_(storeSources) {}

  std::mutex mu;
  std::map<std::string, IndexDocs, std::less<>> indices;
  std::vector<ItemFault> itemFaults;
  std::deque<RequestFault> requestFaults;
  DelayFault delay;
  Stats stats;
  int64_t autoId = 0;
  const bool storeSources_;
};

// One parsed bulk item, before it is applied.
struct BulkItem {
  enum class Op { kCreate, kIndex, kDelete, kUpdate } op = Op::kCreate;
  std::string index, id;
  std::string_view source;
  std::string sourceError;  // non-empty: 400 mapper_parsing_exception
};

const char* opName(BulkItem::Op op) {
  switch (op) {
    case BulkItem::Op::kCreate: return "create";
    case BulkItem::Op::kIndex: return "index";
    case BulkItem::Op::kDelete: return "delete";
    case BulkItem::Op::kUpdate: return "update";
  }
  return "create";
}

struct ParseFailure {
  std::string reason;
};

// What `?filter_path=` keeps of a `_bulk` response, for the paths clients
// use on it: `took`, `errors`, `items`, `items.*` and `items.*.<field>`
// (`<field>` one of an item's keys, or `*`). Like Elasticsearch, an item
// left with no key is dropped, and so is an empty `items`; any other path
// matches nothing. No filter_path: everything.
struct ResponseFilter {
  bool took = true, errors = true, items = true;
  bool index = true, id = true, version = true, result = true, shards = true, seqNo = true,
       primaryTerm = true, status = true, error = true;

  static ResponseFilter parse(const std::string& spec) {
    ResponseFilter f;
    if (spec.empty()) return f;
    f = none();
    size_t pos = 0;
    while (pos <= spec.size()) {
      size_t comma = spec.find(',', pos);
      if (comma == std::string::npos) comma = spec.size();
      f.add(spec.substr(pos, comma - pos));
      pos = comma + 1;
    }
    return f;
  }
  bool anyItemField() const {
    return index || id || version || result || shards || seqNo || primaryTerm || status || error;
  }

 private:
  static ResponseFilter none() {
    ResponseFilter f;
    f.took = f.errors = f.items = false;
    f.setItemFields(false);
    return f;
  }
  void setItemFields(bool on) { index = id = version = result = shards = seqNo = primaryTerm = status = error = on; }
  void add(const std::string& path) {
    if (path == "took") took = true;
    else if (path == "errors") errors = true;
    else if (path == "items" || path == "items.*" || path == "items.*.*") items = true, setItemFields(true);
    else if (path.rfind("items.*.", 0) == 0) {
      std::string field = path.substr(8);
      const size_t dot = field.find('.');
      if (dot != std::string::npos) field = field.substr(0, dot);  // items.*.error.type keeps the error
      bool* f = field == "_index" ? &index : field == "_id" ? &id : field == "_version" ? &version
              : field == "result" ? &result : field == "_shards" ? &shards : field == "_seq_no" ? &seqNo
              : field == "_primary_term" ? &primaryTerm : field == "status" ? &status
              : field == "error" ? &error : nullptr;
      if (f) *f = items = true;
    }
  }
};

// Parses the NDJSON body into items. Returns a reason on whole-request errors.
std::optional<ParseFailure> parseBulk(std::string_view body, const std::string& pathIndex,
                                      std::vector<BulkItem>& items) {
  if (body.empty()) return ParseFailure{"request body is required"};
  if (body.back() != '\n') return ParseFailure{"The bulk request must be terminated by a newline [\\n]"};
  thread_local simdjson::dom::parser parser;
  // Each line is copied into one reused, padded buffer: no allocation per
  // line (simdjson needs SIMDJSON_PADDING readable bytes after the input).
  thread_local std::string padded;
  auto parseLine = [&](std::string_view line, simdjson::dom::element& out) {
    padded.assign(line);
    padded.append(simdjson::SIMDJSON_PADDING, '\0');
    return parser.parse(padded.data(), line.size(), false).get(out);
  };
  size_t pos = 0;
  auto nextLine = [&](std::string_view& line) -> bool {
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string_view::npos) nl = body.size();
      line = body.substr(pos, nl - pos);
      pos = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) return true;
    }
    return false;
  };
  std::string_view line;
  while (nextLine(line)) {
    simdjson::dom::element action;
    if (parseLine(line, action) != simdjson::SUCCESS || !action.is_object())
      return ParseFailure{"Malformed action/metadata line, expected START_OBJECT"};
    simdjson::dom::object obj = action.get_object().value_unsafe();
    if (obj.size() != 1) return ParseFailure{"Malformed action/metadata line, expected one action"};
    auto field = *obj.begin();
    BulkItem item;
    std::string_view opname = field.key;
    if (opname == "create") item.op = BulkItem::Op::kCreate;
    else if (opname == "index") item.op = BulkItem::Op::kIndex;
    else if (opname == "delete") item.op = BulkItem::Op::kDelete;
    else if (opname == "update") item.op = BulkItem::Op::kUpdate;
    else return ParseFailure{"Malformed action/metadata line, unknown action [" + std::string(opname) + "]"};
    if (!field.value.is_object()) return ParseFailure{"Malformed action/metadata line, expected object"};
    std::string_view sv;
    if (field.value["_index"].get_string().get(sv) == simdjson::SUCCESS) item.index = sv;
    else item.index = pathIndex;
    if (field.value["_id"].get_string().get(sv) == simdjson::SUCCESS) item.id = sv;
    if (item.index.empty()) return ParseFailure{"Validation Failed: 1: index is missing;"};
    if (item.op != BulkItem::Op::kDelete) {
      std::string_view src;
      if (!nextLine(src)) return ParseFailure{"Validation Failed: 1: source is missing;"};
      item.source = src;
      simdjson::dom::element doc;
      if (parseLine(src, doc) != simdjson::SUCCESS)
        item.sourceError = "failed to parse";
      else if (!doc.is_object())
        item.sourceError = "failed to parse, document is empty or not an object";
    }
    items.push_back(std::move(item));
  }
  return std::nullopt;
}

class Server {
 public:
  Server(bool storeSources, std::string basicAuth, std::string apiKey)
      : store_(storeSources) {
    if (!basicAuth.empty()) expectedAuth_.push_back("Basic " + base64(basicAuth));
    if (!apiKey.empty()) expectedAuth_.push_back("ApiKey " + apiKey);
  }

  void install(httplib::Server& http) {
    http.set_payload_max_length(100u << 20);
    // Like Elasticsearch (http.tcp.no_delay defaults to true): without it a
    // response body shorter than one segment waits for the client's delayed
    // ACK of the headers (~40 ms a request).
    http.set_tcp_nodelay(true);
    http.set_keep_alive_max_count(1000000);
    http.set_keep_alive_timeout(30);
    http.Get("/", [this](const httplib::Request& q, httplib::Response& r) {
      if (!authorized(q, r)) return;
      json info = {{"name", "shoal-bulk-server"},
                   {"cluster_name", "shoal-test"},
                   {"cluster_uuid", "shoal-bulk-server-0"},
                   {"version",
                    {{"number", "8.11.0"},
                     {"build_flavor", "default"},
                     {"lucene_version", "9.8.0"},
                     {"minimum_wire_compatibility_version", "7.17.0"}}},
                   {"tagline", "You Know, for Search"}};
      r.set_content(info.dump(), "application/json");
    });
    http.Get("/_cluster/health", [this](const httplib::Request& q, httplib::Response& r) {
      if (!authorized(q, r)) return;
      size_t n;
      {
        std::lock_guard lk(store_.mu);
        n = store_.indices.size();
      }
      json h = {{"cluster_name", "shoal-test"}, {"status", "green"}, {"timed_out", false},
                {"number_of_nodes", 1}, {"number_of_data_nodes", 1},
                {"active_primary_shards", n}, {"active_shards", n},
                {"relocating_shards", 0}, {"initializing_shards", 0},
                {"unassigned_shards", 0}};
      r.set_content(h.dump(), "application/json");
    });
    auto bulk = [this](const httplib::Request& q, httplib::Response& r) {
      std::string idx = q.matches.size() > 1 ? std::string(q.matches[1]) : std::string();
      handleBulk(q, r, idx);
    };
    http.Post("/_bulk", bulk);
    http.Put("/_bulk", bulk);
    http.Post(R"(/([^_/][^/]*)/_bulk)", bulk);
    http.Put(R"(/([^_/][^/]*)/_bulk)", bulk);
    auto refresh = [this](const httplib::Request& q, httplib::Response& r) {
      if (!authorized(q, r)) return;
      r.set_content(R"({"_shards":{"total":1,"successful":1,"failed":0}})", "application/json");
    };
    http.Post("/_refresh", refresh);
    http.Post(R"(/([^_/][^/]*)/_refresh)", refresh);
    http.Get(R"(/([^_/][^/]*)/_count)", [this](const httplib::Request& q, httplib::Response& r) {
      if (!authorized(q, r)) return;
      std::string idx = q.matches[1];
      std::lock_guard lk(store_.mu);
      auto it = store_.indices.find(idx);
      if (it == store_.indices.end()) {
        r.status = 404;
        r.set_content(errorBody(404, "index_not_found_exception", "no such index [" + idx + "]"),
                      "application/json");
        return;
      }
      r.set_content(json{{"count", it->second.size()}}.dump(), "application/json");
    });
    http.Get(R"(/([^_/][^/]*)/_doc/([^/]+))", [this](const httplib::Request& q,
                                                      httplib::Response& r) {
      if (!authorized(q, r)) return;
      std::string idx = q.matches[1], id = q.matches[2];
      std::string out = "{\"_index\":";
      appendJsonString(out, idx);
      out += ",\"_id\":";
      appendJsonString(out, id);
      std::lock_guard lk(store_.mu);
      auto it = store_.indices.find(idx);
      if (it == store_.indices.end() || !it->second.count(id)) {
        r.status = 404;
        out += ",\"found\":false}";
      } else {
        out += ",\"_version\":1,\"found\":true";
        const std::string& src = it->second.at(id);
        if (!src.empty()) out += ",\"_source\":" + src;
        out += "}";
      }
      r.set_content(out, "application/json");
    });

    // ---- control endpoints
    http.Post("/_shoal/faults/items", [this](const httplib::Request& q, httplib::Response& r) {
      json b = json::parse(q.body, nullptr, false);
      if (!b.is_object()) return badControl(r, "body must be a JSON object");
      ItemFault f;
      f.status = b.value("status", 429);
      f.type = b.value("type", defaultErrorType(f.status));
      f.reason = b.value("reason", "injected by shoal-bulk-server");
      f.idContains = b.value("idContains", "");
      f.index = b.value("index", "");
      f.remaining = b.value("next", int64_t{1});
      std::lock_guard lk(store_.mu);
      store_.itemFaults.push_back(f);
      r.set_content(R"({"acknowledged":true})", "application/json");
    });
    http.Post("/_shoal/faults/requests", [this](const httplib::Request& q, httplib::Response& r) {
      json b = json::parse(q.body, nullptr, false);
      if (!b.is_object()) return badControl(r, "body must be a JSON object");
      RequestFault f;
      f.status = b.value("status", 503);
      f.type = b.value("type", f.status >= 500 ? std::string("master_not_discovered_exception")
                                                : defaultErrorType(f.status));
      f.reason = b.value("reason", "injected by shoal-bulk-server");
      f.remaining = b.value("next", int64_t{1});
      std::lock_guard lk(store_.mu);
      store_.requestFaults.push_back(f);
      r.set_content(R"({"acknowledged":true})", "application/json");
    });
    http.Post("/_shoal/faults/delay", [this](const httplib::Request& q, httplib::Response& r) {
      json b = json::parse(q.body, nullptr, false);
      if (!b.is_object()) return badControl(r, "body must be a JSON object");
      std::lock_guard lk(store_.mu);
      store_.delay.ms = b.value("ms", int64_t{0});
      store_.delay.remaining = b.value("next", int64_t{-1});
      r.set_content(R"({"acknowledged":true})", "application/json");
    });
    http.Delete("/_shoal/faults", [this](const httplib::Request&, httplib::Response& r) {
      std::lock_guard lk(store_.mu);
      store_.itemFaults.clear();
      store_.requestFaults.clear();
      store_.delay = {};
      r.set_content(R"({"acknowledged":true})", "application/json");
    });
    http.Post("/_shoal/reset", [this](const httplib::Request&, httplib::Response& r) {
      std::lock_guard lk(store_.mu);
      store_.itemFaults.clear();
      store_.requestFaults.clear();
      store_.delay = {};
      store_.indices.clear();
      store_.stats = {};
      r.set_content(R"({"acknowledged":true})", "application/json");
    });
    http.Get("/_shoal/stats", [this](const httplib::Request& q, httplib::Response& r) {
      bool withIds = q.has_param("ids") && q.get_param_value("ids") != "false";
      json s;
      std::lock_guard lk(store_.mu);
      int64_t total = 0;
      json indices = json::object();
      json ids = json::object();
      for (auto& [name, docs] : store_.indices) {
        indices[name] = docs.size();
        total += static_cast<int64_t>(docs.size());
        if (withIds) {
          json arr = json::array();
          for (auto& [id, _] : docs) arr.push_back(id);
          ids[name] = std::move(arr);
        }
      }
      const Stats& st = store_.stats;
      json codes = json::object();
      for (auto& [code, n] : st.statusCounts) codes[std::to_string(code)] = n;
      s = {{"indices", indices},
           {"totalDocs", total},
           {"bulkRequests", st.bulkRequests},
           {"failedRequests", st.failedRequests},
           {"items", st.items},
           {"createAttempts", st.createAttempts},
           {"indexAttempts", st.indexAttempts},
           {"created", st.created},
           {"conflicts", st.conflicts},
           {"injectedItemFailures", st.injectedItemFailures},
           {"authFailures", st.authFailures},
           {"wireBytes", st.wireBytes},
           {"bodyBytes", st.bodyBytes},
           {"gzipRequests", st.gzipRequests},
           {"statusCounts", codes}};
      if (withIds) s["ids"] = ids;
      r.set_content(s.dump(), "application/json");
    });
    http.Get("/_shoal/docs", [this](const httplib::Request& q, httplib::Response& r) {
      std::string idx = q.get_param_value("index");
      std::string onlyId = q.get_param_value("id");
      std::string out = "{\"index\":";
      appendJsonString(out, idx);
      out += ",\"docs\":[";
      std::lock_guard lk(store_.mu);
      auto it = store_.indices.find(idx);
      bool first = true;
      if (it != store_.indices.end()) {
        for (auto& [id, src] : it->second) {
          if (!onlyId.empty() && id != onlyId) continue;
          if (!first) out += ',';
          first = false;
          out += "{\"_id\":";
          appendJsonString(out, id);
          out += ",\"_source\":";
          out += src.empty() ? "null" : src;
          out += '}';
        }
      }
      out += "]}";
      r.set_content(out, "application/json");
    });
  }

 private:
  void badControl(httplib::Response& r, const std::string& why) {
    r.status = 400;
    r.set_content(json{{"error", why}}.dump(), "application/json");
  }

  bool authorized(const httplib::Request& q, httplib::Response& r) {
    if (expectedAuth_.empty()) return true;
    const std::string got = q.get_header_value("Authorization");
    for (auto& e : expectedAuth_)
      if (got == e) return true;
    {
      std::lock_guard lk(store_.mu);
      ++store_.stats.authFailures;
    }
    r.status = 401;
    r.set_header("WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\"");
    r.set_content(errorBody(401, "security_exception",
                            got.empty() ? "missing authentication credentials for REST request [" +
                                              q.path + "]"
                                        : "unable to authenticate user for REST request [" +
                                              q.path + "]"),
                  "application/json");
    return false;
  }

  // Returns the injected fault for this item, if any. Caller holds the lock.
  const ItemFault* matchFault(const BulkItem& item) {
    for (auto& f : store_.itemFaults) {
      if (f.remaining == 0) continue;
      if (!f.idContains.empty() && item.id.find(f.idContains) == std::string::npos) continue;
      if (!f.index.empty() && item.index != f.index) continue;
      if (f.remaining > 0) --f.remaining;
      return &f;
    }
    return nullptr;
  }

  // One item of the response, with the keys `f` keeps (none: nothing written).
  // `fields` are the item's keys after _index and _id, in Elasticsearch's order.
  static void appendItem(std::string& out, const BulkItem& item, const ResponseFilter& f,
                         std::initializer_list<std::pair<bool, std::string>> fields) {
    std::string body;
    auto add = [&](bool keep, std::string_view keyAndValue) {
      if (!keep) return;
      if (!body.empty()) body += ',';
      body += keyAndValue;
    };
    std::string v = "\"_index\":";
    appendJsonString(v, item.index);
    add(f.index, v);
    v = "\"_id\":";
    appendJsonString(v, item.id);
    add(f.id, v);
    for (auto& [keep, kv] : fields) add(keep, kv);
    if (body.empty()) return;
    if (out.back() != '[') out += ',';
    out += "{\"";
    out += opName(item.op);
    out += "\":{";
    out += body;
    out += "}}";
  }

  static void appendItemError(std::string& out, const BulkItem& item, int status,
                              const std::string& type, const std::string& reason,
                              const ResponseFilter& f) {
    std::string err = "\"error\":{\"type\":";
    appendJsonString(err, type);
    err += ",\"reason\":";
    appendJsonString(err, reason);
    err += ",\"index\":";
    appendJsonString(err, item.index);
    err += ",\"shard\":\"0\",\"index_uuid\":\"shoal\"}";
    appendItem(out, item, f, {{f.status, "\"status\":" + std::to_string(status)}, {f.error, err}});
  }

  static void appendItemOk(std::string& out, const BulkItem& item, int status, const char* result,
                           int64_t version, int64_t seqNo, const ResponseFilter& f) {
    appendItem(out, item, f,
               {{f.version, "\"_version\":" + std::to_string(version)},
                {f.result, std::string("\"result\":\"") + result + "\""},
                {f.shards, "\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0}"},
                {f.seqNo, "\"_seq_no\":" + std::to_string(seqNo)},
                {f.primaryTerm, "\"_primary_term\":1"},
                {f.status, "\"status\":" + std::to_string(status)}});
  }

  void handleBulk(const httplib::Request& q, httplib::Response& r, const std::string& pathIndex) {
    const auto started = std::chrono::steady_clock::now();
    if (!authorized(q, r)) return;
    const std::string ct = q.get_header_value("Content-Type");
    if (!ct.empty() && ct.find("application/json") == std::string::npos &&
        ct.find("application/x-ndjson") == std::string::npos &&
        ct.find("application/vnd.elasticsearch+json") == std::string::npos &&
        ct.find("application/vnd.elasticsearch+x-ndjson") == std::string::npos) {
      r.status = 406;
      r.set_content(json{{"error", "Content-Type header [" + ct + "] is not supported"},
                         {"status", 406}}
                        .dump(),
                    "application/json");
      return;
    }
    int64_t delayMs = 0;
    std::optional<RequestFault> reqFault;
    const std::string encoding = q.get_header_value("Content-Encoding");
    const std::string length = q.get_header_value("Content-Length");
    {
      std::lock_guard lk(store_.mu);
      ++store_.stats.bulkRequests;
      store_.stats.wireBytes += length.empty() ? static_cast<int64_t>(q.body.size()) : std::atoll(length.c_str());
      store_.stats.bodyBytes += static_cast<int64_t>(q.body.size());
      if (encoding == "gzip") ++store_.stats.gzipRequests;
      if (store_.delay.remaining != 0 && store_.delay.ms > 0) {
        delayMs = store_.delay.ms;
        if (store_.delay.remaining > 0) --store_.delay.remaining;
      }
      if (!store_.requestFaults.empty()) {
        RequestFault& f = store_.requestFaults.front();
        reqFault = f;
        if (f.remaining > 0 && --f.remaining == 0) store_.requestFaults.pop_front();
        ++store_.stats.failedRequests;
      }
    }
    if (delayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
    if (reqFault) {
      r.status = reqFault->status;
      r.set_content(errorBody(reqFault->status, reqFault->type, reqFault->reason),
                    "application/json");
      return;
    }

    std::vector<BulkItem> items;
    if (auto fail = parseBulk(q.body, pathIndex, items)) {
      {
        std::lock_guard lk(store_.mu);
        ++store_.stats.failedRequests;
      }
      r.status = 400;
      r.set_content(errorBody(400, "illegal_argument_exception", fail->reason), "application/json");
      return;
    }

    const ResponseFilter filter = ResponseFilter::parse(q.get_param_value("filter_path"));
    std::string out;
    out.reserve(64 + items.size() * 200);
    // The items go into `list`, the rest around them once the outcome is known.
    std::string list = "[";
    list.reserve(items.size() * 200);
    bool anyError = false;
    {
      std::lock_guard lk(store_.mu);
      Stats& st = store_.stats;
      for (size_t i = 0; i < items.size(); ++i) {
        BulkItem& item = items[i];
        ++st.items;
        if (item.op == BulkItem::Op::kCreate) ++st.createAttempts;
        if (item.op == BulkItem::Op::kIndex) ++st.indexAttempts;
        if ((item.op == BulkItem::Op::kCreate || item.op == BulkItem::Op::kIndex) &&
            item.id.empty())
          item.id = "shoal-auto-" + std::to_string(++store_.autoId);
        int status;
        if (const ItemFault* f = matchFault(item)) {
          status = f->status;
          ++st.injectedItemFailures;
          appendItemError(list, item, status, f->type, f->reason, filter);
        } else if (item.op == BulkItem::Op::kUpdate) {
          status = 400;
          appendItemError(list, item, status, "action_request_validation_exception",
                          "update is not supported by shoal-bulk-server", filter);
        } else if (!item.sourceError.empty()) {
          status = 400;
          appendItemError(list, item, status, "mapper_parsing_exception", item.sourceError, filter);
        } else {
          IndexDocs& docs = store_.indices[item.index];
          auto it = docs.find(item.id);
          if (item.op == BulkItem::Op::kDelete) {
            if (it == docs.end()) {
              status = 404;
              appendItemOk(list, item, status, "not_found", 1, 0, filter);
            } else {
              docs.erase(it);
              status = 200;
              appendItemOk(list, item, status, "deleted", 2, 0, filter);
            }
          } else if (it != docs.end() && item.op == BulkItem::Op::kCreate) {
            status = 409;
            ++st.conflicts;
            appendItemError(list, item, status, "version_conflict_engine_exception",
                            "[" + item.id +
                                "]: version conflict, document already exists (current version [1])",
                            filter);
          } else {
            std::string src = store_.storeSources_ ? std::string(item.source) : std::string();
            const bool existed = it != docs.end();
            if (existed) it->second = std::move(src);
            else docs.emplace(item.id, std::move(src));
            ++st.created;
            status = existed ? 200 : 201;
            appendItemOk(list, item, status, existed ? "updated" : "created", existed ? 2 : 1,
                         static_cast<int64_t>(docs.size()), filter);
          }
        }
        ++st.statusCounts[status];
        if (status >= 300) anyError = true;
      }
    }
    list += ']';
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
    out += '{';
    auto field = [&](bool keep, std::string_view key, std::string_view value) {
      if (!keep) return;
      if (out.size() > 1) out += ',';
      out += '"';
      out += key;
      out += "\":";
      out += value;
    };
    field(filter.took, "took", std::to_string(took));
    field(filter.errors, "errors", anyError ? "true" : "false");
    field(filter.items && list.size() > 2, "items", list);
    out += '}';
    r.set_content(out, "application/json");
  }

  BulkStore store_;
  std::vector<std::string> expectedAuth_;
};

void usage() {
  std::cerr << "usage: shoal-bulk-server --port P [--host 127.0.0.1] [--basic-auth user:pass]\n"
               "                         [--api-key KEY] [--no-store-sources] [--threads N]\n"
               "                         [--tls-cert CERT.pem --tls-key KEY.pem]\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", basicAuth, apiKey, tlsCert, tlsKey;
  int port = -1;
  bool storeSources = true;
  int threads = 64;  // one per keep-alive connection: sharded workers hold one per shard
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") port = std::atoi(value().c_str());
    else if (a == "--host") host = value();
    else if (a == "--basic-auth") basicAuth = value();
    else if (a == "--api-key") apiKey = value();
    else if (a == "--no-store-sources") storeSources = false;
    else if (a == "--tls-cert") tlsCert = value();
    else if (a == "--tls-key") tlsKey = value();
    else if (a == "--threads") threads = std::max(1, std::atoi(value().c_str()));
    else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (port < 0) {
    usage();
    return 2;
  }
  if (!basicAuth.empty() && basicAuth.find(':') == std::string::npos) {
    std::cerr << "--basic-auth must be user:pass\n";
    return 2;
  }
  if (tlsCert.empty() != tlsKey.empty()) {
    std::cerr << "--tls-cert and --tls-key go together\n";
    return 2;
  }
  std::unique_ptr<httplib::Server> owned;
  if (!tlsCert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(tlsCert.c_str(), tlsKey.c_str());
    if (!tls->is_valid()) {
      std::cerr << "shoal-bulk-server: cannot load " << tlsCert << " / " << tlsKey << "\n";
      return 1;
    }
    owned = std::move(tls);
  } else {
    owned = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *owned;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  Server server(storeSources, basicAuth, apiKey);
  server.install(http);
  int bound = port;
  if (port == 0) {
    bound = http.bind_to_any_port(host);
  } else if (!http.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    std::cerr << "shoal-bulk-server: cannot listen on " << host << ":" << port << "\n";
    return 1;
  }
  std::cout << "shoal-bulk-server listening on " << host << ":" << bound << std::endl;
  return http.listen_after_bind() ? 0 : 1;
}
