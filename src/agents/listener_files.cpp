#include "agents/listener_files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/ids.hpp"
#include "tls/identity.hpp"
#include "tls/keys.hpp"

namespace steward::agents {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLink = "listener";
constexpr const char* kFolderPrefix = "listener-";

Error failure(const std::string& what, const fs::path& path, int error) {
  return make_error(ErrorCode::Internal, "agent listener certificate: cannot " + what + " " + path.string() + ": " +
                                             std::strerror(error));
}

void remove_replaced_folders(const fs::path& ca_dir, const std::string& current) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(ca_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kFolderPrefix) && name != current) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

Result<ListenerFiles> publish_listener_files(const std::string& ca_dir, const tls::Identity& identity,
                                             const std::string& ca_pem) {
  const fs::path dir(ca_dir);
  const std::string folder = kFolderPrefix + random_hex(8);
  if (::mkdir((dir / folder).c_str(), 0700) != 0) return failure("create", dir / folder, errno);
  for (const auto& [name, text] : {std::pair<const char*, const std::string&>{"server.key", identity.private_key_pem},
                                   {"server.pem", identity.certificate_chain_pem},
                                   {"ca.pem", ca_pem}}) {
    if (auto written = tls::write_private_file((dir / folder / name).string(), text); !written) return written.error();
  }
  const fs::path link = dir / kLink, temporary = dir / (std::string(kLink) + ".tmp");
  ::unlink(temporary.c_str());
  if (::symlink(folder.c_str(), temporary.c_str()) != 0) return failure("create", temporary, errno);
  if (::rename(temporary.c_str(), link.c_str()) != 0) return failure("replace", link, errno);
  remove_replaced_folders(dir, folder);
  return ListenerFiles{(link / "server.key").string(), (link / "server.pem").string(), (link / "ca.pem").string()};
}

}  // namespace steward::agents
