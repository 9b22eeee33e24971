#pragma once
// The text files of a callback bundle, rendered from validated inputs (see
// callback_bundle.hpp): every value put into the shell script, the unit and
// the YAML is restricted to characters that need no escaping there.
#include <string>

namespace steward::cli {

struct CallbackBundleInputs;

// The endpoint's host key for `[host]:port` (and `host` when port is 22).
std::string callback_known_hosts(const CallbackBundleInputs& in, const std::string& host_key);

// The controller key restricted to connections from this machine itself,
// which is where the tunnel delivers them.
std::string callback_authorized_keys(const std::string& controller_key);

// For --sshd: the line for the controller sshd's account, allowing the
// machine's callback key to listen on 127.0.0.1:remote_listen_port alone
// (no shell or command: a session runs /bin/false).
std::string callback_sshd_authorized_keys(const CallbackBundleInputs& in, const std::string& callback_key);

std::string callback_script(const CallbackBundleInputs& in);
std::string callback_unit(const CallbackBundleInputs& in);

struct CallbackFileTexts {
  std::string private_key;
  std::string public_key;
  std::string known_hosts;
  std::string authorized_keys;
  std::string script;
  std::string unit;
};

std::string callback_cloud_init(const CallbackBundleInputs& in, const CallbackFileTexts& files);
std::string callback_readme(const CallbackBundleInputs& in);

}  // namespace steward::cli
