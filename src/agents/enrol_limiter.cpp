#include "agents/enrol_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace steward::agents {

double EnrolLimiter::tokens_at(const Bucket& bucket, double now) const {
  const double elapsed = std::max(0.0, now - bucket.updated);
  return std::min(limits_.burst, bucket.tokens + elapsed * limits_.refill_per_minute / 60);
}

void EnrolLimiter::refill(Bucket& bucket, double now) const {
  bucket.tokens = tokens_at(bucket, now);
  bucket.updated = now;
}

long EnrolLimiter::wait_seconds(const std::string& address, double now) {
  std::lock_guard lock(mutex_);
  auto found = buckets_.find(address);
  if (found == buckets_.end()) return 0;
  refill(found->second, now);
  if (found->second.tokens >= 1) return 0;
  return static_cast<long>(std::ceil((1 - found->second.tokens) * 60 / limits_.refill_per_minute));
}

bool EnrolLimiter::note_refused(const std::string& address, double now) {
  std::lock_guard lock(mutex_);
  auto found = buckets_.find(address);
  if (found == buckets_.end()) {
    make_room(now);
    found = buckets_.emplace(address, Bucket{limits_.burst, now}).first;
  }
  Bucket& bucket = found->second;
  refill(bucket, now);
  const bool had_one = bucket.tokens >= 1;
  bucket.tokens = std::max(0.0, bucket.tokens - 1);
  return had_one && bucket.tokens < 1;
}

void EnrolLimiter::make_room(double now) {
  if (buckets_.size() < limits_.max_addresses) return;
  std::erase_if(buckets_, [&](const auto& entry) { return tokens_at(entry.second, now) >= limits_.burst; });
  if (buckets_.size() < limits_.max_addresses) return;
  buckets_.erase(std::min_element(buckets_.begin(), buckets_.end(), [](const auto& a, const auto& b) {
    return a.second.updated < b.second.updated;
  }));
}

std::string address_without_port(const std::string& peer) {
  if (peer.starts_with('[')) {
    const auto end = peer.find(']');
    return end == std::string::npos ? peer : peer.substr(1, end - 1);
  }
  const auto colon = peer.rfind(':');
  return colon == std::string::npos || peer.find(':') != colon ? peer : peer.substr(0, colon);
}

}  // namespace steward::agents
