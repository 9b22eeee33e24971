#include "store/redis/redis_placement.hpp"

#include <algorithm>

#include "store/redis/redis_codec.hpp"

namespace steward::store::redis {

LiveServers LiveServers::from_expiries(const std::vector<Reply>& expiries, const std::string& self, double at) {
  LiveServers live;
  live.self_ = self;
  live.names_.push_back(self);
  for (std::size_t i = 0; i + 1 < expiries.size(); i += 2) {
    const std::string& server = expiries[i].str();
    if (server != self && to_double(expiries[i + 1].str()) >= at) live.names_.push_back(server);
  }
  std::sort(live.names_.begin(), live.names_.end());
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
    const std::string owner = slot_owner(slot, live.names_);
    const auto found = std::find(live.names_.begin(), live.names_.end(), owner);
    live.owners_[slot] = static_cast<std::uint32_t>(found - live.names_.begin()) + 1;
  }
  return live;
}

void LiveServers::append_names(std::vector<std::string>& args) const {
  args.push_back(std::to_string(names_.size()));
  args.insert(args.end(), names_.begin(), names_.end());
}

std::string LiveServers::slot_map() const {
  std::string map;
  for (std::uint32_t index : owners_) {
    if (!map.empty()) map += ',';
    map += std::to_string(index);
  }
  return map;
}

}  // namespace steward::store::redis
