// Child processes for tests: started with argv and env, their own pid
// recorded, always stopped (SIGTERM, then SIGKILL) when the handle dies, so a
// failing test never leaves a server behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shoal::testing {

/// Returns a TCP port on 127.0.0.1 that was free a moment ago (bind to 0).
int freePort();

/// Polls pred every `every` until it is true or the deadline passes.
/// Returns whether pred became true. This is the only way tests wait.
bool waitUntil(const std::function<bool()>& pred,
               std::chrono::milliseconds deadline = std::chrono::seconds(10),
               std::chrono::milliseconds every = std::chrono::milliseconds(10));

/// Whether something accepts TCP connections on 127.0.0.1:port.
bool portOpen(int port);

/// A fresh temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class Process {
 public:
  struct Options {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;  // added to the parent's environment
    std::string cwd;
    std::string stdoutPath;  // empty: inherit
    std::string stderrPath;  // empty: inherit
    std::optional<uid_t> uid;  // run as this user (tests run as root)
    std::optional<gid_t> gid;
  };
  Process() = default;
  explicit Process(Options o);
  ~Process();
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  /// Sends sig; does not wait.
  void signal(int sig);
  /// Waits for exit up to the deadline; returns the exit status as from
  /// waitpid (use WIFEXITED etc.), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds deadline);
  /// SIGTERM, wait up to grace, then SIGKILL. Returns the wait status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  /// Reads a whole file (handy for the captured stdout/stderr).
  static std::string readFile(const std::string& path);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace shoal::testing
