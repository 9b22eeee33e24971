#include "api/http/files_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace steward::api::http {
namespace {

std::string quoted(std::string_view path) { return "'" + std::string(path) + "'"; }

Error system_error(std::string_view path, const char* what, int error) {
  const std::string text = quoted(path) + ": " + what + ": " + std::strerror(error);
  if (error == ENOENT) return make_error(ErrorCode::NotFound, "no such file in the files dir: " + quoted(path));
  if (error == ELOOP) return make_error(ErrorCode::InvalidArgument, quoted(path) + ": a symbolic link is on the way (links in the files dir are not followed)");
  if (error == EISDIR || error == EEXIST || error == ENOTEMPTY || error == ENOTDIR) return make_error(ErrorCode::Conflict, text);
  return make_error(ErrorCode::Internal, text);
}

// O_DIRECTORY | O_NOFOLLOW on a link says ENOTDIR; ELOOP names the link.
int link_or(int directory, const char* name, int error) {
  struct stat status {};
  if (::fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(status.st_mode)) return ELOOP;
  return error;
}

std::string temporary_name(const std::string& name) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return "." + name.substr(0, 64) + ".upload-" + std::to_string(random());
}

}  // namespace

Result<std::vector<std::string>> files_dir_segments(std::string_view path) {
  auto invalid = [&](const std::string& why) {
    return make_error(ErrorCode::InvalidArgument, "path " + quoted(path) + " in the files dir: " + why);
  };
  if (path.empty()) return invalid("it is empty");
  if (path.find('\0') != std::string_view::npos) return invalid("it holds a NUL byte");
  if (path.front() == '/') return invalid("an absolute path is not allowed (give it relative to the files dir)");
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto segment = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty()) return invalid("an empty segment ('//' or a trailing '/') is not allowed");
    if (segment == "..") return invalid("'..' is not allowed (the path must stay inside the files dir)");
    if (segment == ".") return invalid("'.' is not allowed");
    segments.emplace_back(segment);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

Upload::~Upload() {
  if (!committed_ && directory_) ::unlinkat(directory_.get(), temporary_.c_str(), 0);
}

Status Upload::write(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(file_.get(), data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorCode::Internal, "writing " + quoted(name_) + " failed: " + std::strerror(errno));
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

Status Upload::commit() {
  if (::fsync(file_.get()) != 0) return system_error(name_, "fsync", errno);
  if (::renameat(directory_.get(), temporary_.c_str(), directory_.get(), name_.c_str()) != 0)
    return system_error(name_, "rename", errno);
  committed_ = true;
  return {};
}

Result<FileHandle> FilesDir::open_parent(const std::vector<std::string>& segments, std::string_view path,
                                         bool create) const {
  FileHandle directory(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory) return system_error(root_, "open the files dir", errno);
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    const char* name = segments[i].c_str();
    if (create && ::mkdirat(directory.get(), name, 0755) != 0 && errno != EEXIST) return system_error(path, "mkdir", errno);
    FileHandle next(::openat(directory.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return system_error(path, "open a directory on the way", link_or(directory.get(), name, errno));
    directory = std::move(next);
  }
  return directory;
}

Result<Upload> FilesDir::begin_upload(std::string_view path, std::uint32_t mode) const {
  auto segments = files_dir_segments(path);
  if (!segments) return segments.error();
  auto directory = open_parent(*segments, path, true);
  if (!directory) return directory.error();
  const std::string& name = segments->back();
  struct stat existing {};
  if (::fstatat(directory->get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(existing.st_mode))
    return make_error(ErrorCode::Conflict, quoted(path) + " is a directory in the files dir");
  const std::string temporary = temporary_name(name);
  FileHandle file(::openat(directory->get(), temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!file) return system_error(path, "create", errno);
  return Upload(std::move(*directory), std::move(file), temporary, name);
}

Result<ReadableFile> FilesDir::open_file(std::string_view path) const {
  auto segments = files_dir_segments(path);
  if (!segments) return segments.error();
  auto directory = open_parent(*segments, path, false);
  if (!directory) return directory.error();
  // O_NONBLOCK: a FIFO put there must not hang the open.
  FileHandle file(::openat(directory->get(), segments->back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!file) return system_error(path, "open", errno);
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) return system_error(path, "stat", errno);
  if (!S_ISREG(status.st_mode)) return make_error(ErrorCode::InvalidArgument, quoted(path) + " is not a regular file");
  return ReadableFile{std::move(file), static_cast<std::uint64_t>(status.st_size)};
}

Status FilesDir::remove(std::string_view path) const {
  auto segments = files_dir_segments(path);
  if (!segments) return segments.error();
  auto directory = open_parent(*segments, path, false);
  if (!directory) return directory.error();
  const char* name = segments->back().c_str();
  struct stat status {};
  if (::fstatat(directory->get(), name, &status, AT_SYMLINK_NOFOLLOW) != 0) return system_error(path, "stat", errno);
  if (::unlinkat(directory->get(), name, S_ISDIR(status.st_mode) ? AT_REMOVEDIR : 0) != 0)
    return system_error(path, "remove", errno);
  return {};
}

}  // namespace steward::api::http
