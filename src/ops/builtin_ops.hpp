#pragma once
// Factories of the built-in operations; builtin.cpp lists them by name.
#include <memory>
#include <string>

#include "ops/operation.hpp"

namespace steward::ops {

std::unique_ptr<Operation> make_ping();
std::unique_ptr<Operation> make_facter();
std::unique_ptr<Operation> make_service();
std::unique_ptr<Operation> make_execute();
std::unique_ptr<Operation> make_copy(std::string files_root);
std::unique_ptr<Operation> make_fetch(std::string files_root);

}  // namespace steward::ops
