#include "agent/credentials.hpp"

#include <fstream>
#include <sstream>

namespace steward::agent {
namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::NotFound, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<ClientCredentials> obtain_credentials(const EnrolSettings& settings) {
  ClientCredentials credentials;
  for (auto [name, field] : {std::pair{"ca.pem", &credentials.ca_pem}, std::pair{"agent.crt", &credentials.certificate_pem},
                             std::pair{"agent.key", &credentials.private_key_pem}}) {
    auto text = read_file(settings.state_dir + "/" + name);
    if (!text) return text.error();
    *field = std::move(*text);
  }
  return credentials;
}

}  // namespace steward::agent
