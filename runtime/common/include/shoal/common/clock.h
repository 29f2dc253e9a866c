// Injected time. Everything that waits, backs off or measures rates takes a
// Clock&, so unit tests drive it with ManualClock instead of sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace shoal {

using Duration = std::chrono::nanoseconds;
using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

/// \brief Source of monotonic and wall time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime now() const = 0;
  virtual WallTime wallNow() const = 0;
  /// Sleeps for d (ManualClock: returns immediately after advancing by d).
  virtual void sleepFor(Duration d) = 0;
};

/// \brief The real clocks. Thread-safe.
class SystemClock final : public Clock {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  void sleepFor(Duration d) override;
  static SystemClock& instance();
};

/// \brief A clock that only moves when told. sleepFor advances it. Thread-safe.
class ManualClock final : public Clock {
 public:
  ManualClock();
  MonoTime now() const override;
  WallTime wallNow() const override;
  void sleepFor(Duration d) override { advance(d); }
  void advance(Duration d);

 private:
  mutable std::mutex mu_;
  MonoTime mono_;
  WallTime wall_;
};

inline double toSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline Duration seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}
inline Duration millis(int64_t ms) { return std::chrono::milliseconds(ms); }

}  // namespace shoal
