#include "api/agents/agent_listener.hpp"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpc/grpc_security_constants.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <thread>

#include "agent.pb.h"
#include "agent/wire.hpp"
#include "core/allow_list.hpp"
#include "agents/enrol_limiter.hpp"
#include "agents/trust.hpp"
#include "api/agents/connect_stream.hpp"
#include "api/grpc/status.hpp"
#include "tls/identity.hpp"
#include "transport/agent/hub.hpp"

namespace steward::api::agent_rpc {
namespace {

namespace v1 = ::steward::agent::v1;
namespace asio = boost::asio;
constexpr std::chrono::seconds kShutdownGrace{3};

class Refused final : public ::grpc::ServerGenericBidiReactor {
 public:
  explicit Refused(::grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Enrol: one request, one reply; the Trust decides on the loop.
class EnrolCall final : public ::grpc::ServerGenericBidiReactor {
 public:
  EnrolCall(::grpc::GenericCallbackServerContext* context, asio::any_io_executor loop,
            steward::agents::Trust& trust, steward::agents::EnrolLimiter& limiter, std::atomic<int>& live)
      : peer_(grpc_peer_address(context->peer())),
        source_(steward::agents::address_without_port(peer_)),
        loop_(std::move(loop)),
        trust_(trust),
        limiter_(limiter),
        live_(live) {
    ++live_;
    StartRead(&buffer_);
  }

  void OnReadDone(bool ok) override {
    if (const long wait = limiter_.wait_seconds(source_, steady_seconds()); wait > 0) {
      Finish(::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "too many refused enrolments from " + source_ + ": try again in " +
                                std::to_string(wait) + " s"));
      return;
    }
    v1::EnrolRequest wire;
    if (!ok || !wire.ParseFromString(steward::agent::bytes_of(buffer_))) {
      refused();
      Finish(::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, "Enrol takes one EnrolRequest"));
      return;
    }
    steward::agents::EnrolRequest request;
    request.join_token = wire.join_token();
    request.csr_pem = wire.csr_pem();
    request.hostname = wire.hostname();
    request.labels = {wire.labels().begin(), wire.labels().end()};
    request.version = wire.version();
    request.peer = peer_;
    asio::co_spawn(loop_, trust_.enrol(std::move(request)),
                   [this](std::exception_ptr error, Result<steward::agents::EnrolReply> reply) {
                     if (error) return Finish(::grpc::Status(::grpc::StatusCode::INTERNAL, "internal error"));
                     if (!reply) {
                       if (counts_as_refusal(reply.error().code)) refused();
                       return Finish(grpc::status_of(reply.error()));
                     }
                     v1::EnrolReply wire_reply;
                     wire_reply.set_approved(reply->approved);
                     wire_reply.set_agent_id(reply->agent_id);
                     wire_reply.set_certificate_pem(reply->certificate_pem);
                     wire_reply.set_ca_pem(reply->ca_pem);
                     wire_reply.set_retry_after_seconds(static_cast<std::uint32_t>(reply->retry_after.count()));
                     std::string out;
                     wire_reply.SerializeToString(&out);
                     buffer_ = steward::agent::buffer_of(out);
                     StartWriteAndFinish(&buffer_, {}, ::grpc::Status::OK);
                   });
  }

  void OnDone() override {
    --live_;
    delete this;
  }

 private:
  // The caller's fault (a bad token or request), not the server's state.
  static bool counts_as_refusal(ErrorCode code) {
    return code == ErrorCode::InvalidArgument || code == ErrorCode::PermissionDenied;
  }

  void refused() {
    if (limiter_.note_refused(source_, steady_seconds()))
      spdlog::warn("agent enrolments from {} are refused for a while: too many were refused", source_);
  }

  std::string peer_;
  std::string source_;
  asio::any_io_executor loop_;
  steward::agents::Trust& trust_;
  steward::agents::EnrolLimiter& limiter_;
  std::atomic<int>& live_;
  ::grpc::ByteBuffer buffer_;
};

std::string client_certificate(const ::grpc::GenericCallbackServerContext& context) {
  auto auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return {};
  auto values = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  return values.empty() ? std::string() : std::string(values.front().data(), values.front().size());
}

}  // namespace

class AgentListener::Impl final : public ::grpc::CallbackGenericService {
 public:
  Impl(transport::agent::AgentHub& hub, steward::agents::Trust& trust, AgentListenerOptions options)
      : hub_(hub), trust_(trust), options_(options) {}

