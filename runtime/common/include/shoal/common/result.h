// Errors as values on the data path (no exceptions there): Result<T> holds a
// value or an Error with a code and a human message; Result<T, E> the same
// with a layer's own error type.
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

/// \brief A value or an error (Error unless the layer has a richer one, as
/// the Kubernetes client's ApiError). Cheap to move.
template <typename T, typename E = Error>
class Result {
 public:
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT(implicit)
  Result(E e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT(implicit)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

template <typename E>
class Result<void, E> {
 public:
  Result() = default;
  Result(E e) : err_(std::move(e)), ok_(false) {}  // NOLINT(implicit)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { return err_; }

 private:
  E err_{};
  bool ok_ = true;
};

inline Error makeError(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

}  // namespace shoal
