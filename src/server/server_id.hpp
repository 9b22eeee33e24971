#pragma once
// The id a server goes by among servers sharing a store (the owner of the
// runs it leases, issue 15).
#include <string>

#include "core/result.hpp"

namespace steward::server {

// `configured` (--server-id, STEWARD_SERVER_ID) when not empty; else the id
// in <data_dir>/server-id, created (random, mode 0600) on the first start and
// the same on every later one. InvalidArgument for an id that is not 1 to 64
// letters, digits, '.', '_' or '-'.
Result<std::string> resolve_server_id(const std::string& configured, const std::string& data_dir);

}  // namespace steward::server
