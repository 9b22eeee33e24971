#pragma once
// The bundle `steward callback add NAME` hands over for a machine that calls
// home: everything the machine needs, with nothing but OpenSSH installed, to
// open an SSH connection to steward's callback endpoint and forward its own
// sshd through it (issue 14, the "machine callback" design).
#include <filesystem>
#include <string>

#include "core/result.hpp"

namespace steward::cli {

struct CallbackBundleInputs {
  std::string name;               // the target's name in steward (A-Z a-z 0-9 . _ -)
  std::string endpoint_host;      // where the machine connects: a host name or IP address
  int endpoint_port = 0;          // the callback endpoint's port
  std::string endpoint_host_key;  // the endpoint's host key: one "ssh-ed25519 AAAA..." line
  std::string callback_private_key;  // the machine's key (OpenSSH PEM text): a secret
  std::string callback_public_key;   // its public line, registered with steward
  std::string controller_public_key;  // steward's key for running commands on the machine
  std::string controller_user;        // the machine's user steward runs commands as
  int target_ssh_port = 22;           // the machine's sshd, forwarded from localhost
  // The user name and the -R bind port the machine asks the endpoint for.
  // steward's endpoint ignores both (it opens the forwarded channels itself);
  // a plain OpenSSH server as the endpoint (issue 14's literal variant)
  // listens on 127.0.0.1:remote_listen_port for the user's account.
  std::string endpoint_user = "callback";
  int remote_listen_port = 22;
  // The endpoint is the controller's plain OpenSSH server (`callback add
  // --sshd`): the bundle also holds authorized_keys.sshd, the restricted
  // line for endpoint_user's account there.
  bool sshd = false;
};

// The directory the bundle is meant to be installed in on the machine; the
// script and unit read their files from there.
inline constexpr const char* kCallbackInstallDir = "/etc/steward-callback";

// Writes the bundle into `dir` (created 0700 if absent; an existing directory
// must be empty, so a bundle is never overwritten):
//   callback_key (0600), callback_key.pub, known_hosts (the endpoint's key
//   pinned), authorized_keys.controller, steward-callback.sh (0755),
//   steward-callback.service, cloud-init.yaml (0600: it holds the key), README.txt;
//   with `sshd`, authorized_keys.sshd too (for the controller's sshd).
// InvalidArgument for malformed inputs (never quoting a key), Conflict for a
// non-empty directory, Internal when a file cannot be written (what was
// written is removed again).
Status write_callback_bundle(const std::filesystem::path& dir, const CallbackBundleInputs& in);

}  // namespace steward::cli
