#include "agent/agent_loop.hpp"

#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

#include "agent/link.hpp"

namespace steward::agent {
namespace {

namespace asio = boost::asio;
constexpr std::chrono::seconds kBackoffCap{30};

v1::Hello make_hello(const AgentIdentity& identity) {
  v1::Hello hello;
  hello.set_hostname(identity.hostname);
  hello.mutable_labels()->insert(identity.labels.begin(), identity.labels.end());
  hello.set_version(STEWARD_VERSION);
  struct utsname system {};
  if (::uname(&system) == 0) {
    auto& facts = *hello.mutable_facts();
    facts["system"] = system.sysname;
    facts["kernel"] = system.release;
    facts["architecture"] = system.machine;
  }
  return hello;
}

// Jittered exponential: 1 s, 2 s, 4 s ... capped at 30 s, each times 0.5-1.
std::chrono::milliseconds backoff(int attempt, std::mt19937& random) {
  auto ceiling = std::min<std::chrono::milliseconds>(std::chrono::seconds(1) * (1LL << std::min(attempt, 5)), kBackoffCap);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(static_cast<long long>(ceiling.count() * jitter(random)));
}

}  // namespace

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "unknown";
}

AgentLoop::AgentLoop(asio::io_context& io, AgentIdentity identity, Journal& journal)
    : io_(io), identity_(std::move(identity)), worker_(io.get_executor(), journal), journal_(journal) {}

AgentLoop::~AgentLoop() = default;

asio::awaitable<void> AgentLoop::connect_forever() {
  std::mt19937 random(std::random_device{}());
  const std::string& server = identity_.server;
  int attempt = 0;
  while (!stopping_) {
    Error ended_with;
    asio::steady_timer ended(io_, asio::steady_timer::time_point::max());
    Link::Handlers handlers{
        [&] {
          connected_ = true;
          attempt = 0;
          spdlog::info("connected to {}", server);
        },
        [this](const v1::ServerMessage& message) { worker_.handle(message); },
        [&](const Error& why) {
          ended_with = why;
          ended.cancel();
        }};
    link_ = std::make_shared<Link>(io_.get_executor(), server, identity_.context, std::move(handlers));
    v1::AgentMessage hello;
    *hello.mutable_hello() = make_hello(identity_);
    worker_.connected([link = link_](v1::AgentMessage message) { link->send(message); }, *hello.mutable_hello());
    link_->start(hello);
    worker_.resend_results();
    boost::system::error_code ignored;
    co_await ended.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    bool was_up = connected_;
    connected_ = false;
    worker_.disconnected();
    link_.reset();
    if (stopping_) break;
    auto delay = backoff(attempt++, random);
    spdlog::warn("{} {}: {} ({}); again in {} ms", was_up ? "lost the link to" : "cannot connect to", server,
                 ended_with.message, to_string(ended_with.code), delay.count());
    asio::steady_timer wait(io_, delay);
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

void AgentLoop::expire_results() {
  if (auto expired = journal_.expire(Journal::Clock::now()))
    spdlog::info("dropped {} results the server never collected (--keep-results)", expired);
}

void AgentLoop::stop() {
  stopping_ = true;
  if (link_) link_->close();
}

}  // namespace steward::agent