  ::grpc::ServerGenericBidiReactor* CreateReactor(::grpc::GenericCallbackServerContext* context) override {
    if (context->method() == steward::agent::kEnrolMethod)
      return new EnrolCall(context, hub_.loop(), trust_, enrol_limiter_, live_);
    if (context->method() != steward::agent::kConnectMethod)
      return new Refused(::grpc::Status(::grpc::StatusCode::UNIMPLEMENTED, "no method " + context->method()));
    auto certificate = client_certificate(*context);
    if (certificate.empty())
      return new Refused(::grpc::Status(::grpc::StatusCode::UNAUTHENTICATED,
                                        "Connect needs the client certificate Enrol issued (mutual TLS)"));
    auto admitted = trust_.admit(certificate);
    if (!admitted) {
      spdlog::info("agent connection from {} refused: {}", grpc_peer_address(context->peer()), admitted.error().message);
      return new Refused(grpc::status_of(admitted.error()));
    }
    return new ConnectStream(context, hub_, admitted->id, live_);
  }

  void start_upkeep() {
    upkeep_timer_.emplace(hub_.loop());
    upkeep_done_.emplace(hub_.loop(), asio::steady_timer::time_point::max());
    upkeep_running_ = true;
    asio::co_spawn(hub_.loop(), upkeep(), [this](std::exception_ptr error) {
      if (error) spdlog::error("the agent listener's upkeep stopped on an unexpected error");
      upkeep_running_ = false;
      upkeep_done_->cancel();
    });
  }

  // Daily, on the loop: pending agents that stopped asking are forgotten,
  // the certificate is renewed ahead of its end.
  asio::awaitable<void> upkeep() {
    while (!stopping_) {
      upkeep_timer_->expires_after(options_.upkeep_every);
      boost::system::error_code ignored;
      co_await upkeep_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      if (stopping_) break;
      co_await trust_.forget_stale_pending();
      renew_certificate();
    }
  }

  void renew_certificate() {
    auto renewed = trust_.renew_server_identity();
    if (!renewed)
      spdlog::warn("{} (the current one is served until it ends; retried tomorrow)", renewed.error().message);
    else if (*renewed)
      spdlog::info("agent listener certificate renewed ({}): served to new connections within {} s",
                   trust_.server_identity().fingerprint, options_.certificate_reload_seconds);
  }

  asio::awaitable<void> stop_upkeep() {
    stopping_ = true;
    if (!upkeep_running_) co_return;
    upkeep_timer_->cancel();
    boost::system::error_code ignored;
    co_await upkeep_done_->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  transport::agent::AgentHub& hub_;
  steward::agents::Trust& trust_;
  const AgentListenerOptions options_;
  steward::agents::EnrolLimiter enrol_limiter_;
  std::optional<asio::steady_timer> upkeep_timer_;
  std::optional<asio::steady_timer> upkeep_done_;  // cancelled when upkeep() has returned
  bool upkeep_running_ = false;  // loop only, as stopping_
  bool stopping_ = false;
  std::atomic<int> live_{0};
  std::unique_ptr<::grpc::Server> server_;
};

AgentListener::AgentListener(transport::agent::AgentHub& hub, steward::agents::Trust& trust,
                             AgentListenerOptions options)
    : impl_(std::make_unique<Impl>(hub, trust, options)) {
  trust.on_revoked([&hub](const std::string& id) { hub.revoke(id); });
}

AgentListener::~AgentListener() = default;

Result<int> AgentListener::listen(const std::string& address) {
  const auto& files = impl_->trust_.listener_files();
  auto certificates = std::make_shared<::grpc::experimental::FileWatcherCertificateProvider>(
      files.private_key, files.certificate_chain, files.ca, impl_->options_.certificate_reload_seconds);
  ::grpc::experimental::TlsServerCredentialsOptions options(certificates);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  ::grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, ::grpc::experimental::TlsServerCredentials(options), &port);
  builder.RegisterCallbackGenericService(impl_.get());
  // A vanished agent is noticed within ~15 s; agents ping as often.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // An idle agent's connection is mostly buffers gRPC sizes for bulk
  // traffic: 4 KiB TLS records (not 16 KiB) shrink the frame protector's
  // buffer by 12 KiB per connection; file chunks just take more records.
  builder.AddChannelArgument(GRPC_ARG_TSI_MAX_FRAME_SIZE, 4096);
  impl_->server_ = builder.BuildAndStart();
  if (!impl_->server_ || port == 0)
    return make_error(ErrorCode::InvalidArgument, "cannot listen for agents on " + address);
  impl_->start_upkeep();
  return port;
}

asio::awaitable<void> AgentListener::shutdown() {
  if (!impl_->server_) co_return;
  co_await impl_->stop_upkeep();
  impl_->hub_.close_all("the server is shutting down");
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer done(executor, asio::steady_timer::time_point::max());
  std::thread stopper([this, &done, executor] {
    auto deadline = std::chrono::steady_clock::now() + kShutdownGrace;
    while (impl_->live_ > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    impl_->server_->Shutdown(std::chrono::system_clock::now());
    asio::post(executor, [&done] { done.cancel(); });
  });
  boost::system::error_code ignored;
  co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  stopper.join();
  impl_->server_.reset();
}

}  // namespace steward::api::agent_rpc
