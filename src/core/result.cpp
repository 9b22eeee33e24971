#include "core/result.hpp"

namespace steward {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::Unauthenticated: return "unauthenticated";
    case ErrorCode::PermissionDenied: return "permission denied";
    case ErrorCode::Unreachable: return "unreachable";
    case ErrorCode::Timeout: return "timeout";
    case ErrorCode::Conflict: return "conflict";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Unavailable: return "unavailable";
    case ErrorCode::Internal: return "internal";
  }
  return "internal";
}

}  // namespace steward
