// `steward callback add NAME | ls | rm NAME`: VMs that call back over SSH
// (issue 14). add makes the VM's key pair here (its private key goes to the
// bundle folder only, never to the server), registers the public key and
// writes the bundle; add and rm need an admin token, ls a read token.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "callback/keys.hpp"
#include "cli/callback_bundle.hpp"
#include "cli/render.hpp"
#include "cli/session.hpp"
#include "core/json_text.hpp"

namespace steward::cli {
namespace {

double time_of(const boost::json::object& object, const char* key) {
  const auto* value = object.if_contains(key);
  return value && value->is_number() ? value->to_number<double>() : 0;
}

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

// Where the callback came from; for --sshd targets, where steward reaches them.
std::string address_column(const boost::json::object& callback) {
  const auto* port = callback.if_contains("sshd_port");
  if (port && port->is_int64()) return "sshd 127.0.0.1:" + std::to_string(port->as_int64());
  return or_dash(text_of(callback, "address"));
}

void print_callback_rows(const boost::json::array& listed) {
  static constexpr TableColumn kColumns[] = {{"NAME", 24},      {"USER", 10},    {"CONNECTED SINCE", 21},
                                             {"LAST SEEN", 21}, {"ADDRESS", 24}, {"KEY", 0}};
  std::vector<TableRow> rows;
  for (const auto& entry : listed) {
    const auto& callback = entry.as_object();
    const auto* connected = callback.if_contains("connected");
    const bool live = connected && connected->is_bool() && connected->as_bool();
    rows.push_back({text_of(callback, "name"), text_of(callback, "user"),
                    live ? local_time(time_of(callback, "connected_since")) : std::string("-"),
                    local_time(time_of(callback, "last_seen")), address_column(callback),
                    text_of(callback, "key_fingerprint")});
  }
  print_table(kColumns, rows);
}

Result<std::pair<std::string, int>> split_endpoint(const std::string& address) {
  const auto colon = address.rfind(':');
  const int port = colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
  if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535)
    return make_error(ErrorCode::InvalidArgument, "the callback endpoint's address is not HOST:PORT: '" + address +
                                                      "' (pass --endpoint HOST:PORT)");
  return std::pair{address.substr(0, colon), port};
}

// Where Debian's openssh-server keeps the host key the VM pins with --sshd.
constexpr const char* kDefaultSshdHostKey = "/etc/ssh/ssh_host_ed25519_key.pub";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A public key line given as is, or the file holding it.
Result<std::string> read_host_key(const std::string& given) {
  if (given.starts_with("ssh-") || given.starts_with("ecdsa-")) return given;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(given, ec))
    return make_error(ErrorCode::InvalidArgument, "--sshd-host-key: " + given +
                                                      " is neither a public key line nor a readable file (pass the "
                                                      "controller sshd's host key)");
  return read_text(given);
}

