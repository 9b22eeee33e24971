#pragma once
// Factories of the built-in operations; builtin.cpp lists them by name.
#include <memory>

#include "ops/operation.hpp"

namespace steward::ops {

std::unique_ptr<Operation> make_ping();
std::unique_ptr<Operation> make_facter();
std::unique_ptr<Operation> make_service();
std::unique_ptr<Operation> make_execute();

}  // namespace steward::ops
