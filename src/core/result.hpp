#pragma once
// Errors cross module boundaries as values. api/ maps ErrorCode to HTTP and
// gRPC status codes in one place; nothing else does.
#include <string>
#include <utility>
#include <variant>

namespace steward {

enum class ErrorCode {
  InvalidArgument,
  NotFound,
  Unauthenticated,
  PermissionDenied,  // authenticated, but the caller's role does not allow it
  Unreachable,
  Timeout,
  Conflict,
  Cancelled,
  Unavailable,
  Internal,
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  // Asio's co_spawn completion needs a default; it reads as "never set".
  Result() : data_(Error{ErrorCode::Internal, "no result"}) {}
  Result(T value) : data_(std::move(value)) {}
  Result(Error error) : data_(std::move(error)) {}

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(data_); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace steward
