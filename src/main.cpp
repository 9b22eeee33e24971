// `steward`: the server (`serve`) and the client commands in one binary.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.hpp"
#include "serve.hpp"
#include "settings.hpp"

int main(int argc, char** argv) {
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
      exit_code = 2;
      return;
    }
    exit_code = steward::serve(*resolved);
  });
  steward::cli::add_client_commands(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
