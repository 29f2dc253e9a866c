// Newline-delimited JSON watch events, decoded across arbitrary chunk
// boundaries (see watch_decoder.h for the invariants).
#include "shoal/kube/watch_decoder.h"

namespace shoal::kube {

shoal::Result<void> WatchEventDecoder::feed(std::string_view chunk, std::vector<WatchEvent>& out) {
  shoal::Result<void> status;
  while (!chunk.empty()) {
    auto nl = chunk.find('\n');
    if (skipping_) {
      if (nl == std::string_view::npos) return status;  // still inside the over-long line
      skipping_ = false;
      chunk.remove_prefix(nl + 1);
      continue;
    }
    if (nl == std::string_view::npos) {
      if (buf_.size() + chunk.size() > maxLine_) {
        buf_.clear();
        skipping_ = true;
        return shoal::Error{Errc::kProtocol, "watch event longer than the line limit"};
      }
      buf_.append(chunk);
      return status;
    }
    std::string_view line = chunk.substr(0, nl);
    chunk.remove_prefix(nl + 1);
    shoal::Result<void> r;
    if (buf_.empty()) {
      r = decodeLine(line, out);
    } else {
      if (buf_.size() + line.size() > maxLine_) {
        buf_.clear();
        r = shoal::Error{Errc::kProtocol, "watch event longer than the line limit"};
      } else {
        buf_.append(line);
        std::string whole;
        whole.swap(buf_);
        r = decodeLine(whole, out);
      }
    }
    if (!r.ok() && status.ok()) status = r;
  }
  return status;
}

shoal::Result<void> WatchEventDecoder::decodeLine(std::string_view line,
                                                  std::vector<WatchEvent>& out) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty()) return {};
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return shoal::Error{Errc::kProtocol, "watch event is not a JSON object"};
  auto t = j.find("type");
  if (t == j.end() || !t->is_string())
    return shoal::Error{Errc::kProtocol, "watch event without a type"};
  auto type = WatchEvent::parseType(t->get<std::string>());
  if (!type) return shoal::Error{Errc::kProtocol, "unknown watch event type " + t->get<std::string>()};
  auto o = j.find("object");
  if (o == j.end() || !o->is_object())
    return shoal::Error{Errc::kProtocol, "watch event without an object"};
  WatchEvent ev;
  ev.type = *type;
  ev.object = std::move(*o);
  out.push_back(std::move(ev));
  return {};
}

}  // namespace shoal::kube
