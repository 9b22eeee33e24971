#include "agent/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace steward::agent {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStart = ".start";
constexpr const char* kExit = ".exit";

Status sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::Internal, "cannot open " + dir + ": " + std::strerror(errno));
  int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) return make_error(ErrorCode::Internal, "cannot sync " + dir + ": " + std::strerror(errno));
  return {};
}

v1::Exit lost_exit(const std::string& id) {
  v1::Exit exit;
  exit.set_op_id(id);
  exit.set_exit_code(-1);
  exit.set_error("the agent stopped while the command ran: its result is lost (it was not started again)");
  exit.set_error_code(static_cast<int>(ErrorCode::Unreachable));
  return exit;
}

}  // namespace

bool valid_op_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

Result<Journal> Journal::open(std::string dir, std::chrono::seconds keep_results) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::Internal, "cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  Journal journal(std::move(dir), keep_results);
  std::vector<std::string> started;
  for (const auto& file : fs::directory_iterator(journal.dir_, ec)) {
    auto name = file.path().filename().string();
    auto dot = name.rfind('.');
    if (dot == std::string::npos) continue;
    std::string id = name.substr(0, dot), suffix = name.substr(dot);
    if (!valid_op_id(id)) continue;
    if (suffix == kStart) {
      journal.entries_.try_emplace(id);
      started.push_back(id);
    } else if (suffix == kExit) {
      std::ifstream in(file.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      v1::Exit exit;
      if (!exit.ParseFromString(bytes.str())) exit = lost_exit(id);
      exit.set_op_id(id);
      auto& entry = journal.entries_[id];
      entry.exit = std::move(exit);
      auto written = fs::last_write_time(file.path(), ec);
      entry.finished_at = ec ? Clock::now()
                             : std::chrono::time_point_cast<Clock::duration>(std::chrono::file_clock::to_sys(written));
    }
  }
  if (ec) return make_error(ErrorCode::Internal, "cannot read " + journal.dir_ + ": " + ec.message());
  for (const auto& id : started) {
    if (journal.entries_[id].exit) continue;
    if (auto recorded = journal.record_exit(lost_exit(id)); !recorded) return recorded.error();
  }
  return journal;
}

bool Journal::finished(const std::string& id) const {
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.exit.has_value();
}

Status Journal::write_durably(const std::string& target, const std::string& bytes) {
  std::string temporary = target + ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::Internal, "cannot write " + temporary + ": " + std::strerror(errno));
  bool written = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(temporary.c_str(), target.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return make_error(ErrorCode::Internal, "cannot write " + target + ": " + std::strerror(errno));
  }
  return sync_directory(dir_);
}

Status Journal::record_start(const std::string& id) {
  if (!valid_op_id(id)) return make_error(ErrorCode::InvalidArgument, "bad op id");
  if (auto written = write_durably(path(id, kStart), id + "\n"); !written) return written;
  entries_.try_emplace(id);
  return {};
}

Status Journal::record_exit(const v1::Exit& exit) {
  if (!valid_op_id(exit.op_id())) return make_error(ErrorCode::InvalidArgument, "bad op id");
  std::string bytes;
  exit.SerializeToString(&bytes);
  auto written = write_durably(path(exit.op_id(), kExit), bytes);
  auto& entry = entries_[exit.op_id()];
  entry.exit = exit;  // kept in memory even when the disk refused it
  entry.finished_at = Clock::now();
  return written;
}

void Journal::forget(const std::string& id) {
  if (!entries_.erase(id)) return;
  ::unlink(path(id, kExit).c_str());
  ::unlink(path(id, kStart).c_str());
}

std::size_t Journal::expire(Clock::time_point now) {
  std::vector<std::string> old;
  for (const auto& [id, entry] : entries_)
    if (entry.exit && now - entry.finished_at > keep_) old.push_back(id);
  for (const auto& id : old) forget(id);
  return old.size();
}

std::vector<v1::KnownOperation> Journal::known() const {
  std::vector<v1::KnownOperation> known;
  for (const auto& [id, entry] : entries_) {
    v1::KnownOperation op;
    op.set_op_id(id);
    op.set_state(entry.exit ? v1::KnownOperation::FINISHED : v1::KnownOperation::RUNNING);
    known.push_back(std::move(op));
  }
  return known;
}

std::vector<const v1::Exit*> Journal::unacknowledged() const {
  std::vector<std::pair<Clock::time_point, const v1::Exit*>> finished;
  for (const auto& [id, entry] : entries_)
    if (entry.exit) finished.emplace_back(entry.finished_at, &*entry.exit);
  std::sort(finished.begin(), finished.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const v1::Exit*> exits;
  for (const auto& [at, exit] : finished) exits.push_back(exit);
  return exits;
}

}  // namespace steward::agent
