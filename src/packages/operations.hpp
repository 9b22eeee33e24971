#pragma once
// The operations that put Deputy packages on targets and take them off:
// `install` (copy the assets, run the action) and `uninstall` (remove files a
// former install recorded). Jobs, the REST API and the gRPC services all use
// them, so every install is a job on the fair scheduler.
#include <boost/json/value.hpp>

#include <chrono>
#include <map>
#include <string>

#include "core/result.hpp"
#include "ops/operation.hpp"
#include "packages/package.hpp"

namespace steward::packages {

struct InstallOptions {
  // How long and how often to wait for a target rebooted for `restarts = true`
  // (HYPERVISOR_WAIT_TIMEOUT / HYPERVISOR_WAIT_INTERVAL; see reboot.hpp).
  std::chrono::milliseconds reboot_wait_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds reboot_wait_interval{std::chrono::seconds(5)};
};

// install args: {"source": {"name", "version"}, "environment": ["K=V", ...] or {"K": "V"},
//                "content": "feature" | "inject" | "condition" (optional: the type required)}
// A condition package's assets are copied; its action is run by the condition runner, not here.
// With `restarts = true` (feature, inject) the target is rebooted after the
// action and the install ends once it answers again (see reboot.hpp).
// On success the result's `facts` is {"package", "version", "type", "installed": [paths],
// and "delete_action" when the feature has one}.
// On failure the files already copied are removed again.
// uninstall args: {"files": [absolute paths], "action": "a delete action" (optional),
//                  "environment": as for install}. The action runs first, by /bin/sh -c;
// if it fails, the files stay.
Status register_package_ops(ops::OpRegistry& registry, const Catalog& catalog, InstallOptions options);

// KEY=VALUE strings (as gRPC sends them) or an object; InvalidArgument naming the bad entry.
Result<std::map<std::string, std::string>> parse_environment(const boost::json::value* value);

}  // namespace steward::packages
