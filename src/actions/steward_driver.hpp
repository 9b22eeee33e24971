#pragma once
// The built-in `steward` service: steward's operations as named actions,
// each call creating a job (the action's result is {"jid"}).
#include <memory>

#include "actions/driver.hpp"

namespace steward {
namespace jobs { class JobService; }
namespace inventory { class Inventory; }
}  // namespace steward

namespace steward::actions {

std::unique_ptr<Driver> make_steward_driver(jobs::JobService& jobs, const inventory::Inventory& inventory);

}  // namespace steward::actions
