#pragma once
// The client commands of `steward` (everything but `serve`).
namespace CLI {
class App;
}

namespace steward::cli {

// Registers run, ping, facts, service, jobs and targets on `app`; each sets
// `exit_code` when it runs (0 only when everything it did succeeded).
void add_client_commands(CLI::App& app, int& exit_code);

}  // namespace steward::cli
