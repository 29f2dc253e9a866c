// Errors as values on the data path (no exceptions there): Result<T> holds a
// value or an Error with a code and a human message.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace shoal {

enum class Errc {
  kOk = 0,
  kIo,           // connection refused, reset, timeout
  kTimeout,
  kProtocol,     // malformed reply from a server
  kServer,       // the server answered with an error
  kInvalidInput, // bad stream entry, bad config
  kNotFound,
  kConflict,
  kRetryable,
  kPermanent,
};

struct Error {
  Errc code = Errc::kIo;
  std::string message;
};

template <typename T>
class Result {
 public:
  Result(T v) : v_(std::move(v)) {}  // NOLINT(implicit)
  Result(Error e) : v_(std::move(e)) {}  // NOLINT(implicit)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT(implicit)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

inline Error makeError(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

}  // namespace shoal
