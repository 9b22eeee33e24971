#include "api/agents/agent_listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>
#include <set>

#include "agent.pb.h"
#include "agent/wire.hpp"
#include "agents/enrol_limiter.hpp"
#include "agents/trust.hpp"
#include "api/agents/agent_link.hpp"
#include "core/listen_address.hpp"
#include "tls/frame_stream.hpp"
#include "tls/identity.hpp"
#include "tls/link_context.hpp"
#include "transport/agent/hub.hpp"

namespace steward::api::agent_rpc {
namespace {

namespace v1 = ::steward::agent::v1;
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using steward::agent::frame_of;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::seconds kShutdownGrace{3};
// From accept to the first message: a peer that dawdles longer is cut.
constexpr std::chrono::seconds kGreetingTimeout{10};
// Links between accept and their first message; past it new ones are closed
// at once (agents back off and come again).
constexpr std::size_t kMaxGreeting = 512;

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The caller's fault (a bad token or request), not the server's state.
bool counts_as_refusal(ErrorCode code) {
  return code == ErrorCode::InvalidArgument || code == ErrorCode::PermissionDenied;
}

asio::awaitable<Result<std::string>> greet(std::shared_ptr<tls::FrameStream> stream) {
  auto shaken = co_await stream->handshake();
  if (!shaken) co_return shaken.error();
  auto first = co_await stream->read_frame(steward::agent::kMaxFirstFrame);
  co_return first;
}

// The link's last message, then its end.
asio::awaitable<void> say_goodbye(std::shared_ptr<tls::FrameStream> stream, const Error& why) {
  v1::ServerMessage goodbye;
  goodbye.mutable_goodbye()->set_error_code(static_cast<int>(why.code));
  goodbye.mutable_goodbye()->set_message(why.message);
  const std::string frame = frame_of(goodbye);
  co_await stream->write_frame(frame);
  stream->shutdown();
}

}  // namespace

class AgentListener::Impl final : public std::enable_shared_from_this<Impl> {
 public:
  Impl(transport::agent::AgentHub& hub, steward::agents::Trust& trust, AgentListenerOptions options)
      : hub_(hub), trust_(trust), options_(options), acceptor_(hub.loop()) {}

  Result<int> listen(const std::string& address) {
    auto endpoint = parse_listen_address(address);
    if (!endpoint) return make_error(ErrorCode::InvalidArgument, "--agent-listen: " + endpoint.error().message);
    auto context = tls::make_link_server_context(trust_.server_identity(), trust_.ca_pem());
    if (!context) return make_error(context.error().code, "agent listener TLS: " + context.error().message);
    context_ = std::move(*context);
    boost::system::error_code failed;
    acceptor_.open(endpoint->protocol(), failed);
    if (!failed) acceptor_.set_option(asio::socket_base::reuse_address(true), failed);
    if (!failed) acceptor_.bind(*endpoint, failed);
    if (!failed) acceptor_.listen(asio::socket_base::max_listen_connections, failed);
    if (failed)
      return make_error(ErrorCode::Unavailable, "cannot listen for agents on " + address + ": " + failed.message());
    auto self = shared_from_this();
    asio::co_spawn(hub_.loop(), [self] { return self->accept_loop(); }, asio::detached);
    start_upkeep();
    return acceptor_.local_endpoint().port();
  }

  asio::awaitable<void> shutdown() {
    if (!acceptor_.is_open() && serving_ == 0) co_return;
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    co_await stop_upkeep();
    hub_.close_all("the server is shutting down");
    co_await wait_for_links(std::chrono::steady_clock::now() + kShutdownGrace);
    for (const auto& link : links_) link->cut();
    for (const auto& stream : greeting_) stream->close();
    co_await wait_for_links(std::chrono::steady_clock::time_point::max());
  }

