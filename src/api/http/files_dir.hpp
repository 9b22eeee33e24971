#pragma once
// The server's files dir (--files-dir) as REST clients reach it: uploads for
// `copy`, downloads of what `fetch` brought back. A client's path is checked
// by its text (relative; no empty, "." or ".." segment) and then walked one
// directory at a time with O_NOFOLLOW, so neither ".." nor a symbolic link
// (placed there by anyone) can lead outside the root.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace steward::api::http {

// The segments of a client's path inside the files dir; InvalidArgument
// naming what is wrong (absolute, "..", ".", an empty segment, a NUL byte).
Result<std::vector<std::string>> files_dir_segments(std::string_view path);

// An open descriptor, closed with the object.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(FileHandle&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileHandle& operator=(FileHandle&& other) noexcept;
  ~FileHandle();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A file being written under a temporary name beside its destination; it
// takes the destination's name on commit() and is removed if never committed.
class Upload {
 public:
  Upload(FileHandle directory, FileHandle file, std::string temporary, std::string name)
      : directory_(std::move(directory)), file_(std::move(file)), temporary_(std::move(temporary)), name_(std::move(name)) {}
  Upload(Upload&&) = default;
  ~Upload();

  // Internal when the disk refuses (full, I/O error).
  Status write(const char* data, std::size_t size);
  Status commit();

 private:
  FileHandle directory_;
  FileHandle file_;
  std::string temporary_;
  std::string name_;
  bool committed_ = false;
};

struct ReadableFile {
  FileHandle file;
  std::uint64_t size = 0;
};

class FilesDir {
 public:
  explicit FilesDir(std::string root) : root_(std::move(root)) {}

  // Directories on the way are created (0755). InvalidArgument for a bad
  // path or a symbolic link on it; Conflict when a directory is in the way.
  Result<Upload> begin_upload(std::string_view path, std::uint32_t mode = 0644) const;
  // A regular file; NotFound when absent, InvalidArgument when it is not a
  // regular file or a symbolic link is on the way.
  Result<ReadableFile> open_file(std::string_view path) const;
  // A file, or an empty directory. NotFound when absent, Conflict for a
  // directory that is not empty.
  Status remove(std::string_view path) const;

  const std::string& root() const { return root_; }

 private:
  // The directory holding the path's last segment (created when `create`).
  Result<FileHandle> open_parent(const std::vector<std::string>& segments, std::string_view path, bool create) const;

  std::string root_;
};

}  // namespace steward::api::http
