#pragma once
// The client commands of `steward` (everything but `serve`).
namespace CLI {
class App;
}

namespace steward::cli {

// Registers every client command (run, ping, facts, service, cp, fetch, jobs,
// targets, conditions, tokens, agents, callback) on `app`; each sets
// `exit_code` when it runs (0 only when everything it did succeeded).
void add_client_commands(CLI::App& app, int& exit_code);

}  // namespace steward::cli
