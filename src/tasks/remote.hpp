#pragma once
// `target:` tasks: the command runs on every inventory target the pattern
// matches, all at once, through the targets' transports.
#include "tasks/runner.hpp"

namespace steward {
namespace inventory { class Inventory; }
namespace transport { class TransportRegistry; }
}  // namespace steward

namespace steward::tasks {

// Both must outlive every run that uses the callback.
RemoteExec remote_exec_on(const inventory::Inventory& inventory, const transport::TransportRegistry& transports);

}  // namespace steward::tasks
