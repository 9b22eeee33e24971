#include "core/descriptors.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace steward {

namespace {

// The kernel refuses more descriptors than fs.nr_open.
rlim_t kernel_limit() {
  std::uint64_t nr_open = 1u << 20;
  std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
  return static_cast<rlim_t>(nr_open);
}

}  // namespace

std::uint64_t descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return limit.rlim_cur == RLIM_INFINITY ? kernel_limit() : limit.rlim_cur;
}

std::uint64_t raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? kernel_limit() : limit.rlim_max;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) {
    spdlog::info("descriptor limit: {}", static_cast<std::uint64_t>(std::min(limit.rlim_cur, wanted)));
    return std::min(limit.rlim_cur, wanted);
  }
  rlimit raised{wanted, limit.rlim_max};
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    spdlog::warn("descriptor limit stays {}: cannot raise it to {}: {}", static_cast<std::uint64_t>(limit.rlim_cur),
                 static_cast<std::uint64_t>(wanted), std::strerror(errno));
    return limit.rlim_cur;
  }
  spdlog::info("descriptor limit: {} (raised from {})", static_cast<std::uint64_t>(wanted),
               static_cast<std::uint64_t>(limit.rlim_cur));
  return wanted;
}

}  // namespace steward
