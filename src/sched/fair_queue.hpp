#pragma once
// The scheduling decision, free of I/O so its fairness can be tested directly.
//
// Rules (DESIGN "Scheduler rules"):
// - a target runs at most `max_sessions` items at once;
// - within a target, items that have run fewer times go first, then oldest;
// - across targets, the head with the fewest runs goes first, and among equals
//   the target served least recently, so deep queues are served round-robin.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "core/clock.hpp"

namespace steward::sched {

template <typename Payload>
struct QueuedItem {
  std::string target;
  int max_sessions = 1;
  std::uint64_t runs = 0;  // times this (repeating) work has run before; 0 for one-shot work
  SteadyTime submitted{};
  std::uint64_t seq = 0;  // set by the queue
  Payload payload{};
};

template <typename Payload>
class FairQueue {
 public:
  using Item = QueuedItem<Payload>;

  void push(Item item) {
    item.seq = next_seq_++;
    auto& queue = targets_[item.target];
    unmark(queue);
    queue.max_sessions = std::max(1, item.max_sessions);
    queue.waiting.emplace(std::make_pair(item.runs, item.seq), std::move(item));
    ++waiting_;
    mark(queue.waiting.begin()->second.target, queue);
  }

  // The next item allowed to start, if any; the caller must call finished()
  // for its target when it ends.
  std::optional<Item> pop_runnable() {
    if (eligible_.empty()) return std::nullopt;
    const std::string target = std::get<3>(*eligible_.begin());
    auto& queue = targets_.at(target);
    unmark(queue);
    auto head = queue.waiting.begin();
    Item item = std::move(head->second);
    queue.waiting.erase(head);
    --waiting_;
    ++queue.running;
    ++running_;
    queue.last_served = ++serve_tick_;
    mark(target, queue);
    return item;
  }

  void finished(const std::string& target) {
    auto it = targets_.find(target);
    if (it == targets_.end() || it->second.running == 0) return;
    auto& queue = it->second;
    unmark(queue);
    --queue.running;
    --running_;
    if (queue.running == 0 && queue.waiting.empty()) {
      targets_.erase(it);  // idle targets cost nothing
      return;
    }
    mark(target, queue);
  }

  std::size_t waiting() const { return waiting_; }
  std::size_t running() const { return running_; }

 private:
  using Key = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::string>;

  struct TargetQueue {
    std::map<std::pair<std::uint64_t, std::uint64_t>, Item> waiting;  // (runs, seq)
    int running = 0;
    int max_sessions = 1;
    std::uint64_t last_served = 0;
    std::optional<Key> key;  // present while the target is in eligible_
  };

  void unmark(TargetQueue& queue) {
    if (queue.key) eligible_.erase(*queue.key);
    queue.key.reset();
  }

  void mark(const std::string& target, TargetQueue& queue) {
    if (queue.waiting.empty() || queue.running >= queue.max_sessions) return;
    const auto& head = queue.waiting.begin()->second;
    queue.key = Key{head.runs, queue.last_served, head.seq, target};
    eligible_.insert(*queue.key);
  }

  std::unordered_map<std::string, TargetQueue> targets_;
  std::set<Key> eligible_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t serve_tick_ = 0;
  std::size_t waiting_ = 0;
  std::size_t running_ = 0;
};

}  // namespace steward::sched
