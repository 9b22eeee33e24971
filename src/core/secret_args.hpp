#pragma once
// Which values of an operation's JSON arguments (or of a Deputy record) are
// secrets, and their three forms: plain (while the operation runs), sealed
// (in memory between runs and in the store) and shown (every API: "***").
//
// A sealed value replaces the string it protects with an object
// {"$sealed": SecretBox text, "shown": "***" or "NAME=***"}; request
// validation only accepts strings there, so a client cannot forge one.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/secret_box.hpp"

namespace steward {

inline constexpr const char* kDefaultSecretEnvPattern = "*PASSWORD*|*SECRET*|*TOKEN*|*KEY*";

// Glob alternatives separated by '|' ('*' any run, '?' one character),
// matched against whole environment variable names, ignoring case.
class SecretNames {
 public:
  // InvalidArgument for an empty alternative.
  static Result<SecretNames> parse(std::string_view pattern);
  bool matches(std::string_view name) const;

 private:
  std::vector<std::string> globs_;  // upper case
};

// Secrets in arguments, by key at the top level:
// - every value of "secret_env" (an object);
// - values of "env", "extra_vars" and "environment" (an object, or a list of
//   "KEY=VALUE") whose name matches SecretNames;
// - "stdin" when "secret_stdin" is true.
class ArgSecrets {
 public:
  ArgSecrets(SecretBox box, SecretNames names) : box_(std::move(box)), names_(std::move(names)) {}

  // Secret strings replaced by sealed values; values already sealed stay as they are.
  Result<boost::json::object> seal(boost::json::object args) const;
  // One string sealed whatever its name (shown as "***"), for a record that
  // needs the value again later, such as a feature's account for its delete.
  Result<boost::json::value> seal_value(std::string_view plain) const;
  // Every sealed value, wherever it is, back to its plain string. The error
  // names the key that failed and why, never the value.
  Result<boost::json::object> open(boost::json::object args) const;

  const SecretNames& names() const { return names_; }

 private:
  Result<boost::json::value> sealed_value(std::string_view plain, const std::string& shown) const;

  SecretBox box_;
  SecretNames names_;
};

// The same rules as ArgSecrets::seal, but secrets become "***" for good:
// for records that never need the value again.
boost::json::object masked(boost::json::object args, const SecretNames& names);

// Sealed values shown as "***" ("NAME=***" in KEY=VALUE lists); needs no key.
boost::json::value redacted(boost::json::value value);
boost::json::object redacted(boost::json::object value);

}  // namespace steward
