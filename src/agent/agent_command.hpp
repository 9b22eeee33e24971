#pragma once
// `steward agent`: the process that dials the server (issue 13).
namespace CLI {
class App;
}

namespace steward::agent {

void add_agent_command(CLI::App& app, int& exit_code);

}  // namespace steward::agent
