#include "cli/callback_bundle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/callback_bundle_text.hpp"
#include "core/strings.hpp"

namespace steward::cli {
namespace fs = std::filesystem;
namespace {

bool all_of(std::string_view text, std::string_view allowed) {
  return text.find_first_not_of(allowed) == std::string_view::npos;
}

constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

bool is_word(std::string_view text, std::size_t max_size, std::string_view extra) {
  const std::string allowed = std::string(kLetters) + std::string(kDigits) + std::string(extra);
  return !text.empty() && text.size() <= max_size && text.front() != '-' && text.front() != '.' &&
         all_of(text, allowed);
}

Error invalid(std::string message) { return make_error(ErrorCode::InvalidArgument, std::move(message)); }

Status check_port(int port, const char* what) {
  if (port < 1 || port > 65535) return invalid(std::string(what) + " must be 1 to 65535, not " + std::to_string(port));
  return {};
}

// "TYPE BASE64 [COMMENT]" on one line of printable characters; the line
// without surrounding space, or nullopt. With `keep_comment` false, the
// comment is dropped (known_hosts gets only the key).
std::optional<std::string> public_key_line(std::string_view text, bool keep_comment) {
  const std::string line = trim(text);
  if (std::any_of(line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return std::nullopt;
  }
  const auto type_end = line.find(' ');
  if (type_end == std::string::npos) return std::nullopt;
  const std::string_view type(line.data(), type_end);
  auto blob_end = line.find(' ', type_end + 1);
  if (blob_end == std::string::npos) blob_end = line.size();
  const std::string_view blob(line.data() + type_end + 1, blob_end - type_end - 1);
  if (!is_word(type, 64, "-@.") || blob.size() < 16 || !all_of(blob, kBase64)) return std::nullopt;
  return keep_comment ? line : line.substr(0, blob_end);
}

// An unencrypted PEM private key (OpenSSH's or PKCS#8), ending in a newline.
std::optional<std::string> private_key_text(std::string_view text) {
  const std::string key = trim(text);
  const auto lines = split_nonempty(key, '\n');
  if (lines.size() < 3) return std::nullopt;
  const std::string& begin = lines.front();
  const std::string& end = lines.back();
  constexpr std::string_view kBegin = "-----BEGIN ", kEnd = "-----END ", kTail = "PRIVATE KEY-----";
  if (!begin.starts_with(kBegin) || !begin.ends_with(kTail) ||
      end != std::string(kEnd) + begin.substr(kBegin.size())) {
    return std::nullopt;
  }
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    if (!all_of(lines[i], kBase64)) return std::nullopt;  // also refuses encrypted PEM headers
  }
  return key + "\n";
}

// What the bundle needs beyond the inputs, checked first so that nothing is
// written for bad input. Messages name the field, never a key's text.
struct CheckedKeys {
  std::string host_key;
  std::string private_key;
  std::string public_key;
  std::string controller_key;
};

Result<CheckedKeys> check_inputs(const CallbackBundleInputs& in) {
  if (!is_word(in.name, 64, "._-")) return invalid("callback target name: use 1 to 64 of A-Z a-z 0-9 . _ -");
  if (!is_word(in.endpoint_host, 253, ".-:")) {
    return invalid("callback endpoint host: a host name or IP address (A-Z a-z 0-9 . - :), not '" +
                   to_valid_utf8(in.endpoint_host.substr(0, 80)) + "'");
  }
  for (auto status : {check_port(in.endpoint_port, "callback endpoint port"),
                      check_port(in.target_ssh_port, "target ssh port"),
                      check_port(in.remote_listen_port, "remote listen port")}) {
    if (!status) return status.error();
  }
  if (!is_word(in.controller_user, 32, "._-")) return invalid("controller user: a user name of A-Z a-z 0-9 . _ -");
  if (!is_word(in.endpoint_user, 32, "._-")) return invalid("endpoint user: a user name of A-Z a-z 0-9 . _ -");
  CheckedKeys keys;
  auto host_key = public_key_line(in.endpoint_host_key, false);
  if (!host_key) return invalid("callback endpoint host key: not one 'TYPE BASE64' public key line");
  auto private_key = private_key_text(in.callback_private_key);
  if (!private_key) return invalid("callback private key: not an unencrypted PEM private key");
  auto public_key = public_key_line(in.callback_public_key, true);
  if (!public_key) return invalid("callback public key: not one 'TYPE BASE64 [COMMENT]' public key line");
  auto controller_key = public_key_line(in.controller_public_key, true);
  if (!controller_key) return invalid("controller public key: not one 'TYPE BASE64 [COMMENT]' public key line");
  return CheckedKeys{*host_key, *private_key, *public_key, *controller_key};
}

Status io_failure(const std::string& what, const fs::path& path, int error) {
  return make_error(ErrorCode::Internal, "cannot " + what + " " + path.string() + ": " + std::strerror(error));
}

// The bundle directory, 0700, which must be new or empty.
Status prepare_directory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    if (!fs::is_empty(dir, ec) || ec) {
      return make_error(ErrorCode::Conflict, dir.string() + " is not empty: a callback bundle is never overwritten");
    }
  } else {
    if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0) return io_failure("create", dir, errno);
  }
  if (::chmod(dir.c_str(), 0700) != 0) return io_failure("set the mode of", dir, errno);
  return {};
}

