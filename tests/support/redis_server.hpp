#pragma once
// Debian's real redis-server for a test: its own config in a folder of the
// test (no TCP port, a unix socket, AOF on with fsync on every write, no RDB
// snapshots), started and stopped by the test. kill() is a SIGKILL;
// start() again on the same folder replays the AOF.
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

extern char** environ;

namespace steward::testing {

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";
  static bool installed() { return ::access(kBinary, X_OK) == 0; }

  // The socket lives in the temp folder under a short name: a test folder
  // may be longer than a unix socket path can be (108 bytes).
  explicit RedisServer(std::filesystem::path dir)
      : dir_(std::move(dir)),
        socket_path_((std::filesystem::temp_directory_path() /
                      ("steward-redis-" + std::to_string(::getpid()) + "-" + std::to_string(next_id()) + ".sock"))
                         .string()) {}
  ~RedisServer() {
    stop();
    std::filesystem::remove(socket_path_);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  std::string url() const { return "unix://" + socket_path(); }

  // Lines added to the config, e.g. "requirepass secret".
  void set_extra_config(std::string lines) { extra_config_ = std::move(lines); }

  // True once it answers PING (its AOF loaded; with a password, NOAUTH counts).
  bool start() {
    std::filesystem::create_directories(dir_);
    const auto config = dir_ / "redis.conf";
    std::ofstream(config) << "port 0\nunixsocket " << socket_path() << "\nunixsocketperm 700\n"
                          << "appendonly yes\nappendfsync always\nsave \"\"\ndir " << dir_.string() << "\n"
                          << "logfile " << (dir_ / "redis.log").string() << "\ndaemonize no\n"
                          << extra_config_ << "\n";
    std::string binary = kBinary, config_path = config.string();
    char* argv[] = {binary.data(), config_path.data(), nullptr};
    if (::posix_spawn(&pid_, kBinary, nullptr, nullptr, argv, environ) != 0) return false;
    for (int i = 0; i < 500; ++i) {
      if (answers_ping()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  void kill() { end(SIGKILL); }
  void stop() { end(SIGTERM); }
  // SIGSTOP: it keeps its connections and answers nothing until resume().
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  void end(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    ::kill(pid_, SIGCONT);  // a paused server takes its signal too
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  bool answers_ping() const {
    const std::string reply = inline_command("PING");
    return reply.rfind("+PONG", 0) == 0 || reply.rfind("-NOAUTH", 0) == 0;
  }

 public:
  // One inline command ("SCRIPT FLUSH") on a connection of its own; the
  // start of the reply, or "" when it could not be sent.
  std::string inline_command(const std::string& line) const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path().c_str(), sizeof(address.sun_path) - 1);
    const std::string request = line + "\r\n";
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[256] = {};
      if (::recv(fd, buffer, sizeof buffer - 1, 0) > 0) reply = buffer;
    }
    ::close(fd);
    return reply;
  }

 private:

  static int next_id() {
    static int id = 0;
    return ++id;
  }

  std::filesystem::path dir_;
  std::string socket_path_;
  std::string extra_config_;
  pid_t pid_ = -1;
};

}  // namespace steward::testing
