#pragma once
// `deploy` (EXEd's /deploy): with a playbooks folder holding _deploy.yml, run
// one `ansible-playbook _deploy.yml` for all the targets of a job (a batch)
// and map Ansible's result for each host to an operation state as soon as the
// host is done; otherwise install the Deputy feature package named by `role`
// on each target, with extra_vars as its environment. Exclusive per host.
#include <functional>
#include <memory>
#include <string>

#include "ops/operation.hpp"

namespace steward::ops {

struct DeployOptions {
  std::string playbooks_dir;   // Ansible mode when it holds _deploy.yml
  std::string inventory_path;  // the inventory ansible-playbook reads
  std::string callback_dir;    // where steward's JSON stdout callback for Ansible lives
  const Operation* install = nullptr;                          // Deputy mode: the install operation
  std::function<Status(const std::string& role)> find_role;    // Deputy mode: NotFound for an unknown role
};

// args: {"role", "partial" (tags: a string or a list), "extra_vars" (an object)}
std::unique_ptr<Operation> make_deploy(DeployOptions options);

// Writes the callback plugin ansible-playbook reports per-host results with
// (ansible_callback.cpp).
Status write_ansible_callback(const std::string& dir);

}  // namespace steward::ops
