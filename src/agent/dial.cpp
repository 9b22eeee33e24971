#include "agent/dial.hpp"

#include <grpcpp/grpcpp.h>
#include <grpcpp/generic/generic_stub.h>

#include <future>

#include "agent/wire.hpp"
#include "agents/trust.hpp"

namespace steward::agent {

std::shared_ptr<::grpc::Channel> make_channel(const std::string& server, const ClientCredentials& credentials) {
  ::grpc::SslCredentialsOptions options;
  options.pem_root_certs = credentials.ca_pem;
  options.pem_cert_chain = credentials.certificate_pem;
  options.pem_private_key = credentials.private_key_pem;
  ::grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(agents::kServerName);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // A fresh channel per attempt: the agent's own backoff decides when.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return ::grpc::CreateCustomChannel(server, ::grpc::SslCredentials(options), args);
}

Result<v1::EnrolReply> call_enrol(const std::string& server, const std::string& ca_pem, const v1::EnrolRequest& request,
                                  std::chrono::seconds timeout) {
  auto channel = make_channel(server, {ca_pem, "", ""});
  ::grpc::GenericStub stub(channel);
  ::grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  std::string bytes;
  request.SerializeToString(&bytes);
  ::grpc::ByteBuffer sent = buffer_of(bytes), received;
  std::promise<::grpc::Status> finished;
  stub.UnaryCall(&context, kEnrolMethod, {}, &sent, &received,
                 [&finished](::grpc::Status status) { finished.set_value(std::move(status)); });
  auto status = finished.get_future().get();
  if (!status.ok()) {
    auto code = status.error_code();
    ErrorCode mapped = code == ::grpc::StatusCode::PERMISSION_DENIED ? ErrorCode::PermissionDenied
                       : code == ::grpc::StatusCode::INVALID_ARGUMENT ? ErrorCode::InvalidArgument
                       : code == ::grpc::StatusCode::UNAVAILABLE || code == ::grpc::StatusCode::DEADLINE_EXCEEDED
                           ? ErrorCode::Unreachable
                           : ErrorCode::Internal;
    return make_error(mapped, "enrolment at " + server + ": " + status.error_message());
  }
  v1::EnrolReply reply;
  if (!reply.ParseFromString(bytes_of(received)))
    return make_error(ErrorCode::Internal, "enrolment at " + server + ": the reply is not an EnrolReply");
  return reply;
}

}  // namespace steward::agent
