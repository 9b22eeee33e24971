// `steward tokens add NAME --role R | ls | revoke NAME`: named API tokens,
// managed on the running server (an admin token is needed).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>

#include "cli/render.hpp"
#include "cli/session.hpp"

namespace steward::cli {
namespace {

double time_of(const boost::json::value& value) { return value.is_number() ? value.to_number<double>() : 0; }

void print_token_rows(const boost::json::array& tokens) {
  static constexpr TableColumn kColumns[] = {{"NAME", 24}, {"ROLE", 9}, {"CREATED", 21}, {"LAST USED", 0}};
  std::vector<TableRow> rows;
  for (const auto& entry : tokens) {
    const auto& token = entry.as_object();
    const bool server_token = token.at("server_token").as_bool();
    rows.push_back({std::string(token.at("name").as_string()), std::string(token.at("role").as_string()),
                    server_token ? std::string("(server token)") : local_time(time_of(token.at("created"))),
                    local_time(time_of(token.at("last_used")))});
  }
  print_table(kColumns, rows);
}

void add_add(CLI::App& tokens, std::shared_ptr<ClientOptions> options, int& exit_code) {
  struct Args {
    std::string name;
    std::string role;
  };
  auto args = std::make_shared<Args>();
  auto* add = tokens.add_subcommand("add", "create a token; it is printed once and cannot be shown again");
  add->add_option("name", args->name, "a name for ls, logs and revoke: A-Z a-z 0-9 . _ -")->required();
  add->add_option("--role", args->role, "read (GET only), operate (run and cancel work) or admin (everything)")
      ->required()
      ->check(CLI::IsMember({"read", "operate", "admin"}));
  add->footer("Example: steward tokens add ci --role operate");
  add_connection_flags(*add, *options);
  add->callback([options, args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      const auto body = boost::json::serialize(boost::json::object{{"name", args->name}, {"role", args->role}});
      auto created = session.call("POST", "/tokens", body);
      if (!created) return report(created.error());
      if (session.json()) {
        std::cout << pretty_json(*created) << "\n";
      } else {
        std::cout << created->at("token").as_string().c_str() << "\n";
        std::cerr << "token '" << args->name << "' (" << args->role
                  << "): keep it now, it is not shown again (use it as STEWARD_TOKEN or Authorization: Bearer)\n";
      }
      return 0;
    });
  });
}

void add_ls(CLI::App& tokens, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* ls = tokens.add_subcommand("ls", "list tokens: name, role, created, last used (never the tokens)");
  add_connection_flags(*ls, *options);
  ls->callback([options, &exit_code] {
    with_session(*options, exit_code, [](Session& session) {
      auto listed = session.call("GET", "/tokens");
      if (!listed) return report(listed.error());
      if (session.json()) std::cout << pretty_json(*listed) << "\n";
      else print_token_rows(listed->as_array());
      return 0;
    });
  });
}

void add_revoke(CLI::App& tokens, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto name = std::make_shared<std::string>();
  auto* revoke = tokens.add_subcommand("revoke", "revoke a token: the server refuses it from now on");
  revoke->add_option("name", *name, "the token's name")->required();
  add_connection_flags(*revoke, *options);
  revoke->callback([options, name, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      auto revoked = session.call("DELETE", "/tokens/" + url_encode(*name));
      if (!revoked) return report(revoked.error());
      if (!session.json()) std::cerr << "token '" << *name << "' revoked\n";
      return 0;
    });
  });
}

}  // namespace

void add_token_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* tokens = app.add_subcommand("tokens", "named API tokens with roles: add, ls, revoke (needs an admin token)");
  tokens->require_subcommand(1);
  add_add(*tokens, options, exit_code);
  add_ls(*tokens, options, exit_code);
  add_revoke(*tokens, options, exit_code);
}

}  // namespace steward::cli