void add_add(CLI::App& callback, std::shared_ptr<ClientOptions> options, int& exit_code) {
  struct Args {
    std::string name;
    std::string user;
    std::string out;
    std::string host_key;
    std::string endpoint;
    int ssh_port = 22;
    bool sshd = false;
    std::string sshd_user = "callback";
    std::string sshd_host_key = kDefaultSshdHostKey;
  };
  auto args = std::make_shared<Args>();
  auto* add = callback.add_subcommand(
      "add", "register a VM that calls back: makes its key pair and writes the files it needs to --out");
  add->add_option("name", args->name, "the target's name (its inventory host, group callback)")->required();
  add->add_option("--user", args->user, "the VM's account steward logs in to (default root)");
  add->add_option("--out", args->out, "folder for the VM's files (default ./callback-NAME)");
  add->add_option("--host-key", args->host_key,
                  "the VM sshd's public key line, when known (else trusted on its first callback)");
  add->add_option("--endpoint", args->endpoint,
                  "HOST:PORT the VM dials (default: the address the server's callback endpoint publishes)");
  add->add_option("--ssh-port", args->ssh_port, "the port of the VM's sshd, forwarded from its localhost")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  add->add_flag("--sshd", args->sshd,
                "call back to the controller's own OpenSSH server instead of steward's endpoint: steward allocates a "
                "loopback port and reaches the VM at 127.0.0.1:PORT (--endpoint then defaults to the server's "
                "host, port 22)");
  add->add_option("--sshd-user", args->sshd_user, "with --sshd: the controller's account the VM logs in to")
      ->capture_default_str();
  add->add_option("--sshd-host-key", args->sshd_host_key,
                  "with --sshd: the controller sshd's public host key, a line or a file holding it")
      ->capture_default_str();
  add->footer("Example: steward callback add build-vm-7 --user admin --out ./build-vm-7\n"
              "         steward callback add build-vm-8 --sshd --endpoint controller.example.net:22");
  add_connection_flags(*add, *options);
  add->callback([options, args, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      if (auto valid = callback::check_callback_name(args->name); !valid) return report(valid.error());
      const std::string out = args->out.empty() ? "callback-" + args->name : args->out;
      std::error_code ignored;
      if (std::filesystem::exists(out) && !std::filesystem::is_empty(out, ignored))
        return report(make_error(ErrorCode::Conflict, out + " is not empty: choose another --out folder"));
      auto pair = callback::generate_key_pair("steward-callback-" + args->name);
      if (!pair) return report(pair.error());
      std::string sshd_host_key;
      if (args->sshd) {
        auto read = read_host_key(args->sshd_host_key);
        if (!read) return report(read.error());
        sshd_host_key = std::move(*read);
      }
      boost::json::object body{{"name", args->name}, {"public_key", pair->public_line}};
      if (args->sshd) body["sshd"] = true;
      if (!args->user.empty()) body["user"] = args->user;
      if (!args->host_key.empty()) body["host_key"] = args->host_key;
      auto created = session.call("POST", "/callbacks", boost::json::serialize(body));
      if (!created) return report(created.error());
      const auto& reply = created->as_object();
      std::string endpoint = args->endpoint;
      if (endpoint.empty() && args->sshd) endpoint = session.client().server().host + ":22";
      if (endpoint.empty()) endpoint = dialable_address(text_of(reply, "endpoint"), session.client().server().host);
      auto address = split_endpoint(endpoint);
      if (!address) return report(address.error());
      CallbackBundleInputs inputs;
      inputs.name = args->name;
      inputs.endpoint_host = address->first;
      inputs.endpoint_port = address->second;
      inputs.endpoint_host_key = text_of(reply, "endpoint_host_key");
      inputs.callback_private_key = pair->private_key;
      inputs.callback_public_key = pair->public_line;
      inputs.controller_public_key = text_of(reply, "controller_public_key");
      inputs.controller_user = text_of(reply, "user");
      inputs.target_ssh_port = args->ssh_port;
      if (args->sshd) {
        inputs.sshd = true;
        inputs.endpoint_host_key = sshd_host_key;
        inputs.endpoint_user = args->sshd_user;
        const auto* port = reply.if_contains("sshd_port");
        inputs.remote_listen_port = port && port->is_int64() ? static_cast<int>(port->as_int64()) : 0;
      }
      if (auto written = write_callback_bundle(out, inputs); !written) {
        report(written.error());
        std::cerr << "the registration of " << args->name << " stands; remove it with `steward callback rm "
                  << args->name << "` before adding it again\n";
        return 1;
      }
      if (session.json()) {
        boost::json::object shown = reply;
        shown["bundle"] = out;
        std::cout << pretty_json(shown) << "\n";
        return 0;
      }
      if (args->sshd) {
        // The line the controller's account needs, on stdout for a pipe.
        std::cout << read_text(std::filesystem::path(out) / "authorized_keys.sshd");
        std::cerr << "callback target " << args->name << " registered for the controller's sshd: it is reached at "
                  << "127.0.0.1:" << inputs.remote_listen_port << "; append the line above ("
                  << out << "/authorized_keys.sshd) to ~" << args->sshd_user
                  << "/.ssh/authorized_keys on the controller\n";
      }
      std::cerr << "callback target " << args->name << " registered (key " << text_of(reply, "key_fingerprint")
                << "); its files are in " << out << ":\n"
                << "  give cloud-init.yaml to the VM as user-data, or install by hand as README.txt there says\n"
                << "  (authorized_keys.controller goes to ~" << text_of(reply, "user")
                << "/.ssh/authorized_keys; steward-callback.service runs steward-callback.sh at boot)\n";
      return 0;
    });
  });
}

void add_ls(CLI::App& callback, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* ls = callback.add_subcommand("ls", "list callback targets: user, connected since, last seen, address, key");
  add_connection_flags(*ls, *options);
  ls->callback([options, &exit_code] {
    with_session(*options, exit_code, [](Session& session) {
      auto listed = session.call("GET", "/callbacks");
      if (!listed) return report(listed.error());
      if (session.json()) std::cout << pretty_json(*listed) << "\n";
      else print_callback_rows(listed->as_array());
      return 0;
    });
  });
}

void add_rm(CLI::App& callback, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto name = std::make_shared<std::string>();
  auto* rm = callback.add_subcommand("rm", "remove a callback target: its live session is cut and its key refused");
  rm->add_option("name", *name, "the target's name (steward callback ls)")->required();
  add_connection_flags(*rm, *options);
  rm->callback([options, name, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      auto removed = session.call("DELETE", "/callbacks/" + url_encode(*name));
      if (!removed) return report(removed.error());
      std::cerr << "callback target " << *name << " removed\n";
      return 0;
    });
  });
}

}  // namespace

void add_callback_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* callback = app.add_subcommand("callback", "VMs that call back over SSH (ssh -N -R): add, ls, rm");
  callback->require_subcommand(1);
  add_add(*callback, options, exit_code);
  add_ls(*callback, options, exit_code);
  add_rm(*callback, options, exit_code);
}

}  // namespace steward::cli
