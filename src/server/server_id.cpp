#include "server/server_id.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/ids.hpp"

namespace steward::server {
namespace {

namespace fs = std::filesystem;
constexpr std::size_t kMaxLength = 64;

bool valid_id(const std::string& id) {
  return !id.empty() && id.size() <= kMaxLength && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Error invalid(const std::string& origin, const std::string& id) {
  return make_error(ErrorCode::InvalidArgument, origin + ": server id '" + id.substr(0, kMaxLength) +
                                                    "' must be 1 to 64 letters, digits, '.', '_' or '-'");
}

// Written to a temporary name and renamed, so a crash never leaves half an id.
Status write_id(const fs::path& path, const std::string& id) {
  fs::path temporary = path;
  temporary += ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::Internal, "cannot write " + temporary.string() + ": " + std::strerror(errno));
  std::string line = id + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (written) fs::rename(temporary, path, ec);
  if (!written || ec) return make_error(ErrorCode::Internal, "cannot write " + path.string());
  return {};
}

}  // namespace

Result<std::string> resolve_server_id(const std::string& configured, const std::string& data_dir) {
  if (!configured.empty()) {
    if (!valid_id(configured)) return invalid("--server-id", configured);
    return configured;
  }
  const fs::path path = fs::path(data_dir) / "server-id";
  if (std::ifstream in(path); in) {
    std::string id;
    std::getline(in, id);
    if (!valid_id(id)) return invalid(path.string(), id);
    return id;
  }
  std::string id = random_hex(8);
  if (auto written = write_id(path, id); !written) return written.error();
  return id;
}

}  // namespace steward::server
