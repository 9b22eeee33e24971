// `steward`: the server (`serve`) and the client commands in one binary.
#include <CLI/CLI.hpp>
#include <absl/synchronization/mutex.h>

#include <iostream>

#include "agent/agent_command.hpp"
#include "cli/commands.hpp"
#include "serve.hpp"
#include "settings.hpp"

namespace {
constexpr int kBadUsage = 2;  // the README's exit code for bad usage
}  // namespace

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which leaves its Mutex deadlock
  // detection on: a lock-graph update on every lock gRPC takes, a quarter of
  // an idle server's CPU with 10,000 agent streams (bench/agent_fleet.py).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"steward: run work on many machines and report what happened"};
  app.set_version_flag("--version", "steward " STEWARD_VERSION);
  app.require_subcommand(1);
  app.footer("Run `steward COMMAND --help` for a command's options.");

  auto* serve = app.add_subcommand("serve", "run the server (REST API; jobs in SQLite)");
  steward::ServeSettingsParser settings(*serve);
  int exit_code = 0;
  serve->callback([&] {
    auto resolved = settings.resolve();
    if (!resolved) {
      std::cerr << "steward serve: " << resolved.error().message << "\n";
      exit_code = kBadUsage;
      return;
    }
    exit_code = steward::serve(*resolved);
  });
  steward::cli::add_client_commands(app, exit_code);
  steward::agent::add_agent_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (help and version on stdout, errors on stderr);
    // its own codes (105, 106, 109, ...) are not ours: bad usage exits 2.
    return app.exit(e) == 0 ? 0 : kBadUsage;
  }
  return exit_code;
}
