#include "cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>

#include "cli/render.hpp"
#include "cli/session.hpp"

namespace steward::cli {

void add_job_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);
void add_task_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);
void add_action_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);
void add_token_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);
void add_agent_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);
void add_callback_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);
void add_condition_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);
void add_file_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code);

namespace {

// Prints one line per host of a blocking reply; 1 if any host failed.
int print_blocking_reply(Session& session, const boost::json::value& reply) {
  if (session.json()) std::cout << pretty_json(reply) << "\n";
  bool failed = false;
  for (const auto& [host, entry] : reply.as_object()) {
    const auto& object = entry.as_object();
    failed |= status_failed(object.at("status").to_number<std::int64_t>());
    if (!session.json()) print_host_line(std::string(host), object);
  }
  return failed ? 1 : 0;
}

void add_run(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  struct Args {
    std::string pattern;
    std::vector<std::string> command;
    double timeout = 0;
    std::vector<std::string> env;
    std::string cwd;
    RolloutFlags rollout;
  };
  auto args = std::make_shared<Args>();
  auto* run = app.add_subcommand("run", "run a command on every host matching PATTERN and show each host's output");
  run->footer("One word after -- runs through /bin/sh -c (pipes, $VARS); several run as that program\n"
              "with those arguments and no shell. Exits non-zero if any host failed.\n"
              "Example: steward run 'web*' -- uptime");
  run->add_option("pattern", args->pattern, "hosts: a name, group, glob, a:b, a:&b, a:!b")->required();
  run->add_option("command", args->command, "the command, after --")->required()->expected(-1);
  run->add_option("--timeout", args->timeout, "seconds each host may run before it is killed");
  // One value per --env, so `--env K=V PATTERN -- CMD` leaves PATTERN alone.
  run->add_option("--env", args->env, "KEY=VALUE for the command's environment (repeatable)")->allow_extra_args(false);
  run->add_option("--cwd", args->cwd, "working directory on the hosts");
  args->rollout.add_to(*run);
  add_connection_flags(*run, *options);
  run->callback([options, args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      boost::json::object body{{"targets", args->pattern}};
      if (args->command.size() == 1) body["cmd"] = args->command.front();
      else body["argv"] = boost::json::value_from(args->command);
      if (args->timeout > 0) body["timeout"] = args->timeout;
      if (!args->cwd.empty()) body["cwd"] = args->cwd;
      boost::json::object env;
      for (const auto& pair : args->env) {
        auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0)
          return report(make_error(ErrorCode::InvalidArgument, "--env wants KEY=VALUE, got '" + pair + "'"));
        env[pair.substr(0, eq)] = pair.substr(eq + 1);
      }
      if (!env.empty()) body["env"] = std::move(env);
      args->rollout.put_in(body);
      auto created = session.call("POST", "/execute", boost::json::serialize(body));
      if (!created) return report(created.error());
      return follow_job(session, std::string(created->as_object().at("jid").as_string()));
    });
  });
}

void add_ping(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  struct Args {
    std::string pattern;
    RolloutFlags rollout;
  };
  auto args = std::make_shared<Args>();
  auto* ping = app.add_subcommand("ping", "check that every host matching PATTERN is reachable");
  ping->add_option("pattern", args->pattern, "hosts (default all)")->default_val("all");
  args->rollout.add_to(*ping);
  add_connection_flags(*ping, *options);
  ping->callback([options, args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      auto reply = session.call("GET", "/ping?target=" + url_encode(args->pattern) + args->rollout.query());
      return reply ? print_blocking_reply(session, *reply) : report(reply.error());
    });
  });
}

void add_facts(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto host = std::make_shared<std::string>();
  auto* facts = app.add_subcommand("facts", "show a host's facts (hostname, OS, kernel, CPUs, memory, addresses)");
  facts->add_option("host", *host, "host name or pattern")->required();
  add_connection_flags(*facts, *options);
  facts->callback([options, host, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      auto reply = session.call("GET", "/facter?target=" + url_encode(*host));
      if (!reply) return report(reply.error());
      bool failed = false;
      for (const auto& [name, entry] : reply->as_object()) {
        const auto& object = entry.as_object();
        bool ok = !status_failed(object.at("status").to_number<std::int64_t>());
        failed |= !ok;
        if (session.json()) continue;
        if (!ok || !object.contains("facts")) print_host_line(std::string(name), object);
        else std::cout << name << ": " << pretty_json(object.at("facts")) << "\n";
      }
      if (session.json()) std::cout << pretty_json(*reply) << "\n";
      return failed ? 1 : 0;
    });
  });
}

void add_service(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  struct Args {
    std::string pattern, name, action;
    bool graceful = false;
    RolloutFlags rollout;
  };
  auto args = std::make_shared<Args>();
  auto* service = app.add_subcommand("service", "start, stop or restart a service on every host matching PATTERN");
  service->add_option("pattern", args->pattern, "hosts")->required();
  service->add_option("name", args->name, "service (unit) name")->required();
  service->add_option("action", args->action, "start | stop | restart")->required()->check(CLI::IsMember({"start", "stop", "restart"}));
  service->add_flag("--graceful", args->graceful, "with restart: reload instead");
  args->rollout.add_to(*service);
  add_connection_flags(*service, *options);
  service->callback([options, args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      int state = args->action == "start" ? 0 : args->action == "stop" ? 1 : 2;
      auto reply = session.call("GET", "/service?target=" + url_encode(args->pattern) + "&name=" + url_encode(args->name) +
                                           "&state=" + std::to_string(state) + "&graceful=" + (args->graceful ? "true" : "false") +
                                           args->rollout.query());
      return reply ? print_blocking_reply(session, *reply) : report(reply.error());
    });
  });
}

void add_targets(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto pattern = std::make_shared<std::string>();
  auto* targets = app.add_subcommand("targets", "list the inventory's hosts matching PATTERN");
  targets->add_option("pattern", *pattern, "hosts (default all)")->default_val("all");
  add_connection_flags(*targets, *options);
  targets->callback([options, pattern, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      auto reply = session.call("GET", "/target?pattern=" + url_encode(*pattern));
      if (!reply) return report(reply.error());
      if (session.json()) std::cout << pretty_json(*reply) << "\n";
      else for (const auto& name : reply->as_array()) std::cout << name.as_string().c_str() << "\n";
      return 0;
    });
  });
}

}  // namespace

void add_client_commands(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<ClientOptions>();
  // Accepted before the command too: `steward --server URL ping`.
  add_connection_flags(app, *options);
  add_run(app, options, exit_code);
  add_ping(app, options, exit_code);
  add_facts(app, options, exit_code);
  add_service(app, options, exit_code);
  add_file_commands(app, options, exit_code);
  add_job_commands(app, options, exit_code);
  add_task_commands(app, options, exit_code);
  add_action_commands(app, options, exit_code);
  add_targets(app, options, exit_code);
  add_token_commands(app, options, exit_code);
  add_agent_commands(app, options, exit_code);
  add_callback_commands(app, options, exit_code);
  add_condition_commands(app, options, exit_code);
}

}  // namespace steward::cli
