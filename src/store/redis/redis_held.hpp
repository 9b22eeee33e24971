#pragma once
// Run writes nobody awaits (results, output chunks) that failed because
// Redis was away: kept in call order, up to kHeldBytes, and written again,
// before any write called after them, once Redis answers (README "Redis").
// Work that runs through an outage is thus recorded when Redis is back.
#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "core/signal.hpp"
#include "store/redis/redis_scripts.hpp"

namespace steward::store::redis {

struct HeldWrite {
  Script script;
  std::vector<std::string> args;
  std::string jid;
  std::string target;
};

class HeldWrites {
 public:
  static constexpr std::size_t kHeldBytes = 64 << 20;

  ~HeldWrites();
  bool empty() const { return writes_.empty(); }
  // Past kHeldBytes the write is dropped, and logged.
  void hold(HeldWrite write);
  HeldWrite& front() { return writes_.front(); }
  void pop();

  // One writer at a time replays them: the others wait for it.
  bool replaying = false;
  Signal replayed;

 private:
  std::deque<HeldWrite> writes_;
  std::size_t bytes_ = 0;
  std::size_t dropped_ = 0;
};

}  // namespace steward::store::redis