// A new file (never through a symlink, never replacing one) with `mode`.
Status write_new_file(const fs::path& path, std::string_view text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return io_failure("create", path, errno);
  std::size_t done = 0;
  int error = 0;
  while (done < text.size() && error == 0) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n > 0) done += static_cast<std::size_t>(n);
    else if (errno != EINTR) error = errno;
  }
  if (error == 0 && ::fchmod(fd, mode) != 0) error = errno;  // the umask may have narrowed `mode`
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0) return {};
  ::unlink(path.c_str());
  return io_failure("write", path, error);
}

struct BundleFile {
  const char* name;
  std::string text;
  mode_t mode;
};

std::vector<BundleFile> render(const CallbackBundleInputs& in, CheckedKeys keys) {
  CallbackFileTexts texts{std::move(keys.private_key),
                          keys.public_key + "\n",
                          callback_known_hosts(in, keys.host_key),
                          callback_authorized_keys(keys.controller_key),
                          callback_script(in),
                          callback_unit(in)};
  std::string cloud_init = callback_cloud_init(in, texts);
  std::vector<BundleFile> files;
  files.push_back({"callback_key", std::move(texts.private_key), 0600});
  files.push_back({"callback_key.pub", std::move(texts.public_key), 0644});
  files.push_back({"known_hosts", std::move(texts.known_hosts), 0644});
  files.push_back({"authorized_keys.controller", std::move(texts.authorized_keys), 0644});
  files.push_back({"steward-callback.sh", std::move(texts.script), 0755});
  files.push_back({"steward-callback.service", std::move(texts.unit), 0644});
  files.push_back({"cloud-init.yaml", std::move(cloud_init), 0600});
  files.push_back({"README.txt", callback_readme(in), 0644});
  if (in.sshd) files.push_back({"authorized_keys.sshd", callback_sshd_authorized_keys(in, keys.public_key), 0644});
  return files;
}

}  // namespace

Status write_callback_bundle(const fs::path& dir, const CallbackBundleInputs& in) {
  auto keys = check_inputs(in);
  if (!keys) return keys.error();
  const auto files = render(in, std::move(*keys));
  if (auto prepared = prepare_directory(dir); !prepared) return prepared;
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto written = write_new_file(dir / files[i].name, files[i].text, files[i].mode);
    if (!written) {
      // No half bundle (it would also block the next attempt): what this
      // call wrote goes again; the directory stays, empty.
      for (std::size_t j = 0; j < i; ++j) ::unlink((dir / files[j].name).c_str());
      return written;
    }
  }
  return {};
}

}  // namespace steward::cli
