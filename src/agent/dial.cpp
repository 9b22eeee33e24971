#include "agent/dial.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <optional>

#include "agent/wire.hpp"
#include "agents/trust.hpp"
#include "core/tcp_connect.hpp"
#include "tls/peer_chain.hpp"

namespace steward::agent {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Writes `frame`, then reads the answer.
asio::awaitable<Result<std::string>> ask(std::shared_ptr<tls::FrameStream> link, const std::string& frame) {
  auto written = co_await link->write_frame(frame);
  if (!written) co_return written.error();
  auto answer = co_await link->read_frame(kMaxFirstFrame);
  co_return answer;
}

asio::awaitable<Result<v1::EnrolReply>> enrol_once(std::string server, tls::LinkContext context,
                                                   v1::EnrolRequest request, std::chrono::seconds timeout) {
  auto dialled = co_await dial(server, context, timeout);
  if (!dialled) co_return dialled.error();
  auto stream = std::move(*dialled);
  v1::AgentMessage message;
  *message.mutable_enrol() = std::move(request);
  const std::string frame = frame_of(message);
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, timeout);
  auto exchanged = co_await (ask(stream, frame) || timer.async_wait(kNoThrow));
  stream->shutdown();
  if (exchanged.index() == 1) co_return make_error(ErrorCode::Unreachable, "no answer within the timeout");
  auto& answer = std::get<0>(exchanged);
  if (!answer) co_return answer.error();
  v1::ServerMessage reply;
  if (!reply.ParseFromString(*answer)) co_return make_error(ErrorCode::Internal, "the reply is not a ServerMessage");
  if (reply.has_goodbye()) co_return error_of(reply.goodbye());
  if (!reply.has_enrolled()) co_return make_error(ErrorCode::Internal, "the reply is not an EnrolReply");
  co_return reply.enrolled();
}

}  // namespace

Result<tls::LinkContext> make_context(const ClientCredentials& credentials) {
  return tls::make_link_client_context(credentials.ca_pem, credentials.certificate_pem, credentials.private_key_pem);
}

asio::awaitable<Result<std::shared_ptr<tls::FrameStream>>> dial(std::string server, tls::LinkContext context,
                                                               std::chrono::milliseconds timeout) {
  auto address = tls::split_host_port(server);
  if (!address) co_return address.error();
  int port = 0;
  const auto& port_text = address->second;
  auto [end, parsed] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parsed != std::errc{} || end != port_text.data() + port_text.size() || port <= 0 || port > 65535)
    co_return make_error(ErrorCode::InvalidArgument, "'" + server + "' has no valid port");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto socket = co_await connect_tcp(address->first, port, deadline);
  if (!socket) co_return socket.error();
  tls::keep_alive(*socket);
  auto stream = std::make_shared<tls::FrameStream>(std::move(*socket), context.get(), tls::TlsRole::Client);
  if (stream->closed()) co_return make_error(ErrorCode::Internal, "cannot start a TLS session");
  SSL_set_tlsext_host_name(stream->session(), agents::kServerName);
  SSL_set1_host(stream->session(), agents::kServerName);
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, deadline);
  auto shaken = co_await (stream->handshake() || timer.async_wait(kNoThrow));
  if (shaken.index() == 1) co_return make_error(ErrorCode::Unreachable, "the TLS handshake timed out");
  if (auto& status = std::get<0>(shaken); !status)
    co_return make_error(ErrorCode::Unreachable, "TLS with " + server + ": " + status.error().message);
  co_return stream;
}

Error error_of(const v1::Goodbye& goodbye) {
  const int code = goodbye.error_code();
  const bool known = code >= 0 && code <= static_cast<int>(ErrorCode::Internal);
  return make_error(known ? static_cast<ErrorCode>(code) : ErrorCode::Internal, goodbye.message());
}

Result<v1::EnrolReply> call_enrol(const std::string& server, const std::string& ca_pem, const v1::EnrolRequest& request,
                                  std::chrono::seconds timeout) {
  auto context = make_context({ca_pem, "", ""});
  if (!context) return context.error();
  asio::io_context io(1);
  std::optional<Result<v1::EnrolReply>> reply;
  asio::co_spawn(io, enrol_once(server, *context, request, timeout),
                 [&reply](std::exception_ptr failed, Result<v1::EnrolReply> answer) {
                   reply = failed ? Result<v1::EnrolReply>(make_error(ErrorCode::Internal, "enrolment failed"))
                                  : std::move(answer);
                 });
  io.run();
  if (!*reply) return make_error(reply->error().code, "enrolment at " + server + ": " + reply->error().message);
  return std::move(*reply);
}

}  // namespace steward::agent
