#include "api/grpc/grpc_audit.hpp"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include "core/allow_list.hpp"

namespace steward::api::grpc {
namespace {

std::string certificate_subject(const ::grpc::GenericCallbackServerContext& context) {
  auto auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return {};
  auto subjects = auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
  if (subjects.empty()) return {};
  return std::string(subjects.front().data(), subjects.front().size());
}

}  // namespace

store::AuditEntry grpc_audit_entry(const ::grpc::GenericCallbackServerContext& context,
                                   const std::optional<auth::Caller>& caller) {
  store::AuditEntry entry;
  if (caller && caller->token && !caller->name.empty()) entry.who = caller->name;
  if (entry.who.empty()) entry.who = certificate_subject(context);
  if (entry.who.empty()) entry.who = "anonymous";
  entry.peer = grpc_peer_address(context.peer());
  entry.api = "grpc";
  entry.action = context.method();
  return entry;
}

void set_outcome(store::AuditEntry& entry, const ::grpc::Status& status, double now) {
  entry.at = now;
  entry.status = static_cast<int>(status.error_code());
  if (!status.ok()) entry.error = status.error_message();
}

}  // namespace steward::api::grpc
