#include "agent/agent_command.hpp"

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <fstream>
#include <random>

#include "agent/credentials.hpp"
#include "agent/dial.hpp"
#include "agent/journal.hpp"
#include "agent/link.hpp"
#include "agent/worker.hpp"
#include "agents/agent_identity.hpp"

namespace steward::agent {
namespace {

namespace asio = boost::asio;
constexpr std::chrono::seconds kBackoffCap{30};
constexpr std::chrono::minutes kExpiryPeriod{1};
constexpr std::chrono::seconds kFirstTrim{5};
constexpr int kBadUsage = 2;

struct AgentSettings {
  std::string server;
  std::string join_token;
  std::string ca_pin;
  std::string state_dir;  // default: agents::default_agent_state_dir()
  std::vector<std::string> labels;
  std::string keep_results = "1h";
};

// "90", "90s", "15m", "1h", "2d".
Result<std::chrono::seconds> parse_duration(const std::string& text) {
  std::size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (...) {
  }
  std::string unit = value < 0 ? "?" : text.substr(used);
  static const std::map<std::string, long long> kUnits{{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  auto it = kUnits.find(unit);
  if (value < 0 || it == kUnits.end())
    return make_error(ErrorCode::InvalidArgument, "'" + text + "' is not a duration (like 90s, 15m, 1h, 2d)");
  return std::chrono::seconds(value * it->second);
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "unknown";
}

v1::Hello make_hello(const std::map<std::string, std::string>& labels) {
  v1::Hello hello;
  hello.set_hostname(host_name());
  hello.mutable_labels()->insert(labels.begin(), labels.end());
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

// The agent shares the server's binary and its libraries (gRPC, OpenSSL,
// libssh, curl, ...); starting up touches pages of all of them that an idle
// agent never needs again. Asking the kernel to reclaim the file-backed ones
// (they are re-read on use) keeps an idle agent small.
void trim_resident_memory() {
#ifdef MADV_PAGEOUT
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long start = 0, end = 0;
    char path[512] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %*s %*s %*s %*s %511s", &start, &end, path) < 3 || path[0] != '/') continue;
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_PAGEOUT);
  }
#endif
  ::malloc_trim(0);
}

class Agent {
 public:
  Agent(asio::io_context& io, std::string server, ClientCredentials credentials, Journal& journal,
        std::map<std::string, std::string> labels)
      : io_(io), server_(std::move(server)), credentials_(std::move(credentials)), worker_(io.get_executor(), journal),
        journal_(journal), labels_(std::move(labels)) {}

  asio::awaitable<void> connect_forever() {
    std::mt19937 random(std::random_device{}());
    int attempt = 0;
    while (!stopping_) {
      bool up = false;
      ::grpc::Status ended_with;
      asio::steady_timer ended(io_, asio::steady_timer::time_point::max());
      Link::Handlers handlers{
          [&] {
            up = true;
            attempt = 0;
            spdlog::info("connected to {}", server_);
          },
          [this](const v1::ServerMessage& message) { worker_.handle(message); },
          [&](const ::grpc::Status& status) {
            ended_with = status;
            ended.cancel();
          }};
      link_ = std::make_shared<Link>(io_.get_executor(), make_channel(server_, credentials_), std::move(handlers));
      v1::AgentMessage hello;
      *hello.mutable_hello() = make_hello(labels_);
      worker_.connected([link = link_](v1::AgentMessage message) { link->send(message); }, *hello.mutable_hello());
      link_->start(hello);
      worker_.resend_results();
      boost::system::error_code ignored;
      co_await ended.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      worker_.disconnected();
      link_.reset();
      if (stopping_) break;
      auto delay = backoff(attempt++, random);
      spdlog::warn("{} {}: {} (code {}); again in {} ms", up ? "lost the link to" : "cannot connect to", server_,
                   ended_with.error_message(), static_cast<int>(ended_with.error_code()), delay.count());
      asio::steady_timer wait(io_, delay);
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
  }

  // Also trims memory while idle: shortly after start, then every period.
  asio::awaitable<void> expire_results_periodically() {
    asio::steady_timer timer(io_, kFirstTrim);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    while (!stopping_) {
      if (auto expired = journal_.expire(Journal::Clock::now()))
        spdlog::info("dropped {} results the server never collected (--keep-results)", expired);
      if (worker_.running() == 0 && worker_.transfers() == 0) trim_resident_memory();
      timer.expires_after(kExpiryPeriod);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
  }

  void stop() {
    stopping_ = true;
    if (link_) link_->close();
  }

 private:
  asio::io_context& io_;
  std::string server_;
  ClientCredentials credentials_;
  Worker worker_;
  Journal& journal_;
  std::map<std::string, std::string> labels_;
  std::shared_ptr<Link> link_;
  bool stopping_ = false;
};

int run_agent(const AgentSettings& settings) {
  ::umask(077);
  if (settings.server.empty()) {
    spdlog::critical("steward agent: --server HOST:PORT (or STEWARD_AGENT_SERVER) is required");
    return kBadUsage;
  }
  auto keep = parse_duration(settings.keep_results);
  if (!keep) return spdlog::critical("--keep-results: {}", keep.error().message), kBadUsage;
  std::map<std::string, std::string> labels;
  for (const auto& label : settings.labels) {
    auto equals = label.find('=');
    if (equals == std::string::npos || equals == 0)
      return spdlog::critical("--label takes KEY=VALUE, got '{}'", label), kBadUsage;
    labels[label.substr(0, equals)] = label.substr(equals + 1);
  }
  auto credentials =
      obtain_credentials({settings.server, settings.join_token, settings.ca_pin, settings.state_dir, labels});
  if (!credentials) return spdlog::critical("{}", credentials.error().message), 1;
  auto journal = Journal::open(settings.state_dir + "/journal", *keep);
  if (!journal) return spdlog::critical("{}", journal.error().message), 1;

  asio::io_context io(1);
  Agent agent(io, settings.server, std::move(*credentials), *journal, labels);
  asio::co_spawn(io, agent.connect_forever(), [&io](std::exception_ptr) { io.stop(); });
  asio::co_spawn(io, agent.expire_results_periodically(), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (error) return;
    spdlog::info("stopping");
    agent.stop();
  });
  io.run();
  return 0;
}

}  // namespace

void add_agent_command(CLI::App& app, int& exit_code) {
  auto settings = std::make_shared<AgentSettings>();
  settings->state_dir = agents::default_agent_state_dir();
  auto* command = app.add_subcommand("agent", "run as an agent: dial the server and run what it sends (no inbound port)");
  command->add_option("--server", settings->server, "the server's agent listener HOST:PORT (--agent-listen)")
      ->envname("STEWARD_AGENT_SERVER");
  command->add_option("--join", settings->join_token, "join token for the first enrolment (steward agents join-command)")
      ->envname("STEWARD_AGENT_JOIN");
  command->add_option("--ca-pin", settings->ca_pin, "sha256:HEX of the server's agent CA, checked on first contact");
  command->add_option("--state-dir", settings->state_dir, "key, certificate, pinned CA and the operation journal")
      ->capture_default_str();
  command->add_option("--label", settings->labels, "KEY=VALUE, repeatable: shown to the server (groups label_KEY_VALUE)");
  command->add_option("--keep-results", settings->keep_results,
                      "how long a result the server has not collected is kept (90s, 15m, 1h, 2d)")
      ->capture_default_str();
  command->callback([settings, &exit_code] { exit_code = run_agent(*settings); });
}

}  // namespace steward::agent
