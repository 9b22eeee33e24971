#include "jobs/host_lanes.hpp"

#include <algorithm>

namespace steward::jobs {

std::vector<HostLanes::Holder> HostLanes::occupied(const std::string& operation,
                                                   const std::vector<std::string>& hosts) const {
  std::vector<Holder> holders;
  for (const auto& host : hosts) {
    auto it = lines_.find({operation, host});
    if (it != lines_.end()) holders.push_back({host, it->second.front()});
  }
  return holders;
}

bool HostLanes::enter(const std::string& operation, const std::string& host, const std::string& jid) {
  auto& line = lines_[{operation, host}];
  if (std::find(line.begin(), line.end(), jid) == line.end()) line.push_back(jid);
  return line.front() == jid;
}

bool HostLanes::first(const std::string& operation, const std::string& host, const std::string& jid) const {
  auto it = lines_.find({operation, host});
  return it != lines_.end() && it->second.front() == jid;
}

std::optional<std::string> HostLanes::leave(const std::string& operation, const std::string& host,
                                            const std::string& jid) {
  auto it = lines_.find({operation, host});
  if (it == lines_.end()) return std::nullopt;
  auto& line = it->second;
  auto position = std::find(line.begin(), line.end(), jid);
  if (position == line.end()) return std::nullopt;
  const bool was_first = position == line.begin();
  line.erase(position);
  if (line.empty()) {
    lines_.erase(it);
    return std::nullopt;
  }
  if (!was_first) return std::nullopt;
  return line.front();
}

}  // namespace steward::jobs
