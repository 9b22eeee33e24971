#include "transport/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <regex>

namespace steward::transport {

namespace {

constexpr std::size_t kCopyChunk = 256 * 1024;

Error io_error(const std::string& what, const std::string& path, int error_number) {
  return make_error(error_number == ENOENT ? ErrorCode::NotFound : ErrorCode::InvalidArgument,
                    fmt::format("{} {}: {}", what, path, std::strerror(error_number)));
}

// A user or group by name, or by number as chown also takes it.
template <typename Id, typename Lookup>
Result<Id> resolve_id(const std::string& name, Lookup lookup, const char* kind) {
  if (name.empty()) return static_cast<Id>(-1);  // "leave as is" for fchown
  if (auto id = lookup(name)) return *id;
  unsigned long number = 0;
  auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (error == std::errc() && end == name.data() + name.size() && number < 0xffffffffUL)
    return static_cast<Id>(number);
  return make_error(ErrorCode::InvalidArgument, fmt::format("no such {}: {}", kind, name));
}

Result<std::pair<uid_t, gid_t>> resolve_owner(const std::string& owner) {
  static std::mutex lookups;  // getpwnam and getgrnam share static buffers; copies run on several threads
  std::lock_guard lock(lookups);
  auto colon = owner.find(':');
  auto uid = resolve_id<uid_t>(
      owner.substr(0, colon),
      [](const std::string& name) -> std::optional<uid_t> {
        auto* entry = ::getpwnam(name.c_str());
        return entry ? std::optional(entry->pw_uid) : std::nullopt;
      },
      "user");
  if (!uid) return uid.error();
  auto gid = resolve_id<gid_t>(
      colon == std::string::npos ? "" : owner.substr(colon + 1),
      [](const std::string& name) -> std::optional<gid_t> {
        auto* entry = ::getgrnam(name.c_str());
        return entry ? std::optional(entry->gr_gid) : std::nullopt;
      },
      "group");
  if (!gid) return gid.error();
  return std::make_pair(*uid, *gid);
}

}  // namespace

Result<std::uint32_t> parse_file_mode(std::string_view text) {
  std::string_view digits = text.starts_with("0o") ? text.substr(2) : text;
  std::uint32_t mode = 0;
  bool valid = !digits.empty() && digits.size() <= 5;
  for (char digit : digits) {
    if (digit < '0' || digit > '7') valid = false;
    mode = mode * 8 + static_cast<std::uint32_t>(digit - '0');
  }
  if (!valid || mode > 07777)
    return make_error(ErrorCode::InvalidArgument,
                      "mode '" + std::string(text) + "' is not an octal mode such as \"0644\" or \"755\"");
  return mode;
}

std::string temporary_path_beside(const std::string& destination) {
  auto slash = destination.rfind('/');
  std::string dir = slash == std::string::npos ? "" : destination.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? destination : destination.substr(slash + 1);
  thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{}.{}.steward-{:08x}", dir, name, static_cast<std::uint32_t>(random()));
}

Status validate_owner(const std::string& owner) {
  static const std::regex kOwner("[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?|:[A-Za-z0-9_][A-Za-z0-9_.-]*");
  if (owner.empty() || std::regex_match(owner, kOwner)) return {};
  return make_error(ErrorCode::InvalidArgument, "'owner' must be user, user:group or :group, not '" + owner + "'");
}

// What a file that is not a regular one is, for the error message.
static const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one,
// forever. The kind is checked on the open descriptor (fstat), not on the
// path before opening, so a file swapped in between cannot slip through.
Result<std::unique_ptr<FileSource>> FileSource::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return io_error("cannot read", path, errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int error_number = errno;
    ::close(fd);
    return io_error("cannot read", path, error_number);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("cannot copy {}: it is {}, only regular files can be copied", path, file_kind(info.st_mode)));
  }
  return std::unique_ptr<FileSource>(new FileSource(fd, path));
}

FileSource::~FileSource() { ::close(fd_); }

Result<std::string> FileSource::read(std::size_t max) {
  std::string chunk(max, '\0');
  ssize_t got;
  do {
    got = ::read(fd_, chunk.data(), max);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return io_error("cannot read", path_, errno);
  chunk.resize(static_cast<std::size_t>(got));
  hash_.update(chunk);
  bytes_ += chunk.size();
  return chunk;
}

Result<std::unique_ptr<FileSink>> FileSink::create(const std::string& destination) {
  std::string temporary = temporary_path_beside(destination);
  // O_EXCL: always a new regular file, never an existing FIFO or device.
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NONBLOCK, 0600);
  if (fd < 0) return io_error("cannot create", temporary, errno);
  return std::unique_ptr<FileSink>(new FileSink(fd, destination, std::move(temporary)));
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temporary_.c_str());
}

Status FileSink::write(std::string_view bytes) {
  hash_.update(bytes);
  bytes_ += bytes.size();
  while (!bytes.empty()) {
    ssize_t written = ::write(fd_, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return io_error("cannot write", temporary_, errno);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

Status FileSink::commit(std::uint32_t mode, const std::string& owner) {
  if (!owner.empty()) {
    auto ids = resolve_owner(owner);
    if (!ids) return ids.error();
    if (::fchown(fd_, ids->first, ids->second) != 0) return io_error("cannot change the owner of", temporary_, errno);
  }
  if (::fchmod(fd_, mode & 07777) != 0) return io_error("cannot set the mode of", temporary_, errno);
  if (::fsync(fd_) != 0) return io_error("cannot flush", temporary_, errno);
  ::close(fd_);
  fd_ = -1;
  if (::rename(temporary_.c_str(), destination_.c_str()) != 0) return io_error("cannot rename onto", destination_, errno);
  committed_ = true;
  return {};
}

Result<FileOutcome> copy_file(const FileRequest& request, std::uint32_t default_mode,
                              const std::atomic<bool>& cancelled) {
  if (auto owner = validate_owner(request.owner); !owner) return owner.error();
  auto source = FileSource::open(request.source);
  if (!source) return source.error();
  auto sink = FileSink::create(request.destination);
  if (!sink) return sink.error();
  for (;;) {
    if (cancelled) return make_error(ErrorCode::Cancelled, "cancelled");
    auto chunk = (*source)->read(kCopyChunk);
    if (!chunk) return chunk.error();
    if (chunk->empty()) break;
    if (auto written = (*sink)->write(*chunk); !written) return written.error();
  }
  FileOutcome outcome{(*sink)->bytes(), (*sink)->sha256()};  // what was written
  if (auto done = (*sink)->commit(request.mode.value_or(default_mode), request.owner); !done) return done.error();
  return outcome;
}

}  // namespace steward::transport
