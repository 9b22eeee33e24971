#pragma once
// The one place ErrorCode becomes a gRPC status.
#include <grpcpp/support/status.h>

#include "core/result.hpp"
#include "core/strings.hpp"

namespace steward::api::grpc {

inline ::grpc::Status status_of(const Error& error) {
  using ::grpc::StatusCode;
  StatusCode code = StatusCode::INTERNAL;
  switch (error.code) {
    case ErrorCode::InvalidArgument: code = StatusCode::INVALID_ARGUMENT; break;
    case ErrorCode::NotFound: code = StatusCode::NOT_FOUND; break;
    case ErrorCode::Unauthenticated: code = StatusCode::UNAUTHENTICATED; break;
    case ErrorCode::PermissionDenied: code = StatusCode::PERMISSION_DENIED; break;
    case ErrorCode::Unreachable: code = StatusCode::UNAVAILABLE; break;
    case ErrorCode::Unavailable: code = StatusCode::UNAVAILABLE; break;
    case ErrorCode::Timeout: code = StatusCode::DEADLINE_EXCEEDED; break;
    case ErrorCode::Conflict: code = StatusCode::ABORTED; break;
    case ErrorCode::Cancelled: code = StatusCode::CANCELLED; break;
    case ErrorCode::Internal: code = StatusCode::INTERNAL; break;
  }
  // Messages may quote a target's output; clients decode them as UTF-8.
  return ::grpc::Status(code, to_valid_utf8(error.message));
}

}  // namespace steward::api::grpc
