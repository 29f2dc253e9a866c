// Sanitizer builds only (SHOAL_SANITIZE=ON): makes UndefinedBehaviorSanitizer
// honour UBSAN_OPTIONS=log_path, so that no report is lost.
//
// With GCC, -fsanitize=address,undefined loads libubsan as a plugin of libasan.
// In that mode libubsan parses UBSAN_OPTIONS but never opens log_path: its
// reports always go to stderr. Tests send the stderr of the shoal-worker and
// shoal-operator processes they start to temporary files, so a report there
// would vanish with the test. The top-level CMakeLists.txt links this object
// into every target of a sanitizer build; at startup it hands log_path to
// libubsan, and scripts/test.sh fails the run on any report file.
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace {

// The value of log_path in a sanitizer options string ("a=1:log_path=/x:b=2"),
// or empty.
std::string logPathOption(std::string_view options) {
  std::string path;
  while (!options.empty()) {
    const auto colon = options.find(':');
    const std::string_view item = options.substr(0, colon);
    constexpr std::string_view kKey = "log_path=";
    if (item.substr(0, kKey.size()) == kKey) path = std::string(item.substr(kKey.size()));
    if (colon == std::string_view::npos) break;
    options.remove_prefix(colon + 1);
  }
  return path;
}

struct UbsanReportPath {
  UbsanReportPath() {
    const char* options = std::getenv("UBSAN_OPTIONS");
    if (options == nullptr) return;
    const std::string path = logPathOption(options);
    if (path.empty() || path == "stderr" || path == "stdout") return;
    void* ubsan = ::dlopen("libubsan.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (ubsan == nullptr) return;  // UBSan linked statically or not at all
    // dlsym on libubsan's handle finds its own copy of the sanitizer common
    // runtime, not libasan's (which already follows ASAN_OPTIONS=log_path).
    using SetReportPath = void (*)(const char*);
    auto set = reinterpret_cast<SetReportPath>(::dlsym(ubsan, "__sanitizer_set_report_path"));
    // The runtime appends ".<exe>" (log_exe_name=1) and ".<pid>".
    if (set != nullptr) set(path.c_str());
    ::dlclose(ubsan);
  }
};

const UbsanReportPath ubsanReportPath;

}  // namespace
