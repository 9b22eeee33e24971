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

namespace {

bool is_continuation_byte(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }

void keep_tail(std::string& data, std::optional<std::size_t>& whole_size, std::size_t tail) {
  const std::size_t whole = whole_size.value_or(data.size());
  if (data.size() > tail) data.erase(0, data.size() - tail);
  if (data.size() == whole) return;
  whole_size = whole;
  // A character cut at the front would read as U+FFFD; at most 3 bytes of it remain.
  std::size_t cut = 0;
  while (cut < data.size() && cut < 3 && is_continuation_byte(data[cut])) ++cut;
  data.erase(0, cut);
}

}  // namespace

void keep_output_tail(OpResult& result, std::size_t tail) {
  keep_tail(result.stdout_data, result.stdout_size, tail);
  keep_tail(result.stderr_data, result.stderr_size, tail);
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
