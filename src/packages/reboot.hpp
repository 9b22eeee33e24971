#pragma once
// What `restarts = true` in a feature or inject means, as the Ranger executor
// does it: after the action, reboot the target and answer only once it
// answers again.
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

#include "core/model.hpp"
#include "ops/operation.hpp"

namespace steward::packages {

// Tried in turn, so systemd, SysV and BSD-style machines all reboot.
inline constexpr const char* kDefaultRebootCommand = "systemctl reboot || reboot || shutdown -r now";

struct RebootWait {
  // HYPERVISOR_WAIT_TIMEOUT / HYPERVISOR_WAIT_INTERVAL: the whole reboot must
  // end within `timeout`; the target is asked every `interval`.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds interval{std::chrono::seconds(5)};
};

// Runs the target's `steward_reboot_command` (default kDefaultRebootCommand)
// by /bin/sh -c; the connection dropping meanwhile is what a reboot does, not
// a failure. Then asks the target every interval until it answers after
// having been down (or with a new boot id). Changed when it is back;
// Unreachable when it did not come back in time; Failed when the command
// failed, or when a `local` target (the server's own machine) has no
// steward_reboot_command of its own.
boost::asio::awaitable<OpResult> reboot_and_wait(ops::OpContext& context, RebootWait wait);

// For an action that itself dropped the connection (a package that reboots
// on its own): waits for the target to answer again, as above.
boost::asio::awaitable<OpResult> wait_until_back(ops::OpContext& context, RebootWait wait);

}  // namespace steward::packages
