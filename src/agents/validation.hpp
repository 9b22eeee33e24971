#pragma once
// Limits on what an agent says about itself at enrolment; private to src/agents.
#include <map>
#include <string>

#include "core/result.hpp"

namespace steward::agents {

// InvalidArgument unless the hostname is 1 to 253 printable characters, the
// labels are at most 64 with keys of A-Z a-z 0-9 . _ - (1 to 63) and
// printable values up to 255 bytes, and the version is at most 64 printable bytes.
Status check_enrol_details(const std::string& hostname, const std::map<std::string, std::string>& labels,
                           const std::string& version);

}  // namespace steward::agents
