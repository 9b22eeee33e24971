#pragma once
// The Ranger executor's gRPC API: Capability, FeatureService, InjectService
// and ConditionService, served through one generic callback service (no
// thread per call), checked for the bearer token and the role each method
// needs (methods.cpp), and handled on the event loop by the DeputyService.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "core/allow_list.hpp"
#include "core/result.hpp"

namespace steward::packages { class DeputyService; }
namespace steward::tls { struct Identity; }
namespace steward::api::auth { class TokenRegistry; }
namespace steward::api::audit { class AuditLog; }
namespace steward::api::grpc { class GrpcMetrics; }

namespace steward::api::grpc {

class GrpcServer {
 public:
  // Null `tokens` turns authentication off; clients from `allow` need no
  // token and get the operate role. Calls of methods that change state go
  // to `audit` (null: not recorded); every finished call to `metrics` (null: not counted).
  GrpcServer(boost::asio::any_io_executor loop, packages::DeputyService& deputy, auth::TokenRegistry* tokens,
             AllowList allow, audit::AuditLog* audit = nullptr, GrpcMetrics* metrics = nullptr);
  ~GrpcServer();

  // Binds "ADDR:PORT" (port 0 picks one) and starts serving; returns the port.
  // With an identity it serves TLS only; with client CA certificates (PEM)
  // too, it requires a client certificate signed by one of them (mutual TLS;
  // the token is still checked).
  Result<int> listen(const std::string& address, const tls::Identity* identity = nullptr,
                     const std::string& client_ca_pem = "");
  // Waits for running calls to end (streams must have been closed), then
  // stops gRPC's threads. Completes on the loop.
  boost::asio::awaitable<void> shutdown();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace steward::api::grpc
