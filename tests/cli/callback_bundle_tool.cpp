// Test driver for e2e test_callback_bundle.py: writes a callback bundle the
// way `steward callback add` will, from key files made by ssh-keygen.
//   callback_bundle_tool DIR NAME HOST PORT HOST_KEY.pub CALLBACK_KEY CONTROLLER_KEY.pub
//                        CONTROLLER_USER TARGET_PORT ENDPOINT_USER LISTEN_PORT
// CALLBACK_KEY.pub must sit beside CALLBACK_KEY.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/callback_bundle.hpp"

namespace {

std::string read(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 12) {
    std::cerr << "usage: " << argv[0]
              << " DIR NAME HOST PORT HOST_KEY.pub CALLBACK_KEY CONTROLLER_KEY.pub CONTROLLER_USER TARGET_PORT"
                 " ENDPOINT_USER LISTEN_PORT\n";
    return 2;
  }
  steward::cli::CallbackBundleInputs in;
  in.name = argv[2];
  in.endpoint_host = argv[3];
  in.endpoint_port = std::stoi(argv[4]);
  in.endpoint_host_key = read(argv[5]);
  in.callback_private_key = read(argv[6]);
  in.callback_public_key = read(std::string(argv[6]) + ".pub");
  in.controller_public_key = read(argv[7]);
  in.controller_user = argv[8];
  in.target_ssh_port = std::stoi(argv[9]);
  in.endpoint_user = argv[10];
  in.remote_listen_port = std::stoi(argv[11]);
  auto written = steward::cli::write_callback_bundle(argv[1], in);
  if (!written) {
    std::cerr << "callback_bundle_tool: " << written.error().message << "\n";
    return 1;
  }
  return 0;
}
