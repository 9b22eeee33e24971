#pragma once
// Refused enrolments per source address (issue 13). Anyone who reaches the
// agent listener may call Enrol, so guessing join tokens or sending junk
// CSRs costs a token from that address's bucket; an address with none left
// is turned away before any work until the bucket refills. Enrolments that
// succeed or wait for approval cost nothing: many agents behind one NAT
// address are never slowed. Thread-safe.
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace steward::agents {

struct EnrolLimits {
  double refill_per_minute = 10;
  double burst = 20;
  std::size_t max_addresses = 10000;  // beyond: the buckets that refilled are forgotten, then the stalest
};

class EnrolLimiter {
 public:
  explicit EnrolLimiter(EnrolLimits limits = {}) : limits_(limits) {}

  // 0 when `address` may try at `now` (seconds on any steady clock), else
  // the whole seconds until it may.
  long wait_seconds(const std::string& address, double now);
  // Takes a token from `address` for a refused enrolment; true when that
  // emptied its bucket (worth one log line).
  bool note_refused(const std::string& address, double now);

 private:
  struct Bucket {
    double tokens = 0;
    double updated = 0;
  };
  double tokens_at(const Bucket& bucket, double now) const;
  void refill(Bucket& bucket, double now) const;
  void make_room(double now);

  EnrolLimits limits_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
};

// The address part of "HOST:PORT" or "[HOST]:PORT" (the port changes with
// every connection, the address is who asks).
std::string address_without_port(const std::string& peer);

}  // namespace steward::agents
