#pragma once
// The order in which jobs of an operation that is exclusive per host (deploy,
// tasks) take their turn on each host: first come, first served, one at a
// time. Pure bookkeeping; the job service starts whoever is first.
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace steward::jobs {

class HostLanes {
 public:
  struct Holder {
    std::string host;
    std::string jid;  // the job first in line there
  };

  // Hosts among `hosts` where `operation` already has a job in line (queued or running).
  std::vector<Holder> occupied(const std::string& operation, const std::vector<std::string>& hosts) const;

  // Puts the job at the end of the host's line; true when it is first.
  bool enter(const std::string& operation, const std::string& host, const std::string& jid);

  bool first(const std::string& operation, const std::string& host, const std::string& jid) const;

  // Takes the job out of the host's line (nothing when it is not in it);
  // returns the job that became first, if any.
  std::optional<std::string> leave(const std::string& operation, const std::string& host, const std::string& jid);

 private:
  using Key = std::pair<std::string, std::string>;  // operation, host
  std::map<Key, std::deque<std::string>> lines_;
};

}  // namespace steward::jobs
