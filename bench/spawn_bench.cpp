// spawn_bench THREADS PER_THREAD [PROGRAM ARGS...]: spawns PROGRAM (default
// /bin/true) with posix_spawn + waitpid, as fast as possible, from THREADS
// threads. Prints JSON: spawns per second and microseconds per spawn. The
// server's own cost per job is reported against this floor.
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  int per_thread = argc > 2 ? std::atoi(argv[2]) : 2000;
  std::vector<char*> command(argv + std::min(argc, 3), argv + argc);
  if (command.empty()) command.push_back(const_cast<char*>("/bin/true"));
  command.push_back(nullptr);
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([per_thread, &command] {
      for (int i = 0; i < per_thread; ++i) {
        pid_t pid;
        if (posix_spawn(&pid, command[0], nullptr, nullptr, command.data(), environ) != 0) std::abort();
        int status;
        waitpid(pid, &status, 0);
      }
    });
  }
  for (auto& w : workers) w.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double total = static_cast<double>(threads) * per_thread;
  std::printf("{\"threads\": %d, \"spawns\": %.0f, \"seconds\": %.3f, \"per_second\": %.1f, \"us_per_spawn\": %.1f}\n",
              threads, total, seconds, total / seconds, seconds / total * 1e6);
}
