#pragma once
// The audit trail's view of a gRPC call (README "Audit trail"): who made it
// and from where, read from the call's context; never the request message.
#include <grpcpp/generic/async_generic_service.h>

#include <optional>

#include "api/auth/role.hpp"
#include "store/store.hpp"

namespace steward::api::grpc {

// An entry with who, peer, api and action filled in: the token's name; else
// the subject of the client certificate mutual TLS verified; else "anonymous".
store::AuditEntry grpc_audit_entry(const ::grpc::GenericCallbackServerContext& context,
                                   const std::optional<auth::Caller>& caller);

// Fills in the outcome and the time.
void set_outcome(store::AuditEntry& entry, const ::grpc::Status& status, double now);

}  // namespace steward::api::grpc
