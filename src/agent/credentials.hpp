#pragma once
// The agent's TLS credentials: the saved ones from its state dir, or new
// ones from an enrolment (CSR + join token, the server's CA pinned by hash).
#include <map>
#include <string>

#include "agent/dial.hpp"
#include "core/result.hpp"

namespace steward::agent {

struct EnrolSettings {
  std::string server;
  std::string join_token;
  std::string ca_pin;
  std::string state_dir;
  std::string hostname;  // gethostname() when empty
  std::map<std::string, std::string> labels;
};

Result<ClientCredentials> obtain_credentials(const EnrolSettings& settings);

}  // namespace steward::agent
