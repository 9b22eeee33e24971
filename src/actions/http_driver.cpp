#include "actions/http_driver.hpp"

#include <toml++/toml.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <regex>
#include <set>

namespace steward::actions {
namespace {

using boost::asio::awaitable;
const std::regex kPlaceholder(R"(\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\})");

std::string as_is(const std::string& text) { return text; }

// A header value cannot carry control bytes: a CR or LF would let a caller's
// argument add headers of its own.
std::string header_safe(const std::string& text) {
  std::string out = text;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

std::string percent_encoded(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += {'%', kHex[c >> 4], kHex[c & 15]};
  }
  return out;
}

// The inside of a JSON string: quotes, backslashes and control bytes escaped.
std::string json_escaped(const std::string& text) {
  std::string quoted = boost::json::serialize(boost::json::string(text));
  return quoted.substr(1, quoted.size() - 2);
}

std::string text_of(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : boost::json::serialize(value);
}

class Reader {
 public:
  Reader(const std::string& path, const std::string& hook, const toml::table& table)
      : path_(path), hook_(hook), table_(table) {}

  Error error(const std::string& key, const std::string& problem) const {
    return make_error(ErrorCode::InvalidArgument, path_ + ": webhook '" + hook_ + "': " + key + ": " + problem);
  }
  Result<std::string> text(const char* key, std::string fallback) const {
    const auto* node = table_.get(key);
    if (!node) return fallback;
    if (!node->is_string()) return error(key, "must be a string");
    return std::string(*node->value<std::string>());
  }
  Result<std::vector<std::string>> names(const char* key) const {
    std::vector<std::string> out;
    const auto* node = table_.get(key);
    if (!node) return out;
    const auto* array = node->as_array();
    if (!array) return error(key, "must be a list of names");
    for (const auto& item : *array) {
      if (!item.is_string()) return error(key, "must be a list of names");
      out.push_back(*item.value<std::string>());
    }
    return out;
  }
  const toml::table& table() const { return table_; }

 private:
  const std::string& path_;
  const std::string& hook_;
  const toml::table& table_;
};

Result<tasks::StatusRange> parse_success(const Reader& reader, const std::string& text) {
  int low = 0, high = 0;
  char dash = 0;
  int fields = std::sscanf(text.c_str(), "%d%c%d", &low, &dash, &high);
  if (fields == 1) high = low;
  if (!(fields == 1 || (fields == 3 && dash == '-')) || low < 100 || high > 599 || low > high)
    return reader.error("success", "'" + text + "' is not a status code or a range like \"200-299\"");
  return tasks::StatusRange{low, high};
}

Result<Webhook> read_webhook(const std::string& path, const std::string& name, const toml::table& table) {
  Reader reader(path, name, table);
  static const std::set<std::string> kKeys{"description", "args",    "options", "method", "url",
                                           "body",        "content_type", "headers", "success", "timeout"};
  for (const auto& [key, _] : table)
    if (!kKeys.contains(std::string(key.str()))) return reader.error(std::string(key.str()), "unknown key");
  Webhook hook;
  hook.spec.name = name;
  auto description = reader.text("description", "");
  auto args = reader.names("args");
  auto options = reader.names("options");
  auto method = reader.text("method", "POST");
  auto url = reader.text("url", "");
  auto body = reader.text("body", "");
  auto content_type = reader.text("content_type", "application/json");
  auto success = reader.text("success", "200-299");
  for (const auto* failed : {&description, &method, &url, &body, &content_type, &success})
    if (!*failed) return failed->error();
  if (!args) return args.error();
  if (!options) return options.error();
  if (!url->starts_with("http://") && !url->starts_with("https://"))
    return reader.error("url", "must start with http:// or https://");
  hook.spec.description = *description;
  hook.spec.args = *args;
  hook.spec.options = *options;
  hook.request.method = *method;
  hook.request.url = *url;
  hook.request.data = *body;
  hook.request.content_type = *content_type;
  auto range = parse_success(reader, *success);
  if (!range) return range.error();
  hook.request.success_codes = {*range};
  if (const auto* timeout = table.get("timeout")) {
    auto seconds = timeout->value<double>();
    if (!seconds || *seconds <= 0) return reader.error("timeout", "must be a number of seconds above 0");
    hook.request.timeout = std::chrono::milliseconds(static_cast<long long>(*seconds * 1000));
  }
  if (const auto* headers = table.get("headers")) {
    if (!headers->is_table()) return reader.error("headers", "must be a table of strings");
    for (const auto& [key, value] : *headers->as_table()) {
      if (!value.is_string()) return reader.error("headers", "must be a table of strings");
      hook.request.headers[std::string(key.str())] = *value.value<std::string>();
    }
  }
  std::set<std::string> known(args->begin(), args->end());
  known.insert(options->begin(), options->end());
  std::string templates = hook.request.url + hook.request.data;
  for (const auto& [_, value] : hook.request.headers) templates += value;
  for (std::sregex_iterator it(templates.begin(), templates.end(), kPlaceholder), end; it != end; ++it) {
    if (!known.contains((*it)[1].str()))
      return reader.error("{{" + (*it)[1].str() + "}}", "is neither one of its args nor one of its options");
  }
  return hook;
}

class HttpDriver final : public Driver {
 public:
  HttpDriver(std::vector<Webhook> webhooks, std::shared_ptr<tasks::HttpClient> http)
      : webhooks_(std::move(webhooks)), http_(std::move(http)) {
    description_.service = "http";
    description_.description = "named webhooks";
    description_.concurrency = 8;
    for (const auto& hook : webhooks_) description_.actions.push_back(hook.spec);
  }

