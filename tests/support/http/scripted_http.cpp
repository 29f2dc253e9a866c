// ScriptedHttp: records and answers requests for unit tests; see the header.
#include "shoal/testing/scripted_http.h"

namespace shoal::testing {

class ScriptedHttp::Endpoint final : public http::Transport {
 public:
  explicit Endpoint(ScriptedHttp& script) : script_(script) {}
  http::Response send(const http::Request& request) override { return script_.answer(request); }

 private:
  ScriptedHttp& script_;
};

ScriptedHttp::ScriptedHttp(Responder respond, const Clock* clock)
    : respond_(std::move(respond)), clock_(clock) {}

std::unique_ptr<http::Transport> ScriptedHttp::transport() {
  return std::make_unique<Endpoint>(*this);
}

http::Response ScriptedHttp::answer(const http::Request& request) {
  std::lock_guard lk(mu_);
  RecordedHttpRequest rec;
  static_cast<http::Request&>(rec) = request;
  if (clock_) rec.at = clock_->now();
  requests_.push_back(std::move(rec));
  return respond_(requests_.back(), requests_.size() - 1);
}

}  // namespace shoal::testing
