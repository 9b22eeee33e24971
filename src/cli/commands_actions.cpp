// `steward actions ls | exec SERVICE:ACTION [ARGS...] [--opt KEY=VALUE]...`.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "cli/render.hpp"
#include "cli/session.hpp"

namespace steward::cli {
namespace {

// VALUE as JSON when it is JSON (numbers, true, lists, objects), else as text.
boost::json::value option_value(const std::string& text) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(text, ec);
  return ec ? boost::json::value(text) : parsed;
}

Result<boost::json::object> options_of(const std::vector<std::string>& pairs) {
  boost::json::object options;
  for (const auto& pair : pairs) {
    auto equals = pair.find('=');
    if (equals == 0 || equals == std::string::npos)
      return make_error(ErrorCode::InvalidArgument, "--opt takes KEY=VALUE, not '" + pair + "'");
    options[pair.substr(0, equals)] = option_value(pair.substr(equals + 1));
  }
  return options;
}

void print_services(const boost::json::array& services) {
  for (const auto& entry : services) {
    const auto& service = entry.as_object();
    std::cout << service.at("service").as_string().c_str() << ": " << service.at("description").as_string().c_str()
              << "\n";
    for (const auto& action : service.at("actions").as_array()) {
      const auto& a = action.as_object();
      std::cout << "  " << service.at("service").as_string().c_str() << ":" << a.at("name").as_string().c_str();
      for (const auto& arg : a.at("args").as_array()) std::cout << " " << arg.as_string().c_str();
      for (const auto& option : a.at("options").as_array())
        std::cout << " [--opt " << option.as_string().c_str() << "=...]";
      if (auto text = a.at("description").as_string(); !text.empty()) std::cout << "  - " << text.c_str();
      std::cout << "\n";
    }
  }
}

}  // namespace

void add_action_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* actions = app.add_subcommand("actions", "named actions (SERVICE:ACTION): list them, run one");
  actions->require_subcommand(1);

  auto* ls = actions->add_subcommand("ls", "every service and its actions");
  add_connection_flags(*ls, *options);
  ls->callback([options, &exit_code] {
    with_session(*options, exit_code, [](Session& session) {
      auto reply = session.call("GET", "/v1/services");
      if (!reply) return report(reply.error());
      if (session.json()) std::cout << pretty_json(*reply) << "\n";
      else print_services(reply->as_array());
      return 0;
    });
  });

  auto name = std::make_shared<std::string>();
  auto args = std::make_shared<std::vector<std::string>>();
  auto pairs = std::make_shared<std::vector<std::string>>();
  auto no_wait = std::make_shared<bool>(false);
  auto* exec = actions->add_subcommand("exec", "run an action and wait for its result");
  exec->add_option("name", *name, "SERVICE:ACTION")->required();
  exec->add_option("args", *args, "positional arguments");
  exec->add_option("--opt", *pairs, "named argument KEY=VALUE (VALUE as JSON when it is JSON)")->allow_extra_args(false);
  exec->add_flag("--no-wait", *no_wait, "print the action's id without waiting");
  add_connection_flags(*exec, *options);
  exec->callback([options, name, args, pairs, no_wait, &exit_code] {
    auto named = options_of(*pairs);
    if (!named) return void(exit_code = report(named.error()));
    with_session(*options, exit_code, [&](Session& session) {
      boost::json::array positional(args->begin(), args->end());
      auto body = boost::json::serialize(boost::json::object{{"name", *name}, {"args", positional}, {"options", *named}});
      auto accepted = session.call("POST", "/v1/actions", body);
      if (!accepted) return report(accepted.error());
      const std::string id(accepted->at("id").as_string());
      if (*no_wait) {
        std::cout << id << "\n";
        return 0;
      }
      auto record = session.call("GET", "/v1/actions/" + url_encode(id));
      while (record && (record->at("state") == "pending" || record->at("state") == "running")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        record = session.call("GET", "/v1/actions/" + url_encode(id));
      }
      if (!record) return report(record.error());
      const bool succeeded = record->at("state") == "succeeded";
      if (session.json()) std::cout << pretty_json(*record) << "\n";
      else if (succeeded) std::cout << pretty_json(record->at("result")) << "\n";
      else std::cerr << "steward: " << *name << " failed: " << record->at("error").as_string().c_str() << "\n";
      return succeeded ? 0 : 1;
    });
  });
}

}  // namespace steward::cli
