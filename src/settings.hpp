#pragma once
// `steward serve` settings, declared once: each has a flag, a config-file
// key and, where the contract gives one, an environment variable.
// Precedence: flag > environment > config file > built-in default.
#include <memory>
#include <string>

#include "core/result.hpp"
#include "core/secret_args.hpp"

namespace CLI {
class App;
}

namespace steward {

struct ServeSettings {
  std::string config_file;
  std::string http = "127.0.0.1:16808";
  std::string grpc = "127.0.0.1:7000";  // "off" disables
  std::string agent_listen = "off";     // the agent listener (issue 13); "off" disables
  int agent_wait_seconds = 60;          // an agent away this long fails its operations (Unreachable)
  bool no_agent_groups = false;         // agents missing from the inventory are not added (group `agents`)
  std::string callback = "off";         // the SSH callback endpoint (issue 14); "off" disables
  int callback_wait_seconds = 60;       // a callback target away this long fails its operations (Unreachable)
  std::string packages_dir;             // default <data-dir>/packages
  std::string drivers_dir;              // external action drivers; empty: none
  std::string webhooks_file;            // TOML: the http driver's named webhooks; empty: none
  std::string tasks_file;               // pipelines in servo-exec YAML; empty: none
  std::string playbooks_dir;            // /deploy runs DIR/_deploy.yml when present
  std::string data_dir = "./.steward";
  std::string server_id;  // STEWARD_SERVER_ID; else <data-dir>/server-id, created once
  std::string files_dir;  // default <data-dir>/files
  std::string audit_log;  // JSON lines; default <data-dir>/audit.jsonl; "off": the store alone
  std::string inventory;  // empty: the built-in `localhost`
  std::string store;      // empty: sqlite:<data-dir>/steward.db
  int max_connections = 64;
  bool no_auth = false;
  std::string http_allow;  // CIDR,...: REST clients from these addresses need no token
  std::string grpc_allow;  // CIDR,...: gRPC clients from these addresses need no token
  std::string tls = "off";     // "auto": a self-signed certificate in <data-dir>/tls; "off": tls_cert/tls_key decide
  std::string tls_cert;        // PEM chain; with tls_key, REST and gRPC serve TLS only
  std::string tls_key;         // PEM private key, unencrypted
  std::string grpc_client_ca;  // PEM CA certificates: gRPC clients need a certificate they signed
  std::string token;  // STEWARD_TOKEN; else <data-dir>/token
  std::string secret_key;  // STEWARD_SECRET_KEY (hex or base64 of 32 bytes); else <data-dir>/secret.key
  std::string secret_env_pattern = kDefaultSecretEnvPattern;  // environment names holding secrets
  std::string log_level = "info";
  std::string log_dir;
  std::string log_file_name = "steward.log";
  int grace_seconds = 30;
  int retention_days = 7;
  int audit_days = 90;  // 0: the store keeps every audit entry
  int idle_timeout_seconds = 60;
  int header_timeout_seconds = 10;
  int max_http_connections = 0;  // 0: three quarters of the descriptor limit
  int body_limit_kib = 1024;
  int upload_limit_mib = 4096;  // PUT /files/PATH, streamed to disk
  int condition_values_hours = 24;  // condition values older than this are deleted
  int ssh_keepalive_seconds = 15;     // keepalive interval of pooled ssh connections
  int ssh_idle_timeout_seconds = 60;  // pooled ssh connections unused this long are closed
  int hypervisor_wait_timeout = 300;  // seconds to wait for a rebooted target
  int hypervisor_wait_interval = 5;
  std::string condition_pacing = "grid";  // or "sleep" (sleep an interval after each run; for comparisons)

  bool serves_tls() const { return tls == "auto" || !tls_cert.empty(); }
};

class SettingsBinder;

// Declares the flags on `command`; call resolve() after parsing.
class ServeSettingsParser {
 public:
  explicit ServeSettingsParser(CLI::App& command);
  ~ServeSettingsParser();
  // Applies the environment and the config file to what no flag set;
  // InvalidArgument naming the file and key for a bad config.
  Result<ServeSettings> resolve();

 private:
  ServeSettings settings_;
  std::unique_ptr<SettingsBinder> binder_;
};

}  // namespace steward
