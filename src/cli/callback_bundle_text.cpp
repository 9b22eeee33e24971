#include "cli/callback_bundle_text.hpp"

#include <initializer_list>
#include <string_view>
#include <utility>

#include "cli/callback_bundle.hpp"

namespace steward::cli {
namespace {

// POSIX sh (runs under dash), indented with spaces so it can sit in a YAML
// block scalar unchanged. Every @VALUE@ is validated to need no quoting.
constexpr std::string_view kScript = R"SH(#!/bin/sh
# steward-callback.sh: the callback tunnel of steward target '@NAME@'.
#
# Keeps an SSH connection open from this machine to steward's callback
# endpoint and forwards this machine's sshd (localhost:@TARGET_PORT@) through it,
# so steward can run commands here without being able to reach this machine.
# Needs only the OpenSSH client. Reconnects forever: after 1 s, doubling up to
# 60 s, and after 1 s again once a connection has lasted more than 60 s. Logs
# to stderr (the journal under systemd).
#
# The -R spec asks the endpoint for 127.0.0.1:@LISTEN_PORT@. steward's endpoint
# ignores that address and port (it opens its channels to this machine's sshd
# itself); the controller's plain OpenSSH server (`callback add --sshd`)
# listens there, and permits this key that port alone.
#
# Environment (optional): STEWARD_CALLBACK_DIR, the folder holding callback_key
# and known_hosts (default @INSTALL_DIR@); STEWARD_CALLBACK_KEY and
# STEWARD_CALLBACK_KNOWN_HOSTS name either file elsewhere.
set -u

dir=${STEWARD_CALLBACK_DIR:-@INSTALL_DIR@}
key=${STEWARD_CALLBACK_KEY:-$dir/callback_key}
known_hosts=${STEWARD_CALLBACK_KNOWN_HOSTS:-$dir/known_hosts}
endpoint_host='@HOST@'
endpoint_port='@PORT@'
endpoint_user='@USER@'
forward='127.0.0.1:@LISTEN_PORT@:localhost:@TARGET_PORT@'
max_delay=60

log() {
  printf 'steward-callback: %s\n' "$*" >&2
}

for file in "$key" "$known_hosts"; do
  if [ ! -r "$file" ]; then
    log "cannot read $file (is STEWARD_CALLBACK_DIR the bundle's folder?)"
    exit 78  # EX_CONFIG: the unit does not restart on it
  fi
done

# ssh and sleep run in the background so that a signal is handled at once.
child=
stop() {
  if [ -n "$child" ]; then kill "$child" 2>/dev/null; fi
  log "stopped"
  exit 0
}
trap stop HUP INT TERM

delay=1
while :; do
  log "connecting to $endpoint_user@$endpoint_host port $endpoint_port, forwarding localhost:@TARGET_PORT@"
  started=$(date +%s)
  ssh -N -R "$forward" \
    -o ExitOnForwardFailure=yes \
    -o ServerAliveInterval=10 \
    -o ServerAliveCountMax=3 \
    -o ConnectTimeout=30 \
    -o BatchMode=yes \
    -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$known_hosts" \
    -o GlobalKnownHostsFile=/dev/null \
    -o CheckHostIP=no \
    -o UpdateHostKeys=no \
    -o IdentitiesOnly=yes \
    -i "$key" \
    -p "$endpoint_port" -l "$endpoint_user" "$endpoint_host" </dev/null &
  child=$!
  wait "$child"
  status=$?
  lasted=$(($(date +%s) - started))
  if [ "$lasted" -gt "$max_delay" ]; then delay=1; fi
  log "connection ended (ssh exit status $status after ${lasted}s); reconnecting in ${delay}s"
  sleep "$delay" &
  child=$!
  wait "$child"
  child=
  delay=$((delay * 2))
  if [ "$delay" -gt "$max_delay" ]; then delay=$max_delay; fi
done
)SH";

// Hardened, but ssh keeps what it needs: the network, its key and known_hosts
// (root's, read-only), /dev/null and urandom.
constexpr std::string_view kUnit = R"UNIT(# steward-callback.service: the callback tunnel of steward target '@NAME@'.
[Unit]
Description=steward callback tunnel (forwards this machine's sshd to steward)
Documentation=file://@INSTALL_DIR@/README.txt
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=/bin/sh @INSTALL_DIR@/steward-callback.sh
Restart=always
RestartSec=5
# 78: a file of the bundle is missing, restarting would not help.
RestartPreventExitStatus=78
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
)UNIT";

// Appends the controller key once, whether or not the file exists; a missing
// user is reported (cloud-init-output.log) without stopping the tunnel.
constexpr std::string_view kAuthorizeController = R"SH((
  user='@CONTROLLER_USER@'
  home=$(getent passwd "$user" | cut -d: -f6)
  if [ -z "$home" ]; then
    echo "steward-callback: user $user does not exist: steward cannot log in" >&2
    exit 1
  fi
  group=$(id -gn "$user")
  keys="$home/.ssh/authorized_keys"
  line=$(cat @INSTALL_DIR@/authorized_keys.controller)
  install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
  touch "$keys"
  grep -qxF "$line" "$keys" || printf '%s\n' "$line" >>"$keys"
  chown "$user:$group" "$keys"
  chmod 0600 "$keys"
)
)SH";

