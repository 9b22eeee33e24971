#include "core/secret_args.hpp"

#include <algorithm>
#include <cctype>
#include <functional>

namespace steward {
namespace {

constexpr const char* kSealedKey = "$sealed";
constexpr const char* kShownKey = "shown";
constexpr const char* kMask = "***";

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// '*' and '?' over the whole text; backtracks only to the last '*'.
bool glob_match(std::string_view glob, std::string_view text) {
  std::size_t g = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (g < glob.size() && (glob[g] == '?' || glob[g] == text[t])) {
      ++g, ++t;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      resume = t;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

const boost::json::string* sealed_text(const boost::json::value& value) {
  const auto* object = value.if_object();
  const auto* sealed = object ? object->if_contains(kSealedKey) : nullptr;
  return sealed ? sealed->if_string() : nullptr;
}

// What a secret string becomes: `shown` is how APIs show it.
using Protect = std::function<Result<boost::json::value>(std::string_view plain, const std::string& shown)>;

Status protect_string(boost::json::value& value, const std::string& shown, const Protect& protect) {
  auto replaced = protect(value.as_string(), shown);
  if (!replaced) return replaced.error();
  value = std::move(*replaced);
  return {};
}

// `names` null: every string value is a secret.
Status protect_map(boost::json::object& map, const SecretNames* names, const Protect& protect) {
  for (auto& [name, value] : map) {
    if (!value.is_string() || (names && !names->matches(name))) continue;
    if (auto done = protect_string(value, kMask, protect); !done) return done;
  }
  return {};
}

// "KEY=VALUE" entries; the name stays visible.
Status protect_assignments(boost::json::array& list, const SecretNames& names, const Protect& protect) {
  for (auto& entry : list) {
    const auto* text = entry.if_string();
    auto equals = text ? text->find('=') : boost::json::string::npos;
    if (equals == 0 || equals == boost::json::string::npos) continue;
    std::string name(text->subview(0, equals));
    if (!names.matches(name)) continue;
    if (auto done = protect_string(entry, name + "=" + kMask, protect); !done) return done;
  }
  return {};
}

Status protect_args(boost::json::object& args, const SecretNames& names, const Protect& protect) {
  if (auto* secret_env = args.if_contains("secret_env"); secret_env && secret_env->is_object()) {
    if (auto done = protect_map(secret_env->as_object(), nullptr, protect); !done) return done;
  }
  for (const char* key : {"env", "extra_vars", "environment"}) {
    auto* value = args.if_contains(key);
    if (!value) continue;
    Status done;
    if (value->is_object()) done = protect_map(value->as_object(), &names, protect);
    else if (value->is_array()) done = protect_assignments(value->as_array(), names, protect);
    if (!done) return done;
  }
  const auto* secret_stdin = args.if_contains("secret_stdin");
  auto* stdin_data = args.if_contains("stdin");
  if (secret_stdin && secret_stdin->is_bool() && secret_stdin->as_bool() && stdin_data && stdin_data->is_string())
    return protect_string(*stdin_data, kMask, protect);
  return {};
}

Status open_value(boost::json::value& value, const SecretBox& box, const std::string& where) {
  if (const auto* sealed = sealed_text(value)) {
    auto plain = box.open(*sealed);
    if (!plain) return make_error(plain.error().code, "'" + where + "': " + plain.error().message);
    value = boost::json::string(*plain);
    return {};
  }
  if (auto* object = value.if_object()) {
    for (auto& [key, item] : *object) {
      std::string inner = where.empty() ? std::string(key) : where + "." + std::string(key);
      if (auto opened = open_value(item, box, inner); !opened) return opened;
    }
  } else if (auto* array = value.if_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (auto opened = open_value((*array)[i], box, where + "[" + std::to_string(i) + "]"); !opened) return opened;
    }
  }
  return {};
}

void redact_value(boost::json::value& value) {
  if (sealed_text(value)) {
    const auto* shown = value.as_object().if_contains(kShownKey);
    value = shown && shown->is_string() ? shown->as_string() : boost::json::string(kMask);
  } else if (auto* object = value.if_object()) {
    for (auto& [key, item] : *object) redact_value(item);
  } else if (auto* array = value.if_array()) {
    for (auto& item : *array) redact_value(item);
  }
}

}  // namespace

Result<SecretNames> SecretNames::parse(std::string_view pattern) {
  SecretNames names;
  std::size_t start = 0;
  while (true) {
    std::size_t bar = pattern.find('|', start);
    std::string_view glob = pattern.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    if (glob.empty())
      return make_error(ErrorCode::InvalidArgument,
                        "secret name pattern '" + std::string(pattern) + "' has an empty alternative");
    names.globs_.push_back(upper(glob));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return names;
}

bool SecretNames::matches(std::string_view name) const {
  const std::string key = upper(name);
  return std::any_of(globs_.begin(), globs_.end(), [&key](const std::string& glob) { return glob_match(glob, key); });
}

Result<boost::json::object> ArgSecrets::seal(boost::json::object args) const {
  auto seal_one = [this](std::string_view plain, const std::string& shown) { return sealed_value(plain, shown); };
  if (auto done = protect_args(args, names_, seal_one); !done) return done.error();
  return args;
}

Result<boost::json::value> ArgSecrets::seal_value(std::string_view plain) const { return sealed_value(plain, kMask); }

Result<boost::json::value> ArgSecrets::sealed_value(std::string_view plain, const std::string& shown) const {
  auto sealed = box_.seal(plain);
  if (!sealed) return sealed.error();
  return boost::json::value(boost::json::object{{kSealedKey, *sealed}, {kShownKey, shown}});
}

// The arguments themselves are never a sealed value (a body {"$sealed": ...}
// stays an object); only what they hold can be.
Result<boost::json::object> ArgSecrets::open(boost::json::object args) const {
  for (auto& [key, item] : args)
    if (auto opened = open_value(item, box_, std::string(key)); !opened) return opened.error();
  return args;
}

boost::json::object masked(boost::json::object args, const SecretNames& names) {
  auto mask = [](std::string_view, const std::string& shown) -> Result<boost::json::value> {
    return boost::json::value(shown);
  };
  (void)protect_args(args, names, mask);  // masking cannot fail
  return args;
}

boost::json::value redacted(boost::json::value value) {
  redact_value(value);
  return value;
}

boost::json::object redacted(boost::json::object value) {
  for (auto& [key, item] : value) redact_value(item);
  return value;
}

}  // namespace steward