 private:
  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopping_) {
      auto [error, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (stopping_ || error == asio::error::operation_aborted) break;
      if (error) {
        spdlog::warn("agent listener: accept failed: {}", error.message());
        asio::steady_timer pause(hub_.loop(), std::chrono::milliseconds(100));  // e.g. out of descriptors
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      if (greeting_.size() >= kMaxGreeting) continue;  // closed with the socket
      tls::keep_alive(socket);
      auto stream = std::make_shared<tls::FrameStream>(std::move(socket), context_.get(), tls::TlsRole::Server);
      ++serving_;
      asio::co_spawn(hub_.loop(), serve(stream), [self](std::exception_ptr) { --self->serving_; });
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<tls::FrameStream> stream) {
    greeting_.insert(stream);
    asio::steady_timer timer(hub_.loop(), kGreetingTimeout);
    auto greeted = co_await (greet(stream) || timer.async_wait(kNoThrow));
    greeting_.erase(stream);
    if (greeted.index() == 1 || !std::get<0>(greeted)) {
      if (greeted.index() == 0) spdlog::debug("agent link from {}: {}", stream->peer(), std::get<0>(greeted).error().message);
      co_return stream->close();
    }
    v1::AgentMessage first;
    const bool parsed = first.ParseFromString(*std::get<0>(greeted));
    if (parsed && first.has_hello()) {
      co_await connect(stream, std::move(*first.mutable_hello()));
      co_return;
    }
    std::optional<v1::EnrolRequest> request;
    if (parsed && first.has_enrol()) request = std::move(*first.mutable_enrol());
    co_await enrol(stream, std::move(request));
  }

  asio::awaitable<void> connect(std::shared_ptr<tls::FrameStream> stream, v1::Hello hello) {
    const std::string certificate = tls::verified_peer_certificate(stream->session());
    auto admitted = certificate.empty()
                        ? Result<steward::agents::AgentRecord>(make_error(
                              ErrorCode::Unauthenticated, "Connect needs the client certificate Enrol issued (mutual TLS)"))
                        : trust_.admit(certificate);
    if (!admitted) {
      spdlog::info("agent connection from {} refused: {}", stream->peer(), admitted.error().message);
      const Error why = admitted.error();
      co_await say_goodbye(stream, why);
      co_return;
    }
    auto link = std::make_shared<AgentLink>(stream, hub_, admitted->id);
    links_.insert(link);
    co_await link->serve(std::move(hello));
    links_.erase(link);
  }

  // Enrol: one request, one answer; junk and refusals cost the source
  // address a token (agents::EnrolLimiter).
  asio::awaitable<void> enrol(std::shared_ptr<tls::FrameStream> stream, std::optional<v1::EnrolRequest> wire) {
    const std::string source = steward::agents::address_without_port(stream->peer());
    std::optional<Error> refusal;
    if (const long wait = enrol_limiter_.wait_seconds(source, steady_seconds()); wait > 0) {
      refusal = make_error(ErrorCode::Unavailable, "too many refused enrolments from " + source + ": try again in " +
                                                       std::to_string(wait) + " s");
    } else if (!wire) {
      refused(source);
      refusal = make_error(ErrorCode::InvalidArgument, "the first message must be a Hello or an EnrolRequest");
    }
    if (refusal) {
      co_await say_goodbye(stream, *refusal);
      co_return;
    }
    steward::agents::EnrolRequest request;
    request.join_token = wire->join_token();
    request.csr_pem = wire->csr_pem();
    request.hostname = wire->hostname();
    request.labels = {wire->labels().begin(), wire->labels().end()};
    request.version = wire->version();
    request.peer = stream->peer();
    auto reply = co_await trust_.enrol(std::move(request));
    if (!reply) {
      if (counts_as_refusal(reply.error().code)) refused(source);
      const Error why = reply.error();
      co_await say_goodbye(stream, why);
      co_return;
    }
    v1::ServerMessage answer;
    auto& enrolled = *answer.mutable_enrolled();
    enrolled.set_approved(reply->approved);
    enrolled.set_agent_id(reply->agent_id);
    enrolled.set_certificate_pem(reply->certificate_pem);
    enrolled.set_ca_pem(reply->ca_pem);
    enrolled.set_retry_after_seconds(static_cast<std::uint32_t>(reply->retry_after.count()));
    const std::string frame = frame_of(answer);
    co_await stream->write_frame(frame);
    stream->shutdown();
  }

  void refused(const std::string& source) {
    if (enrol_limiter_.note_refused(source, steady_seconds()))
      spdlog::warn("agent enrolments from {} are refused for a while: too many were refused", source);
  }

  asio::awaitable<void> wait_for_links(std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer tick(hub_.loop());
    while (serving_ > 0 && std::chrono::steady_clock::now() < deadline) {
      tick.expires_after(std::chrono::milliseconds(10));
      co_await tick.async_wait(kNoThrow);
    }
  }

  void start_upkeep() {
    upkeep_timer_.emplace(hub_.loop());
    upkeep_done_.emplace(hub_.loop(), asio::steady_timer::time_point::max());
    upkeep_running_ = true;
    auto self = shared_from_this();
    asio::co_spawn(hub_.loop(), upkeep(), [self](std::exception_ptr error) {
      if (error) spdlog::error("the agent listener's upkeep stopped on an unexpected error");
      self->upkeep_running_ = false;
      self->upkeep_done_->cancel();
    });
  }

  // Daily, on the loop: pending agents that stopped asking are forgotten,
  // the certificate is renewed ahead of its end.
  asio::awaitable<void> upkeep() {
    while (!stopping_) {
      upkeep_timer_->expires_after(options_.upkeep_every);
      co_await upkeep_timer_->async_wait(kNoThrow);
      if (stopping_) break;
      co_await trust_.forget_stale_pending();
      renew_certificate();
    }
  }

  void renew_certificate() {
    auto renewed = trust_.renew_server_identity();
    if (!renewed) {
      spdlog::warn("{} (the current one is served until it ends; retried tomorrow)", renewed.error().message);
      return;
    }
    if (!*renewed) return;
    auto context = tls::make_link_server_context(trust_.server_identity(), trust_.ca_pem());
    if (!context) {
      spdlog::warn("agent listener: the renewed certificate is unusable: {}", context.error().message);
      return;
    }
    context_ = std::move(*context);  // links open now keep theirs
    spdlog::info("agent listener certificate renewed ({})", trust_.server_identity().fingerprint);
  }

  asio::awaitable<void> stop_upkeep() {
    if (!upkeep_running_) co_return;
    upkeep_timer_->cancel();
    co_await upkeep_done_->async_wait(kNoThrow);
  }

  transport::agent::AgentHub& hub_;
  steward::agents::Trust& trust_;
  const AgentListenerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  tls::LinkContext context_;
  steward::agents::EnrolLimiter enrol_limiter_;
  std::set<std::shared_ptr<tls::FrameStream>> greeting_;
  std::set<std::shared_ptr<AgentLink>> links_;
  std::size_t serving_ = 0;
  std::optional<asio::steady_timer> upkeep_timer_;
  std::optional<asio::steady_timer> upkeep_done_;  // cancelled when upkeep() has returned
  bool upkeep_running_ = false;
  bool stopping_ = false;
};

AgentListener::AgentListener(transport::agent::AgentHub& hub, steward::agents::Trust& trust,
                             AgentListenerOptions options)
    : impl_(std::make_shared<Impl>(hub, trust, options)) {
  trust.on_revoked([&hub](const std::string& id) { hub.revoke(id); });
}

AgentListener::~AgentListener() = default;

Result<int> AgentListener::listen(const std::string& address) {
  return impl_->listen(address);
}

asio::awaitable<void> AgentListener::shutdown() {
  co_await impl_->shutdown();
}

}  // namespace steward::api::agent_rpc
