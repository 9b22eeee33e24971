#pragma once
// The server's side of file transfers, shared by every transport: reading a
// source in chunks and writing a destination under a temporary name that is
// renamed into place only once complete. Both hash what passes through.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/sha256.hpp"
#include "transport/transport.hpp"

namespace steward::transport {

constexpr std::uint32_t kDefaultFileMode = 0644;

// "dir/.name.steward-XXXXXXXX": same directory, so the rename is atomic.
std::string temporary_path_beside(const std::string& destination);

// An octal mode as written in Deputy packages and Ansible: "0644", "755",
// "0o600". InvalidArgument otherwise.
Result<std::uint32_t> parse_file_mode(std::string_view text);

class FileSource {
 public:
  // NotFound or InvalidArgument naming the path.
  static Result<std::unique_ptr<FileSource>> open(const std::string& path);
  ~FileSource();
  // The next chunk (at most `max` bytes), empty at the end.
  Result<std::string> read(std::size_t max);
  std::uint64_t bytes() const { return bytes_; }
  std::string sha256() { return hash_.hex_digest(); }

 private:
  FileSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  std::uint64_t bytes_ = 0;
  Sha256 hash_;
};

class FileSink {
 public:
  static Result<std::unique_ptr<FileSink>> create(const std::string& destination);
  ~FileSink();  // removes the temporary file unless committed
  Status write(std::string_view bytes);
  // Flushes, sets mode and owner, renames over the destination.
  Status commit(std::uint32_t mode, const std::string& owner);
  std::uint64_t bytes() const { return bytes_; }
  std::string sha256() { return hash_.hex_digest(); }

 private:
  FileSink(int fd, std::string destination, std::string temporary)
      : fd_(fd), destination_(std::move(destination)), temporary_(std::move(temporary)) {}
  int fd_;
  std::string destination_;
  std::string temporary_;
  std::uint64_t bytes_ = 0;
  bool committed_ = false;
  Sha256 hash_;
};

// "user", "user:group", or numeric ids, as chown takes them; InvalidArgument
// for anything else (it is passed to a remote shell quoted, but is checked
// here so bad input fails the same way on every transport).
Status validate_owner(const std::string& owner);

// Copies on this machine (the local transport): blocking, run it off the loop.
Result<FileOutcome> copy_file(const FileRequest& request, std::uint32_t default_mode,
                              const std::atomic<bool>& cancelled);

}  // namespace steward::transport
