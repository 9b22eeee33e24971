#include "exec/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace steward::exec {
namespace {

class FdPair {
 public:
  ~FdPair() {
    close_fd(fds_[0]);
    close_fd(fds_[1]);
  }
  bool open() { return pipe2(fds_.data(), O_CLOEXEC) == 0; }
  int take(int index) { return std::exchange(fds_[index], -1); }
  int peek(int index) const { return fds_[index]; }

 private:
  static void close_fd(int fd) {
    if (fd >= 0) ::close(fd);
  }
  std::array<int, 2> fds_{-1, -1};
};

std::vector<std::string> build_environment(const ProcessSpec& spec) {
  std::map<std::string, std::string> merged;
  if (!spec.clear_env) {
    for (char** entry = environ; entry && *entry; ++entry) {
      std::string_view text(*entry);
      auto eq = text.find('=');
      if (eq != std::string_view::npos) merged[std::string(text.substr(0, eq))] = text.substr(eq + 1);
    }
  }
  for (const auto& [key, value] : spec.env) merged[key] = value;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> as_c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

Error errno_error(const std::string& what, int err) {
  return make_error(ErrorCode::Internal, what + ": " + std::strerror(err));
}

class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

}  // namespace

Result<SpawnedChild> spawn_child(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return make_error(ErrorCode::InvalidArgument, "empty command");
  }
  struct stat st {};
  if (!spec.cwd.empty() && (::stat(spec.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
    return make_error(ErrorCode::NotFound, "working directory does not exist: " + spec.cwd);
  }
  FdPair in, out, err;
  if (!in.open() || !out.open() || !err.open()) return errno_error("pipe", errno);

  SpawnAttributes sa;
  posix_spawn_file_actions_adddup2(&sa.actions_, in.peek(0), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions_, out.peek(1), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions_, err.peek(1), STDERR_FILENO);
  // Asio opens sockets without close-on-exec; close everything else explicitly.
  posix_spawn_file_actions_addclosefrom_np(&sa.actions_, 3);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&sa.actions_, spec.cwd.c_str());

  // exec resets handled signals by itself; only ignored ones are inherited,
  // and the server ignores just SIGPIPE. Resetting all 64 would cost 64
  // syscalls per spawn while the event loop waits.
  sigset_t no_signals, ignored_by_server;
  sigemptyset(&no_signals);
  sigemptyset(&ignored_by_server);
  sigaddset(&ignored_by_server, SIGPIPE);
  posix_spawnattr_setflags(&sa.attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&sa.attr_, 0);
  posix_spawnattr_setsigmask(&sa.attr_, &no_signals);
  posix_spawnattr_setsigdefault(&sa.attr_, &ignored_by_server);

  std::vector<std::string> argv_storage = spec.argv;
  std::vector<std::string> env_storage = build_environment(spec);
  auto argv = as_c_strings(argv_storage);
  auto envp = as_c_strings(env_storage);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &sa.actions_, &sa.attr_, argv.data(), envp.data());
  if (rc != 0) {
    return make_error(rc == ENOENT || rc == EACCES ? ErrorCode::NotFound : ErrorCode::Internal,
                      "cannot run '" + spec.argv[0] + "': " + std::strerror(rc));
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int saved = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return errno_error("pidfd_open", saved);
  }
  ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  SpawnedChild child;
  child.pid = pid;
  child.pidfd = pidfd;
  child.stdin_fd = in.take(1);
  child.stdout_fd = out.take(0);
  child.stderr_fd = err.take(0);
  return child;
}

}  // namespace steward::exec
