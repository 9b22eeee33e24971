#include "jobs/rollout.hpp"

#include <charconv>

namespace steward::jobs {
namespace {

struct Amount {
  std::size_t value = 0;
  bool percent = false;
};

// A JSON count, or a string "N" or "N%" (query strings carry everything as text).
std::optional<Amount> amount_of(const boost::json::value& value) {
  if (value.is_int64() && value.as_int64() >= 0) return Amount{static_cast<std::size_t>(value.as_int64()), false};
  if (value.is_uint64()) return Amount{static_cast<std::size_t>(value.as_uint64()), false};
  if (!value.is_string()) return std::nullopt;
  std::string_view text = value.as_string();
  Amount amount;
  if (text.ends_with('%')) {
    amount.percent = true;
    text.remove_suffix(1);
  }
  auto [end, failed] = std::from_chars(text.data(), text.data() + text.size(), amount.value);
  if (text.empty() || failed != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return amount;
}

Result<std::optional<boost::json::value>> take(boost::json::object& args, const char* key, std::size_t least,
                                               const char* what) {
  auto it = args.find(key);
  if (it == args.end() || it->value().is_null()) {
    if (it != args.end()) args.erase(it);
    return std::optional<boost::json::value>();
  }
  boost::json::value value = it->value();
  args.erase(it);
  auto amount = amount_of(value);
  if (!amount || amount->value < least || (amount->percent && amount->value > 100))
    return make_error(ErrorCode::InvalidArgument, std::string("'") + key + "' must be " + what);
  return std::optional<boost::json::value>(std::move(value));
}

std::size_t resolved(const boost::json::value& value, std::size_t targets, bool round_up) {
  auto amount = *amount_of(value);
  if (!amount.percent) return amount.value;
  const std::size_t share = amount.value * targets;
  return round_up ? (share + 99) / 100 : share / 100;
}

}  // namespace

Result<RolloutSpec> take_rollout(boost::json::object& args) {
  RolloutSpec spec;
  auto batch = take(args, "batch", 1, "a count of targets (at least 1) or a percentage like \"10%\"");
  if (!batch) return batch.error();
  auto threshold = take(args, "max_failures", 0, "a count of targets or a percentage like \"20%\"");
  if (!threshold) return threshold.error();
  spec.batch = std::move(*batch);
  spec.max_failures = std::move(*threshold);
  return spec;
}

Rollout resolve_rollout(const RolloutSpec& spec, std::size_t targets) {
  Rollout rollout;
  if (spec.batch) rollout.batch = std::max<std::size_t>(1, resolved(*spec.batch, targets, true));
  if (spec.max_failures) rollout.max_failures = resolved(*spec.max_failures, targets, false);
  return rollout;
}

std::string threshold_reason(std::size_t failures, std::size_t targets, std::size_t max_failures) {
  return "skipped: " + std::to_string(failures) + " of " + std::to_string(targets) +
         " targets failed, more than max_failures " + std::to_string(max_failures);
}

}  // namespace steward::jobs
