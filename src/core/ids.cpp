#include "core/ids.hpp"

#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <vector>

namespace steward {

std::string new_jid() {
  static std::atomic<long long> last_us{0};
  using namespace std::chrono;
  long long now_us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  long long prev = last_us.load();
  long long chosen;
  do {
    chosen = now_us > prev ? now_us : prev + 1;
  } while (!last_us.compare_exchange_weak(prev, chosen));

  std::time_t secs = static_cast<std::time_t>(chosen / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d%06d", (tm.tm_year + 1900) % 10000,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(chosen % 1000000));
  return buf;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace steward
