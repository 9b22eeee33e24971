#include "agent/agent_command.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>

#include "agent/agent_loop.hpp"
#include "agent/credentials.hpp"
#include "agents/agent_identity.hpp"
#include "core/descriptors.hpp"

namespace steward::agent {
namespace {

namespace asio = boost::asio;
constexpr std::chrono::minutes kExpiryPeriod{1};
constexpr std::chrono::seconds kFirstTrim{5};
constexpr int kBadUsage = 2;
constexpr unsigned kParallelEnrolments = 8;
constexpr int kSimulatedBlock = 1000;  // agents per label sim_block=K

struct AgentSettings {
  std::string server;
  std::string join_token;
  std::string ca_pin;
  std::string state_dir;  // default: agents::default_agent_state_dir()
  std::vector<std::string> labels;
  std::string keep_results = "1h";
  int simulate = 0;
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

// One agent of this process: its journal and its loop.
struct RunningAgent {
  Journal journal;
  std::unique_ptr<AgentLoop> loop;
};

// Also trims memory while every agent is idle (one real agent only: with
// --simulate, the process is a benchmark, not an idle agent).
asio::awaitable<void> expire_results_periodically(asio::io_context& io, std::vector<RunningAgent>& agents, bool trim) {
  asio::steady_timer timer(io, kFirstTrim);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  while (!ignored) {
    bool idle = true;
    for (auto& agent : agents) {
      agent.loop->expire_results();
      idle = idle && agent.loop->idle();
    }
    if (trim && idle) trim_resident_memory();
    timer.expires_after(kExpiryPeriod);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

// Runs every agent on one loop until SIGINT or SIGTERM.
int run_loops(asio::io_context& io, std::vector<RunningAgent>& agents) {
  std::size_t running = agents.size();
  for (auto& agent : agents)
    asio::co_spawn(io, agent.loop->connect_forever(), [&](std::exception_ptr) {
      if (--running == 0) io.stop();
    });
  asio::co_spawn(io, expire_results_periodically(io, agents, agents.size() == 1), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (error) return;
    spdlog::info("stopping");
    for (auto& agent : agents) agent.loop->stop();
  });
  io.run();
  return 0;
}

Result<std::map<std::string, std::string>> parse_labels(const std::vector<std::string>& texts) {
  std::map<std::string, std::string> labels;
  for (const auto& label : texts) {
    auto equals = label.find('=');
    if (equals == std::string::npos || equals == 0)
      return make_error(ErrorCode::InvalidArgument, "--label takes KEY=VALUE, got '" + label + "'");
    labels[label.substr(0, equals)] = label.substr(equals + 1);
  }
  return labels;
}

// Agent I of a simulation: its own state folder, host name and block label.
EnrolSettings simulated(const EnrolSettings& base, int index) {
  EnrolSettings agent = base;
  agent.state_dir = base.state_dir + "/sim-" + std::to_string(index);
  agent.hostname = host_name() + "-sim-" + std::to_string(index);
  agent.labels["sim_block"] = std::to_string(index / kSimulatedBlock);
  return agent;
}

// Enrols (or loads) `count` identities, a few at a time: each is a key, a
// CSR and a round trip, which the server signs one by one.
std::vector<Result<ClientCredentials>> obtain_all(const std::vector<EnrolSettings>& agents) {
  std::vector<Result<ClientCredentials>> credentials(agents.size(), make_error(ErrorCode::Internal, "not enrolled"));
  std::atomic<std::size_t> next{0};
  std::vector<std::jthread> workers;
  for (unsigned i = 0; i < std::min<std::size_t>(kParallelEnrolments, agents.size()); ++i)
    workers.emplace_back([&] {
      for (auto index = next++; index < agents.size(); index = next++) credentials[index] = obtain_credentials(agents[index]);
    });
  workers.clear();
  return credentials;
}

int run_agent(const AgentSettings& settings) {
  ::umask(077);
  // OpenSSL writes to the link with write(): a link the server closed must
  // end the link, not the agent (commands get SIGPIPE back, exec/spawn.cpp).
  ::signal(SIGPIPE, SIG_IGN);
  if (settings.server.empty()) {
    spdlog::critical("steward agent: --server HOST:PORT (or STEWARD_AGENT_SERVER) is required");
    return kBadUsage;
  }
  auto keep = parse_duration(settings.keep_results);
  if (!keep) return spdlog::critical("--keep-results: {}", keep.error().message), kBadUsage;
  auto labels = parse_labels(settings.labels);
  if (!labels) return spdlog::critical("{}", labels.error().message), kBadUsage;
  if (settings.simulate < 0) return spdlog::critical("--simulate takes a count of agents"), kBadUsage;

  EnrolSettings base{settings.server, settings.join_token, settings.ca_pin, settings.state_dir, "", *labels};
  std::vector<EnrolSettings> wanted;
  if (settings.simulate == 0) wanted.push_back(base);
  for (int index = 0; index < settings.simulate; ++index) wanted.push_back(simulated(base, index));
  if (settings.simulate > 0) {
    raise_descriptor_limit();
    spdlog::info("simulating {} agents (state in {}/sim-*)", settings.simulate, settings.state_dir);
  }
  auto credentials = obtain_all(wanted);

  asio::io_context io(1);
  std::vector<RunningAgent> agents;
  agents.reserve(wanted.size());
  for (std::size_t index = 0; index < wanted.size(); ++index) {
    if (!credentials[index]) return spdlog::critical("{}", credentials[index].error().message), 1;
    auto context = make_context(*credentials[index]);
    if (!context) return spdlog::critical("agent credentials: {}", context.error().message), 1;
    auto journal = Journal::open(wanted[index].state_dir + "/journal", *keep);
    if (!journal) return spdlog::critical("{}", journal.error().message), 1;
    agents.push_back({std::move(*journal), nullptr});
    AgentIdentity identity{settings.server, std::move(*context),
                           wanted[index].hostname.empty() ? host_name() : wanted[index].hostname, wanted[index].labels};
    agents.back().loop = std::make_unique<AgentLoop>(io, std::move(identity), agents.back().journal);
  }
  if (settings.simulate > 0) spdlog::info("{} agents enrolled; connecting", agents.size());
  return run_loops(io, agents);
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
  command->add_option("--simulate", settings->simulate,
                      "benchmark: run N agents in this process, each with its own identity (STATE-DIR/sim-I) and "
                      "stream, host name HOST-sim-I and label sim_block=I/1000");
  command->callback([settings, &exit_code] { exit_code = run_agent(*settings); });
}

}  // namespace steward::agent
