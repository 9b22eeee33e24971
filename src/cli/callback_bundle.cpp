#include "cli/callback_bundle.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace steward::cli {
namespace {

namespace fs = std::filesystem;

Status write_file(const fs::path& path, const std::string& text, fs::perms mode) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) return make_error(ErrorCode::Internal, "cannot write " + path.string());
  }
  std::error_code ec;
  fs::permissions(path, mode, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot set the mode of " + path.string() + ": " + ec.message());
  return {};
}

// known_hosts names a host on port 22 bare and any other as [host]:port.
std::string known_hosts_name(const std::string& host, int port) {
  const std::string bare = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  return port == 22 ? bare : fmt::format("[{}]:{}", bare, port);
}

std::string callback_script(const CallbackBundleInputs& in) {
  const std::string host = in.endpoint_host.size() > 2 && in.endpoint_host.front() == '['
                               ? in.endpoint_host.substr(1, in.endpoint_host.size() - 2)
                               : in.endpoint_host;
  return fmt::format(R"SH(#!/bin/sh
# Calls steward back as callback target '{name}': logs in to the callback
# endpoint {host}:{port} with callback_key and forwards this machine's sshd
# through it. Steward then logs in to that sshd as {user} with the key in
# controller_key.pub (put it in ~{user}/.ssh/authorized_keys).
# STEWARD_CALLBACK_SSHD: the sshd to forward (default localhost:22).
set -eu
dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec ssh -N -o BatchMode=yes -o IdentitiesOnly=yes -i "$dir/callback_key" \
  -o UserKnownHostsFile="$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
  -o ExitOnForwardFailure=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=3 \
  -p {port} -R "22:${{STEWARD_CALLBACK_SSHD:-localhost:22}}" '{name}@{host}'
)SH",
                     fmt::arg("name", in.name), fmt::arg("host", host), fmt::arg("port", in.endpoint_port),
                     fmt::arg("user", in.controller_user));
}

}  // namespace

Status write_callback_bundle(const std::string& dir, const CallbackBundleInputs& inputs) {
  const fs::path folder(dir);
  std::error_code ec;
  if (fs::exists(folder / "callback_key", ec))
    return make_error(ErrorCode::Conflict, (folder / "callback_key").string() + " exists: choose another --out folder");
  fs::create_directories(folder, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + dir + ": " + ec.message());
  const auto private_mode = fs::perms::owner_read | fs::perms::owner_write;
  const auto public_mode = private_mode | fs::perms::group_read | fs::perms::others_read;
  const auto script_mode = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec;
  const mode_t previous = ::umask(077);  // the private key is never readable by others, not even for a moment
  Status written = write_file(folder / "callback_key", inputs.callback_private_key, private_mode);
  ::umask(previous);
  if (written) written = write_file(folder / "callback_key.pub", inputs.callback_public_key + "\n", public_mode);
  if (written) written = write_file(folder / "controller_key.pub", inputs.controller_public_key + "\n", public_mode);
  if (written)
    written = write_file(folder / "known_hosts",
                         known_hosts_name(inputs.endpoint_host, inputs.endpoint_port) + " " +
                             inputs.endpoint_host_key + "\n",
                         public_mode);
  if (written) written = write_file(folder / "steward-callback.sh", callback_script(inputs), script_mode);
  return written;
}

}  // namespace steward::cli
