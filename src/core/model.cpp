#include "core/model.hpp"

namespace steward {

bool op_state_is_failure(OpState state) {
  return state == OpState::Failed || state == OpState::Unreachable;
}

OpResult failed_result(std::string error) {
  OpResult result;
  result.state = OpState::Failed;
  result.error = std::move(error);
  return result;
}

std::string Target::var(const std::string& key, const std::string& fallback) const {
  auto it = vars.find(key);
  return it == vars.end() ? fallback : it->second;
}

std::size_t Job::finished_count() const {
  std::size_t n = 0;
  for (const auto& [name, run] : runs) n += run.phase == RunPhase::Finished ? 1 : 0;
  return n;
}

}  // namespace steward
