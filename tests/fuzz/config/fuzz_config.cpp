// libFuzzer target: the worker's config loader on arbitrary YAML. Bad config
// is a startup error (ConfigError, or yaml-cpp's parse exception, which
// shoal-worker turns into exit 2); anything else escaping is a bug.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "shoal/worker/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    YAML::Node doc = YAML::Load(text);
    (void)shoal::loadPipelineConfig(doc, {{"SHOAL_CONSUMER_NAME", "fuzz"}});
  } catch (const shoal::ConfigError&) {
  } catch (const YAML::Exception&) {
  }
  return 0;
}
