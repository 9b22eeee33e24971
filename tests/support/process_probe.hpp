#pragma once
// Whether a process a test started is still there, for checks that a kill
// reached it. A zombie nobody reaped yet counts as gone.
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace steward::testing {

inline bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  return stat.empty() || (close != std::string::npos && stat.size() > close + 2 && stat[close + 2] == 'Z');
}

// A killed process may linger a moment: alive only if it is still there after about 2 s.
inline bool process_alive(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    if (process_gone(pid)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace steward::testing
