#include "settings.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <cstdlib>
#include <functional>
#include <vector>

#include "core/strings.hpp"

namespace steward {

namespace {

struct Setting {
  std::string key;  // flag name without dashes; also the config key
  const char* env;  // may be null
  CLI::Option* option = nullptr;
  std::function<Status(const std::string&)> assign;
};

Status parse_int(const std::string& key, const std::string& text, int minimum, int& out) {
  try {
    std::size_t used = 0;
    int value = std::stoi(text, &used);
    if (used != text.size() || value < minimum) throw std::out_of_range(text);
    out = value;
    return {};
  } catch (...) {
    return make_error(ErrorCode::InvalidArgument,
                      key + " must be an integer >= " + std::to_string(minimum) + ", got '" + text + "'");
  }
}

Status parse_bool(const std::string& key, const std::string& text, bool& out) {
  auto flag = parse_flag(text);
  if (!flag)
    return make_error(ErrorCode::InvalidArgument,
                      key + " must be " + kFlagSpellings + ", got '" + text + "'");
  out = *flag;
  return {};
}

// Replaces the host (part = 0) or port (part = 1) of "HOST:PORT".
std::string with_address_part(const std::string& address, int part, const std::string& value) {
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  return part == 0 ? value + ":" + port : host + ":" + value;
}

std::string toml_scalar_text(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (auto i = node.value<std::int64_t>()) return std::to_string(*i);
  if (auto b = node.value<bool>()) return *b ? "true" : "false";
  return {};
}

Status check_tls_settings(const ServeSettings& s) {
  if (s.tls != "auto" && s.tls != "off")
    return make_error(ErrorCode::InvalidArgument, "tls must be auto or off, got '" + s.tls + "'");
  if (s.tls_cert.empty() != s.tls_key.empty())
    return make_error(ErrorCode::InvalidArgument, "tls-cert and tls-key go together: give both or neither");
  if (s.tls == "auto" && !s.tls_cert.empty())
    return make_error(ErrorCode::InvalidArgument, "tls auto creates its own certificate: drop tls-cert/tls-key, or tls auto");
  if (!s.grpc_client_ca.empty() && !s.serves_tls())
    return make_error(ErrorCode::InvalidArgument, "grpc-client-ca needs TLS: add --tls-cert/--tls-key or --tls auto");
  return {};
}

}  // namespace

class SettingsBinder {
 public:
  std::vector<Setting> settings;
};

ServeSettingsParser::ServeSettingsParser(CLI::App& cmd) : binder_(std::make_unique<SettingsBinder>()) {
  auto& s = settings_;
  auto text = [&](const std::string& key, const char* env, std::string& field, const std::string& help) {
    auto* option = cmd.add_option("--" + key, field, help)->capture_default_str();
    binder_->settings.push_back({key, env, option, [&field](const std::string& v) {
                                   field = v;
                                   return Status{};
                                 }});
  };
  auto number = [&](const std::string& key, const char* env, int& field, int minimum, const std::string& help) {
    auto* option = cmd.add_option("--" + key, field, help)->capture_default_str()->check(CLI::Range(minimum, 1 << 30));
    binder_->settings.push_back({key, env, option, [key, &field, minimum](const std::string& v) {
                                   return parse_int(key, v, minimum, field);
                                 }});
  };
  text("config", nullptr, s.config_file, "TOML file with the same keys as these flags");
  text("http", nullptr, s.http, "REST API and dashboard address (ADDR:PORT; port 0 picks one)");
  text("grpc", nullptr, s.grpc, "gRPC API address (Ranger executor; ADDR:PORT, port 0 picks one; 'off' disables)");
  // The Ranger executor's variables set the gRPC address unless --grpc does.
  auto* grpc_option = binder_->settings.back().option;
  for (auto [env, part] : {std::pair{"GLOBAL_HOST", 0}, std::pair{"EXECUTOR_PORT", 1}}) {
    binder_->settings.push_back({std::string("env-") + env, env, grpc_option, [&s, part](const std::string& v) {
                                   if (s.grpc != "off") s.grpc = with_address_part(s.grpc, part, v);
                                   return Status{};
                                 }});
  }
  text("agent-listen", "STEWARD_AGENT_LISTEN", s.agent_listen,
       "where `steward agent` processes dial in (ADDR:PORT, port 0 picks one; mutual TLS with the agent CA); off");
  number("agent-wait", nullptr, s.agent_wait_seconds, 1,
         "seconds an operation waits for its agent to (re)connect before it ends Unreachable");
  auto* no_agent_groups = cmd.add_flag("--no-agent-groups", s.no_agent_groups,
                                       "do not add connecting agents missing from the inventory (group `agents`, "
                                       "label_KEY_VALUE groups)");
  binder_->settings.push_back({"no-agent-groups", nullptr, no_agent_groups, [&s](const std::string& v) {
                                 return parse_bool("no-agent-groups", v, s.no_agent_groups);
                               }});
  text("callback", "STEWARD_CALLBACK", s.callback,
       "SSH endpoint registered VMs call back to with `ssh -N -R` (ADDR:PORT, port 0 picks one); off");
  number("callback-wait", nullptr, s.callback_wait_seconds, 1,
         "seconds an operation waits for its callback target to (re)connect before it ends Unreachable");
  text("data-dir", nullptr, s.data_dir, "database, token and keys");
  text("server-id", "STEWARD_SERVER_ID", s.server_id,
       "this server's id among servers sharing a store (letters, digits, . _ -; default: one created once in "
       "<data-dir>/server-id)");
  text("playbooks", nullptr, s.playbooks_dir, "folder with _deploy.yml: /deploy runs ansible-playbook on it");
  text("tasks", nullptr, s.tasks_file, "pipelines in servo-exec YAML (checked at start: the server refuses a bad file)");
  text("webhooks", nullptr, s.webhooks_file, "TOML file of named webhooks (the `http` action service)");
  text("drivers", nullptr, s.drivers_dir, "folder of external action drivers (executables answering --describe)");
  text("packages", nullptr, s.packages_dir, "Deputy packages: DIR/<name>/<version>/package.toml (default <data-dir>/packages)");
  text("inventory", nullptr, s.inventory, "Ansible INI or YAML inventory (default: one host, localhost)");
  text("files-dir", nullptr, s.files_dir, "server side of copy and fetch (default <data-dir>/files)");
  text("audit-log", nullptr, s.audit_log,
       "JSON-lines file the audit trail is appended to (default <data-dir>/audit.jsonl); off: the store alone");
  text("store", nullptr, s.store,
       "sqlite:PATH (default sqlite:<data-dir>/steward.db), redis://[:PASSWORD@]HOST:PORT/DB or "
       "unix:///path/redis.sock[?db=N] (password also from STEWARD_REDIS_PASSWORD)");
  number("max-connections", nullptr, s.max_connections, 1, "operations running at once");
  auto* no_auth = cmd.add_flag("--no-auth", s.no_auth, "turn authentication off (not for shared machines)");
  binder_->settings.push_back({"no-auth", nullptr, no_auth, [&s](const std::string& v) {
                                 return parse_bool("no-auth", v, s.no_auth);
                               }});
  text("http-allow", "STEWARD_HTTP_ALLOW", s.http_allow,
       "CIDR[,CIDR...]: REST clients from these addresses need no token (EXEd clients send none)");
  text("grpc-allow", "STEWARD_GRPC_ALLOW", s.grpc_allow,
       "CIDR[,CIDR...]: gRPC clients from these addresses need no token (Ranger's deployer sends none)");
  text("tls", nullptr, s.tls,
       "auto: serve REST and gRPC over TLS with a self-signed certificate created once in <data-dir>/tls "
       "(its SHA-256 fingerprint is logged at start); off: plain, unless --tls-cert/--tls-key are given");
  text("tls-cert", "STEWARD_TLS_CERT", s.tls_cert,
       "PEM certificate (chain) to serve REST (https://) and gRPC over TLS; needs --tls-key");
  text("tls-key", "STEWARD_TLS_KEY", s.tls_key, "PEM private key of --tls-cert (unencrypted; keep it 0600)");
  text("grpc-client-ca", nullptr, s.grpc_client_ca,
       "PEM CA certificates: gRPC clients must present a certificate signed by one (mutual TLS; needs TLS)");
  text("log-level", "LOG_LEVEL", s.log_level, "trace, debug, info, warn, error");
  text("log-dir", "LOG_DIR", s.log_dir, "also write logs to a file in this folder");
  text("log-file-name", "LOG_FILE_NAME", s.log_file_name, "log file name inside --log-dir");
  number("grace", nullptr, s.grace_seconds, 0, "seconds running operations get to finish at shutdown");
  number("retention-days", nullptr, s.retention_days, 1, "finished jobs older than this are deleted");
  number("audit-days", nullptr, s.audit_days, 0,
         "audit entries older than this are deleted from the store (0: kept); the file is never cut");
  number("idle-timeout", nullptr, s.idle_timeout_seconds, 1, "seconds an idle HTTP connection stays open");
  number("header-timeout", nullptr, s.header_timeout_seconds, 1,
         "seconds from a request's first byte to the end of its headers before the connection is closed");
  number("max-http-connections", nullptr, s.max_http_connections, 0,
         "REST connections open at once (0: three quarters of the descriptor limit, the rest kept for the store, "
         "ssh sessions and child processes); at the limit the longest idle one is closed for a new one");
  number("max-body-kib", nullptr, s.body_limit_kib, 1, "largest request body accepted, in KiB");
  number("max-upload-mib", nullptr, s.upload_limit_mib, 1,
         "largest file accepted by PUT /files/PATH (streamed to disk into --files-dir), in MiB");
  number("condition-values-hours", nullptr, s.condition_values_hours, 1,
         "condition values older than this many hours are deleted (checked every 10 minutes)");
  number("ssh-keepalive", nullptr, s.ssh_keepalive_seconds, 1, "seconds between keepalives on a pooled ssh connection");
  number("ssh-idle-timeout", nullptr, s.ssh_idle_timeout_seconds, 1,
         "seconds a pooled ssh connection may stay unused before it is closed");
  number("hypervisor-wait-timeout", "HYPERVISOR_WAIT_TIMEOUT", s.hypervisor_wait_timeout, 1,
         "seconds to wait for a target a feature rebooted");
  number("hypervisor-wait-interval", "HYPERVISOR_WAIT_INTERVAL", s.hypervisor_wait_interval, 1,
         "seconds between checks while waiting for it");
  text("condition-pacing", nullptr, s.condition_pacing,
       "grid (runs on a fixed time grid) or sleep (an interval after each run ends; for comparisons)");
  binder_->settings.push_back({"token", "STEWARD_TOKEN", nullptr, [&s](const std::string& v) {
                                 s.token = v;
                                 return Status{};
                               }});
  text("secret-env-pattern", nullptr, s.secret_env_pattern,
       "environment names whose values are secrets (stored encrypted, shown as ***): globs joined by |, any case");
  // Only from the environment: a flag would show in ps, a config file is easier to leak.
  binder_->settings.push_back({"secret-key", "STEWARD_SECRET_KEY", nullptr, [&s](const std::string& v) {
                                 s.secret_key = v;
                                 return Status{};
                               }});
}

ServeSettingsParser::~ServeSettingsParser() = default;

Result<ServeSettings> ServeSettingsParser::resolve() {
  toml::table config;
  if (!settings_.config_file.empty()) {
    try {
      config = toml::parse_file(settings_.config_file);
    } catch (const toml::parse_error& e) {
      return make_error(ErrorCode::InvalidArgument, settings_.config_file + ":" +
                                                        std::to_string(e.source().begin.line) + ": " +
                                                        std::string(e.description()));
    }
  }
  for (auto&& [key, node] : config) {
    std::string name(key.str());
    std::replace(name.begin(), name.end(), '_', '-');
    auto it = std::find_if(binder_->settings.begin(), binder_->settings.end(),
                           [&](const Setting& s) {
                             return s.key == name && s.key != "config" && s.key != "token" && s.key != "secret-key" &&
                                    !s.key.starts_with("env-");
                           });
    if (it == binder_->settings.end())
      return make_error(ErrorCode::InvalidArgument, settings_.config_file + ": unknown key '" + std::string(key.str()) + "'");
  }
  for (auto& setting : binder_->settings) {
    if (setting.option && setting.option->count() > 0) continue;
    const char* from_env = setting.env ? std::getenv(setting.env) : nullptr;
    if (from_env && *from_env) {
      if (auto s = setting.assign(from_env); !s) return make_error(ErrorCode::InvalidArgument, std::string(setting.env) + ": " + s.error().message);
      continue;
    }
    std::string underscored = setting.key;
    std::replace(underscored.begin(), underscored.end(), '-', '_');
    const toml::node* node = config.get(setting.key);
    if (!node) node = config.get(underscored);
    if (!node) continue;
    std::string value = toml_scalar_text(*node);
    if (value.empty() && !node->is_string())
      return make_error(ErrorCode::InvalidArgument, settings_.config_file + ": '" + setting.key + "' must be a string, integer or boolean");
    if (auto s = setting.assign(value); !s) return make_error(ErrorCode::InvalidArgument, settings_.config_file + ": " + s.error().message);
  }
  if (auto tls = check_tls_settings(settings_); !tls) return tls.error();
  if (settings_.condition_pacing != "grid" && settings_.condition_pacing != "sleep")
    return make_error(ErrorCode::InvalidArgument,
                      "condition-pacing must be grid or sleep, got '" + settings_.condition_pacing + "'");
  return settings_;
}

}  // namespace steward
