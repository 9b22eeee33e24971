#pragma once
// What `steward callback add` writes for a VM (issue 14): its callback key
// pair, the controller's public key for authorized_keys, a known_hosts line
// pinning the callback endpoint and a script that calls back. One function
// with one struct of inputs, so a fuller generator can take its place.
#include <string>

#include "core/result.hpp"

namespace steward::cli {

struct CallbackBundleInputs {
  std::string name;                  // the target's registered name
  std::string endpoint_host;         // where the VM dials the callback endpoint
  int endpoint_port = 0;
  std::string endpoint_host_key;     // "ssh-ed25519 AAAA..."
  std::string callback_private_key;  // the VM's key (OpenSSH text): written 0600, nowhere else
  std::string callback_public_key;
  std::string controller_public_key;  // goes to CONTROLLER_USER's authorized_keys on the VM
  std::string controller_user;
};

// Writes into `dir` (created 0700 when missing): callback_key (0600),
// callback_key.pub, controller_key.pub, known_hosts and steward-callback.sh
// (0755). Conflict when dir already holds a callback_key.
Status write_callback_bundle(const std::string& dir, const CallbackBundleInputs& inputs);

}  // namespace steward::cli
