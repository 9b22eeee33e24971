#include "api/grpc/grpc_server.hpp"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "api/audit/audit_log.hpp"
#include "api/auth/token_registry.hpp"
#include "api/grpc/grpc_audit.hpp"
#include "api/grpc/grpc_metrics.hpp"
#include "api/grpc/call.hpp"
#include "api/grpc/methods.hpp"
#include "core/clock.hpp"
#include "core/strings.hpp"
#include "core/spawn.hpp"
#include "tls/identity.hpp"

namespace steward::api::grpc {
namespace {

constexpr std::chrono::seconds kShutdownGrace{5};

std::shared_ptr<::grpc::ServerCredentials> credentials(const tls::Identity* identity,
                                                      const std::string& client_ca_pem) {
  if (!identity) return ::grpc::InsecureServerCredentials();
  ::grpc::SslServerCredentialsOptions options(client_ca_pem.empty()
                                                  ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                  : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_key_cert_pairs.push_back({identity->private_key_pem, identity->certificate_chain_pem});
  options.pem_root_certs = client_ca_pem;
  return ::grpc::SslServerCredentials(options);
}

// A call refused before its request is read.
class Refused final : public ::grpc::ServerGenericBidiReactor {
 public:
  explicit Refused(::grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

class GrpcServer::Impl final : public ::grpc::CallbackGenericService {
 public:
  Impl(boost::asio::any_io_executor loop, packages::DeputyService& deputy, auth::TokenRegistry* tokens,
       AllowList allow, audit::AuditLog* audit, GrpcMetrics* metrics)
      : loop_(std::move(loop)),
        methods_(executor_methods(deputy)),
        tokens_(tokens),
        allow_(std::move(allow)),
        audit_(audit),
        metrics_(metrics) {}

  ::grpc::ServerGenericBidiReactor* CreateReactor(::grpc::GenericCallbackServerContext* context) override {
    const auto arrived = std::chrono::steady_clock::now();
    auto method = methods_.find(context->method());
    if (method == methods_.end()) {
      ::grpc::Status status(::grpc::StatusCode::UNIMPLEMENTED, "steward does not implement " + context->method());
      count("unknown", arrived, status);
      return new Refused(std::move(status));
    }
    auto caller = identify(*context);
    const bool audited = audit_ && method->second.audited;
    if (!caller)
      return refuse(*context, caller, audited, arrived,
                    ::grpc::Status(::grpc::StatusCode::UNAUTHENTICATED,
                                   "missing or wrong token in the 'authorization: Bearer TOKEN' metadata; "
                                   "clients that send none (Ranger's deployer) must connect from an address "
                                   "in --grpc-allow CIDR,..."));
    if (!auth::grants(caller->role, method->second.role)) {
      std::string message = auth::denial_message(context->method(), method->second.role, *caller);
      spdlog::info("refused: {}", message);
      return refuse(*context, caller, audited, arrived,
                    ::grpc::Status(::grpc::StatusCode::PERMISSION_DENIED, std::move(message)));
    }
    std::optional<store::AuditEntry> audit_entry;
    if (audited) audit_entry = grpc_audit_entry(*context, caller);
    Call::Finished finished = [this, arrived, audit_entry = std::move(audit_entry)](
                                  const Call& call, const ::grpc::Status& status) mutable {
      count(call.method(), arrived, status);
      if (!audit_entry) return;
      audit_entry->targets = call.audit_targets;
      audit_entry->subject = call.audit_subject;
      set_outcome(*audit_entry, status, unix_now());
      audit_->record(std::move(*audit_entry));
    };
    return new Call(context, loop_, std::move(caller->name), [this, &handler = method->second.run](Call& call) {
      boost::asio::co_spawn(loop_, handler(call), [&call](std::exception_ptr error) {
        if (!error) return;
        report_spawn_failure("gRPC " + call.method() + " by " + call.caller(), error);
        call.finish(::grpc::Status(::grpc::StatusCode::INTERNAL, "internal error"));
      });
    }, live_calls_, std::move(finished));
  }

  // A call refused before its request is read; the audit trail records it
  // too when the method changes state.
  ::grpc::ServerGenericBidiReactor* refuse(const ::grpc::GenericCallbackServerContext& context,
                                           const std::optional<auth::Caller>& caller, bool audited,
                                           std::chrono::steady_clock::time_point arrived, ::grpc::Status status) {
    count(context.method(), arrived, status);
    if (audited) {
      auto entry = grpc_audit_entry(context, caller);
      set_outcome(entry, status, unix_now());
      audit_->record(std::move(entry));
    }
    return new Refused(std::move(status));
  }

  // `method` is a name of the method table or "unknown", never the client's string.
  void count(const std::string& method, std::chrono::steady_clock::time_point arrived, const ::grpc::Status& status) {
    if (!metrics_) return;
    metrics_->observe(method, static_cast<int>(status.error_code()),
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - arrived).count());
  }

  // As REST's: a token that names a caller wins; allow-listed clients without
  // one get operate, which every executor method needs.
  std::optional<auth::Caller> identify(const ::grpc::GenericCallbackServerContext& context) const {
    if (!tokens_) return auth::Caller{"anyone (--no-auth)", auth::Role::Admin, false};
    const auto& metadata = context.client_metadata();
    auto [first, last] = metadata.equal_range("authorization");
    for (auto it = first; it != last; ++it) {
      if (auto caller = tokens_->authenticate(std::string_view(it->second.data(), it->second.size()))) return caller;
    }
    if (allow_.allows_grpc_peer(context.peer()))
      return auth::Caller{"client " + context.peer() + " from --grpc-allow", auth::Role::Operate, false};
    return std::nullopt;
  }

  boost::asio::any_io_executor loop_;
  std::map<std::string, ExecutorMethod> methods_;
  auth::TokenRegistry* tokens_;  // null: no authentication
  AllowList allow_;
  audit::AuditLog* audit_;  // null: no audit trail
  GrpcMetrics* metrics_;    // null: not counted
  std::atomic<int> live_calls_{0};
  std::unique_ptr<::grpc::Server> server_;
};

GrpcServer::GrpcServer(boost::asio::any_io_executor loop, packages::DeputyService& deputy,
                       auth::TokenRegistry* tokens, AllowList allow, audit::AuditLog* audit,
                       GrpcMetrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(loop), deputy, tokens, std::move(allow), audit, metrics)) {}

GrpcServer::~GrpcServer() = default;

Result<int> GrpcServer::listen(const std::string& address, const tls::Identity* identity,
                               const std::string& client_ca_pem) {
  ::grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, credentials(identity, client_ca_pem), &port);
  builder.RegisterCallbackGenericService(impl_.get());
  // A client that vanished without closing (host down, network cut) is found
  // by keepalive pings, so its condition streams end and runners stop.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl_->server_ = builder.BuildAndStart();
  if (!impl_->server_ || port == 0)
    return make_error(ErrorCode::InvalidArgument, "cannot listen for gRPC on " + address);
  return port;
}

boost::asio::awaitable<void> GrpcServer::shutdown() {
  if (!impl_->server_) co_return;
  auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer done(executor, boost::asio::steady_timer::time_point::max());
  // Waiting blocks, and the calls' handlers need the loop. gRPC's own
  // Shutdown(deadline) would also wait for idle client connections, so wait
  // for the calls here and then shut down at once.
  std::thread stopper([this, &done, executor] {
    auto deadline = std::chrono::steady_clock::now() + kShutdownGrace;
    while (impl_->live_calls_ > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    impl_->server_->Shutdown(std::chrono::system_clock::now());
    boost::asio::post(executor, [&done] { done.cancel(); });
  });
  boost::system::error_code ignored;
  co_await done.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
  stopper.join();
  impl_->server_.reset();
}

}  // namespace steward::api::grpc
