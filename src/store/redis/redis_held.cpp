#include "store/redis/redis_held.hpp"

#include <spdlog/spdlog.h>

#include <numeric>

namespace steward::store::redis {
namespace {

std::size_t size_of(const HeldWrite& write) {
  return std::accumulate(write.args.begin(), write.args.end(), std::size_t{0},
                         [](std::size_t sum, const std::string& arg) { return sum + arg.size(); });
}

}  // namespace

HeldWrites::~HeldWrites() {
  if (!writes_.empty()) spdlog::error("{} run writes held while Redis was away were never recorded", writes_.size());
}

void HeldWrites::hold(HeldWrite write) {
  const std::size_t size = size_of(write);
  if (bytes_ + size > kHeldBytes) {
    if (dropped_++ % 1000 == 0)
      spdlog::error("job {}: a write for {} is lost: {} MiB of writes already wait for Redis ({} lost so far)",
                    write.jid, write.target, kHeldBytes >> 20, dropped_);
    return;
  }
  if (writes_.empty()) spdlog::warn("Redis is away: run results and output are held until it is back");
  bytes_ += size;
  writes_.push_back(std::move(write));
}

void HeldWrites::pop() {
  bytes_ -= size_of(writes_.front());
  writes_.pop_front();
}

}  // namespace steward::store::redis