  const DriverDescription& description() const override { return description_; }
  Status validate(const ActionCall& call) const override { return check_documented(description_, call); }

  awaitable<Result<boost::json::value>> execute(ActionCall call, CancelToken cancel) override {
    const Webhook& hook = *std::find_if(webhooks_.begin(), webhooks_.end(),
                                        [&](const Webhook& w) { return w.spec.name == call.action; });
    std::map<std::string, std::string> values;
    for (std::size_t i = 0; i < call.args.size() && i < hook.spec.args.size(); ++i)
      values[hook.spec.args[i]] = text_of(call.args[i]);
    for (const auto& [key, value] : call.options) values[std::string(key)] = text_of(value);
    tasks::HttpRequestSpec request = hook.request;
    request.url = render(request.url, values, percent_encoded);
    const bool json_body = request.content_type.find("json") != std::string::npos;
    request.data = render(request.data, values, json_body ? json_escaped : as_is);
    for (auto& [_, header] : request.headers) header = render(header, values, header_safe);
    auto sent = co_await http_->perform(request, std::move(cancel));
    if (!sent) co_return sent.error();
    if (!hook.request.accepts(sent->status))
      co_return make_error(ErrorCode::Internal, "http:" + call.action + " got HTTP " + std::to_string(sent->status) +
                                                    ": " + sent->body.substr(0, 300));
    co_return boost::json::value(boost::json::object{{"status", sent->status}, {"body", sent->body}});
  }

 private:
  std::vector<Webhook> webhooks_;
  std::shared_ptr<tasks::HttpClient> http_;
  DriverDescription description_;
};

}  // namespace

std::string render(const std::string& text, const std::map<std::string, std::string>& values,
                   std::string (*encode)(const std::string&)) {
  std::string out;
  auto last = text.cbegin();
  for (std::sregex_iterator it(text.begin(), text.end(), kPlaceholder), end; it != end; ++it) {
    out.append(last, text.cbegin() + it->position());
    auto value = values.find((*it)[1].str());
    if (value != values.end()) out += encode(value->second);
    last = text.cbegin() + it->position() + it->length();
  }
  out.append(last, text.cend());
  return out;
}

Result<std::vector<Webhook>> load_webhooks(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return make_error(ErrorCode::InvalidArgument,
                      path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  std::vector<Webhook> webhooks;
  for (const auto& [name, node] : root) {
    if (!node.is_table())
      return make_error(ErrorCode::InvalidArgument, path + ": '" + std::string(name.str()) + "' must be a [table]");
    auto hook = read_webhook(path, std::string(name.str()), *node.as_table());
    if (!hook) return hook.error();
    webhooks.push_back(std::move(*hook));
  }
  return webhooks;
}

std::unique_ptr<Driver> make_http_driver(std::vector<Webhook> webhooks, std::shared_ptr<tasks::HttpClient> http) {
  return std::make_unique<HttpDriver>(std::move(webhooks), std::move(http));
}

}  // namespace steward::actions
