#pragma once
// Test support: the real qemu-ga (Debian's qemu-guest-agent) in the
// foreground on a unix socket in a temporary directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace steward::transport::qga_testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kQemuGa = "/usr/sbin/qemu-ga";

inline std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A connected unix stream socket to `socket_path`, or -1.
inline int connect_unix(const std::string& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
  ::close(fd);
  return -1;
}

inline bool can_connect(const std::string& socket_path) {
  int fd = connect_unix(socket_path);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// One qemu-ga process in the foreground, as a test's guest agent.
class QemuGa {
 public:
  explicit QemuGa(fs::path dir) : dir_(std::move(dir)) {}
  ~QemuGa() { stop(); }

  std::string socket() const { return (dir_ / "qga.sock").string(); }

  void start() {
    ASSERT_EQ(pid_, -1);
    std::string socket_path = socket(), state = dir_.string(), pidfile = (dir_ / "qga.pid").string(),
                log = (dir_ / "qga.log").string();
    std::vector<std::string> args{kQemuGa, "-m", "unix-listen", "-p", socket_path, "-t", state, "-f", pidfile};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int rc = ::posix_spawn(&pid_, kQemuGa, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0) << "cannot start " << kQemuGa;
    ASSERT_TRUE(wait_until([&] { return can_connect(socket_path); }, 5s)) << read_file(log);
  }

  // qemu-ga 7.2 can deadlock in its own SIGTERM handler (it calls
  // g_main_loop_quit from the handler, racing its main loop), so a TERM
  // that goes unheeded is followed by KILL.
  void stop(int signal = SIGTERM) {
    if (pid_ == -1) return;
    ::kill(pid_, signal);
    if (!wait_until([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, 2s)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
};

}  // namespace steward::transport::qga_testing
