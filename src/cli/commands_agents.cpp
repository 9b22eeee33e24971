// `steward agents join-command | ls | approve ID | revoke ID`: who may run
// work as an agent, managed on the running server (join-command, approve and
// revoke need an admin token; ls a read token).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>

#include "cli/render.hpp"
#include "cli/session.hpp"
#include "core/json_text.hpp"

namespace steward::cli {
namespace {

double time_of(const boost::json::value& value) { return value.is_number() ? value.to_number<double>() : 0; }

void print_agent_rows(const boost::json::array& listed) {
  static constexpr TableColumn kColumns[] = {{"ID", 24},        {"HOSTNAME", 24}, {"STATE", 10}, {"CONNECTED SINCE", 21},
                                             {"LAST SEEN", 21}, {"ADDRESS", 24},  {"VERSION", 0}};
  auto or_dash = [](std::string text) { return text.empty() ? std::string("-") : text; };
  std::vector<TableRow> rows;
  for (const auto& entry : listed) {
    const auto& agent = entry.as_object();
    const bool connected = agent.at("connected").as_bool();
    rows.push_back({text_of(agent, "id"), text_of(agent, "hostname"), text_of(agent, "state"),
                    connected ? local_time(time_of(agent.at("connected_since"))) : std::string("-"),
                    local_time(time_of(agent.at("last_seen"))), or_dash(text_of(agent, "address")),
                    or_dash(text_of(agent, "version"))});
  }
  print_table(kColumns, rows);
}

void add_join_command(CLI::App& agents, std::shared_ptr<ClientOptions> options, int& exit_code) {
  struct Args {
    std::string ttl = "24h";
    bool one_shot = false;
    std::string name;
    std::string agent_server;
  };
  auto args = std::make_shared<Args>();
  auto* join = agents.add_subcommand(
      "join-command", "make a join token and print the one line that enrols a machine: steward agent --server ... "
                      "--join TOKEN --ca-pin sha256:...");
  join->add_option("--ttl", args->ttl, "how long the token works: 90m, 24h, 7d or seconds")->capture_default_str();
  join->add_flag("--one-shot", args->one_shot, "the token enrols one machine only");
  join->add_option("--name", args->name, "a name for the logs and the agents' enrolled_by (default: generated)");
  join->add_option("--agent-server", args->agent_server,
                   "HOST:PORT the machine dials (default: the address the server's agent listener publishes)");
  join->footer("Example: steward agents join-command --one-shot --ttl 1h");
  add_connection_flags(*join, *options);
  join->callback([options, args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      boost::json::object body{{"ttl", args->ttl}, {"one_shot", args->one_shot}};
      if (!args->name.empty()) body["name"] = args->name;
      auto created = session.call("POST", "/agents/join-tokens", boost::json::serialize(body));
      if (!created) return report(created.error());
      if (session.json()) {
        std::cout << pretty_json(*created) << "\n";
        return 0;
      }
      const auto& reply = created->as_object();
      std::string server = args->agent_server;
      if (server.empty()) server = dialable_address(text_of(reply, "agent_address"), session.client().server().host);
      if (server.empty())
        return report(make_error(ErrorCode::Unavailable,
                                 "the server publishes no agent listener address (start it with --agent-listen "
                                 "ADDR:PORT), or pass --agent-server HOST:PORT; the join token '" +
                                     text_of(reply, "name") + "' was not shown and expires unused"));
      std::cout << "steward agent --server " << server << " --join " << text_of(reply, "token") << " --ca-pin "
                << text_of(reply, "ca_pin") << "\n";
      std::cerr << "join token '" << text_of(reply, "name") << "' (" << (args->one_shot ? "one machine" : "reusable")
                << ", expires " << local_time(time_of(reply.at("expires_at")))
                << "): run the line above on the machine; it is not shown again\n";
      return 0;
    });
  });
}

void add_ls(CLI::App& agents, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* ls = agents.add_subcommand("ls", "list agents: id, hostname, state, connected since, last seen, address");
  add_connection_flags(*ls, *options);
  ls->callback([options, &exit_code] {
    with_session(*options, exit_code, [](Session& session) {
      auto listed = session.call("GET", "/agents");
      if (!listed) return report(listed.error());
      if (session.json()) std::cout << pretty_json(*listed) << "\n";
      else print_agent_rows(listed->as_array());
      return 0;
    });
  });
}

void add_change(CLI::App& agents, std::shared_ptr<ClientOptions> options, int& exit_code, const std::string& verb,
                const std::string& help) {
  auto id = std::make_shared<std::string>();
  auto* command = agents.add_subcommand(verb, help);
  command->add_option("id", *id, "the agent's id (steward agents ls)")->required();
  add_connection_flags(*command, *options);
  command->callback([options, id, verb, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      auto changed = session.call("POST", "/agents/" + url_encode(*id) + "/" + verb);
      if (!changed) return report(changed.error());
      if (session.json()) std::cout << pretty_json(*changed) << "\n";
      else std::cerr << "agent " << *id << " " << (verb == "approve" ? "approved" : "revoked") << "\n";
      return 0;
    });
  });
}

}  // namespace

void add_agent_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* agents = app.add_subcommand("agents", "machines that dial in with `steward agent`: join-command, ls, approve, revoke");
  agents->require_subcommand(1);
  add_join_command(*agents, options, exit_code);
  add_ls(*agents, options, exit_code);
  add_change(*agents, options, exit_code, "approve", "let an agent waiting for approval in (it gets its certificate)");
  add_change(*agents, options, exit_code, "revoke",
             "cut an agent off: its live stream is closed and it can no longer connect or enrol with its key");
}

}  // namespace steward::cli
