#include "core/ids.hpp"

#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace steward {
namespace {

constexpr const char* kHexDigits = "0123456789abcdef";

void fill_random(unsigned char* out, std::size_t bytes) {
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(out + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
}

// (milliseconds << 12) | counter, strictly increasing within the process: a
// clock that stands still or steps back borrows from the next millisecond.
std::uint64_t next_time_and_counter() {
  static std::atomic<std::uint64_t> last{0};
  using namespace std::chrono;
  auto now_ms = static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  std::uint64_t fresh = now_ms << 12;
  std::uint64_t previous = last.load();
  std::uint64_t chosen;
  do {
    chosen = fresh > previous ? fresh : previous + 1;
  } while (!last.compare_exchange_weak(previous, chosen));
  return chosen;
}

}  // namespace

std::string new_jid() {
  unsigned char bytes[16];
  fill_random(bytes + 8, 8);
  std::uint64_t stamp = next_time_and_counter();
  std::uint64_t millis = stamp >> 12;
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(millis >> (8 * (5 - i)));
  bytes[6] = static_cast<unsigned char>(0x70 | ((stamp >> 8) & 0x0f));
  bytes[7] = static_cast<unsigned char>(stamp & 0xff);
  bytes[8] = static_cast<unsigned char>(0x80 | (bytes[8] & 0x3f));  // RFC 9562 variant
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHexDigits[bytes[i] >> 4]);
    out.push_back(kHexDigits[bytes[i] & 15]);
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  fill_random(raw.data(), bytes);
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHexDigits[c >> 4]);
    out.push_back(kHexDigits[c & 15]);
  }
  return out;
}

}  // namespace steward
