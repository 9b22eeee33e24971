// REST request bodies: parse_object, then every typed argument reader
// (ops/args) and the secret handling (seal, open, mask, redact) a body goes
// through before a job is stored.
#include "api/http/json_codec.hpp"
#include "core/secret_args.hpp"
#include "fuzz_input.hpp"
#include "ops/args.hpp"

namespace {

using namespace steward;

// Keys the operations read (execute, copy, fetch, service, deploy, tasks...).
constexpr const char* kKeys[] = {"cmd", "argv", "env", "secret_env", "stdin", "secret_stdin", "cwd", "timeout",
                                 "targets", "target", "src", "dest", "mode", "owner", "name", "state", "wait",
                                 "extra_vars", "environment", "max_output", "sha256", "force"};

void read_every_way(const boost::json::object& args, const char* key) {
  (void)ops::optional_string(args, key);
  (void)ops::required_string(args, key);
  (void)ops::optional_string_list(args, key);
  (void)ops::string_map(args, key);
  (void)ops::optional_bool(args, key, false);
  (void)ops::optional_seconds(args, key, std::chrono::milliseconds(1000));
  (void)ops::required_int(args, key);
}

const ArgSecrets& secrets() {
  static const ArgSecrets instance(*SecretBox::from_key(std::string(SecretBox::kKeySize, 'k')),
                                   *SecretNames::parse(kDefaultSecretEnvPattern));
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto body = api::http::parse_object(std::string(fuzz::text_of(data, size)));
  if (!body) return 0;
  for (const char* key : kKeys) read_every_way(*body, key);
  for (const auto& field : *body) read_every_way(*body, std::string(field.key()).c_str());
  if (const auto* pattern = body->if_contains("pattern"); pattern && pattern->is_string())
    if (auto names = SecretNames::parse(pattern->get_string())) (void)names->matches("DB_PASSWORD");
  (void)masked(*body, secrets().names());
  (void)redacted(*body);
  if (auto sealed = secrets().seal(*body)) {
    (void)redacted(*sealed);
    (void)secrets().open(*sealed);
  }
  return 0;
}