constexpr std::string_view kReadme = R"TXT(steward callback bundle for target '@NAME@'. Install by hand on the machine, as root, in this folder:
  install -d -m 0700 @INSTALL_DIR@ && install -m 0600 callback_key callback_key.pub known_hosts authorized_keys.controller @INSTALL_DIR@/ && install -m 0755 steward-callback.sh @INSTALL_DIR@/
  cat authorized_keys.controller >>~@CONTROLLER_USER@/.ssh/authorized_keys  # the user steward runs commands as (0700 .ssh, 0600 file)
  install -m 0644 steward-callback.service /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now steward-callback.service
Or give cloud-init.yaml to a new machine as its user-data: it does all of this at first boot.
)TXT";

constexpr std::string_view kSshdReadme = R"TXT(
This machine calls back to the controller's own OpenSSH server (@USER@@@HOST@ port @PORT@), which must
permit it: on the controller, as root, append authorized_keys.sshd to ~@USER@/.ssh/authorized_keys (it allows
this key nothing but listening on 127.0.0.1:@LISTEN_PORT@; steward reaches the machine there).
)TXT";

std::string fill(std::string_view text, std::initializer_list<std::pair<std::string_view, std::string>> values) {
  std::string out(text);
  for (const auto& [placeholder, value] : values) {
    for (auto at = out.find(placeholder); at != std::string::npos; at = out.find(placeholder, at + value.size())) {
      out.replace(at, placeholder.size(), value);
    }
  }
  return out;
}

// `text` as the body of a YAML literal block scalar indented by `indent`.
std::string yaml_block(std::string_view text, std::string_view indent) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(start, end - start);
    if (!line.empty()) out.append(indent).append(line);
    out += '\n';
    start = end + 1;
  }
  return out;
}

void add_write_file(std::string& yaml, const std::string& path, std::string_view permissions, std::string_view text) {
  yaml += "  - path: " + path + "\n";
  yaml += "    owner: root:root\n";
  yaml.append("    permissions: '").append(permissions).append("'\n");
  yaml += "    content: |\n";
  yaml += yaml_block(text, "      ");
}

}  // namespace

std::string callback_known_hosts(const CallbackBundleInputs& in, const std::string& host_key) {
  std::string pinned = "[" + in.endpoint_host + "]:" + std::to_string(in.endpoint_port) + " " + host_key + "\n";
  if (in.endpoint_port == 22) pinned += in.endpoint_host + " " + host_key + "\n";
  return pinned;
}

std::string callback_authorized_keys(const std::string& controller_key) {
  return "from=\"127.0.0.1,::1\" " + controller_key + "\n";
}

std::string callback_sshd_authorized_keys(const CallbackBundleInputs& in, const std::string& callback_key) {
  return "restrict,port-forwarding,permitlisten=\"127.0.0.1:" + std::to_string(in.remote_listen_port) +
         "\",command=\"/bin/false\" " + callback_key + "\n";
}

std::string callback_script(const CallbackBundleInputs& in) {
  return fill(kScript, {{"@NAME@", in.name},
                        {"@INSTALL_DIR@", kCallbackInstallDir},
                        {"@HOST@", in.endpoint_host},
                        {"@PORT@", std::to_string(in.endpoint_port)},
                        {"@USER@", in.endpoint_user},
                        {"@LISTEN_PORT@", std::to_string(in.remote_listen_port)},
                        {"@TARGET_PORT@", std::to_string(in.target_ssh_port)}});
}

std::string callback_unit(const CallbackBundleInputs& in) {
  return fill(kUnit, {{"@NAME@", in.name}, {"@INSTALL_DIR@", kCallbackInstallDir}});
}

std::string callback_cloud_init(const CallbackBundleInputs& in, const CallbackFileTexts& files) {
  const std::string dir = kCallbackInstallDir;
  std::string yaml = "#cloud-config\n# steward callback target '" + in.name +
                     "': the tunnel service and steward's key for user '" + in.controller_user +
                     "'.\n# Holds the machine's private key: keep this file secret.\nwrite_files:\n";
  add_write_file(yaml, dir + "/callback_key", "0600", files.private_key);
  add_write_file(yaml, dir + "/callback_key.pub", "0644", files.public_key);
  add_write_file(yaml, dir + "/known_hosts", "0644", files.known_hosts);
  add_write_file(yaml, dir + "/authorized_keys.controller", "0644", files.authorized_keys);
  add_write_file(yaml, dir + "/steward-callback.sh", "0755", files.script);
  add_write_file(yaml, "/etc/systemd/system/steward-callback.service", "0644", files.unit);
  yaml += "runcmd:\n";
  yaml += "  - [chmod, '0700', " + dir + "]\n";
  yaml += "  - |\n";
  yaml += yaml_block(fill(kAuthorizeController, {{"@CONTROLLER_USER@", in.controller_user}, {"@INSTALL_DIR@", dir}}),
                     "    ");
  yaml += "  - [systemctl, daemon-reload]\n";
  yaml += "  - [systemctl, enable, --now, --no-block, steward-callback.service]\n";
  return yaml;
}

std::string callback_readme(const CallbackBundleInputs& in) {
  std::string readme = fill(kReadme, {{"@NAME@", in.name},
                                      {"@INSTALL_DIR@", kCallbackInstallDir},
                                      {"@CONTROLLER_USER@", in.controller_user}});
  if (in.sshd) {
    readme += fill(kSshdReadme, {{"@USER@", in.endpoint_user},
                                 {"@HOST@", in.endpoint_host},
                                 {"@PORT@", std::to_string(in.endpoint_port)},
                                 {"@LISTEN_PORT@", std::to_string(in.remote_listen_port)}});
  }
  return readme;
}

}  // namespace steward::cli
