#pragma once
// The `http` service: named webhooks from a TOML file (`--webhooks FILE`),
// each an action whose documented args and options fill `{{name}}`
// placeholders in its URL (percent-encoded), headers and body (JSON-escaped
// when the body is JSON).
//
//   [notify]
//   description = "post to the ops channel"
//   args = ["text"]
//   options = ["channel"]
//   method = "POST"                         # default POST
//   url = "https://chat.example/hooks/{{channel}}"
//   body = '{"text": "{{text}}"}'
//   content_type = "application/json"       # default
//   headers = { "X-Token" = "..." }
//   success = "200-299"                     # default; "CODE" or "LOW-HIGH"
//   timeout = 10                            # seconds
#include <memory>
#include <string>
#include <vector>

#include "actions/driver.hpp"
#include "tasks/http_request.hpp"

namespace steward::actions {

struct Webhook {
  ActionSpec spec;
  tasks::HttpRequestSpec request;  // with placeholders
};

// InvalidArgument naming the file, webhook and key; a placeholder must name
// one of the webhook's args or options.
Result<std::vector<Webhook>> load_webhooks(const std::string& path);

std::unique_ptr<Driver> make_http_driver(std::vector<Webhook> webhooks, std::shared_ptr<tasks::HttpClient> http);

// Replaces each {{name}} with encode(values[name]) (empty when absent).
std::string render(const std::string& text, const std::map<std::string, std::string>& values,
                   std::string (*encode)(const std::string&));

}  // namespace steward::actions
