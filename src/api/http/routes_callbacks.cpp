// SSH callback targets over REST (issue 14): register a VM's callback key
// (`steward callback add`), list them with their live state, remove one.
// Only public keys cross this API; the VM's private key never reaches the server.
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>

#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"
#include "callback/registry.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

boost::json::value sshd_port_or_null(const callback::Registration& registration) {
  if (registration.sshd_port == 0) return nullptr;
  return registration.sshd_port;
}

boost::json::object callback_object(const callback::Registration& registration) {
  return {{"name", registration.name},
          {"user", registration.user},
          {"key_fingerprint", registration.key_fingerprint},
          {"host_key_pinned", !registration.host_key.empty()},
          {"created_at", time_or_null(registration.created_at)},
          {"connected", registration.connected},
          {"connected_since",
           registration.connected ? time_or_null(registration.connected_since) : boost::json::value(nullptr)},
          {"address", registration.address},
          {"last_seen", time_or_null(registration.last_seen)},
          {"sshd_port", sshd_port_or_null(registration)}};
}

Result<callback::NewRegistration> parse_registration(const std::string& body) {
  auto object = parse_object(body);
  if (!object) return object.error();
  callback::NewRegistration request;
  for (const auto& [key, value] : *object) {
    if (key == "sshd") {
      if (!value.is_bool()) return make_error(ErrorCode::InvalidArgument, "sshd must be true or false");
      request.sshd = value.as_bool();
      continue;
    }
    std::string* field = key == "name"         ? &request.name
                         : key == "public_key" ? &request.public_key
                         : key == "user"       ? &request.user
                         : key == "host_key"   ? &request.host_key
                                               : nullptr;
    if (!field || !value.is_string())
      return make_error(ErrorCode::InvalidArgument,
                        "expected {\"name\": string, \"public_key\": string, \"user\"?: string, \"host_key\"?: "
                        "string, \"sshd\"?: bool}; '" + std::string(key) + "' is not one of them or is not a string");
    *field = std::string(value.as_string());
  }
  if (request.name.empty() || request.public_key.empty())
    return make_error(ErrorCode::InvalidArgument, "name and public_key are required");
  return request;
}

Error callbacks_off() {
  return make_error(ErrorCode::Unavailable, "this server runs no callback endpoint (start it with --callback ADDR:PORT)");
}

awaitable<void> list_callbacks(ApiContext& context, Exchange& exchange) {
  if (!context.callbacks) co_return co_await exchange.reply_error(callbacks_off());
  boost::json::array rows;
  for (const auto& registration : context.callbacks->list()) rows.push_back(callback_object(registration));
  const boost::json::value listed = std::move(rows);
  co_await exchange.reply(http::status::ok, listed);
}

awaitable<void> add_callback(ApiContext& context, Exchange& exchange) {
  if (!context.callbacks) co_return co_await exchange.reply_error(callbacks_off());
  auto request = parse_registration(exchange.request().body());
  if (!request) co_return co_await exchange.reply_error(request.error());
  auto adding = context.callbacks->add(std::move(*request));
  auto added = co_await std::move(adding);
  if (!added) co_return co_await exchange.reply_error(added.error());
  spdlog::info("callback target {} registered by {} (key {}, user {}{})", added->name, exchange.caller.name,
               added->key_fingerprint, added->user,
               added->sshd_port ? ", via the controller's sshd on port " + std::to_string(added->sshd_port) : "");
  const auto& keys = context.callbacks->keys();
  const boost::json::value reply = boost::json::object{{"name", added->name},
                                  {"user", added->user},
                                  {"key_fingerprint", added->key_fingerprint},
                                  {"controller_public_key", keys.controller_public_key},
                                  {"endpoint", context.callback_address},
                                  {"endpoint_host_key", keys.endpoint_public_key},
                                  {"sshd_port", sshd_port_or_null(*added)}};
  co_await exchange.reply(http::status::created, reply);
}

awaitable<void> remove_callback(ApiContext& context, Exchange& exchange) {
  if (!context.callbacks) co_return co_await exchange.reply_error(callbacks_off());
  std::string name = exchange.captures.at("name");
  auto removing = context.callbacks->remove(name);
  auto removed = co_await std::move(removing);
  if (!removed) co_return co_await exchange.reply_error(removed.error());
  spdlog::info("callback target {} removed by {}", name, exchange.caller.name);
  const boost::json::value no_body;
  co_await exchange.reply(http::status::no_content, no_body);
}

}  // namespace

void add_callback_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/callbacks", [&context](Exchange& e) { return list_callbacks(context, e); });
  router.add(http::verb::post, "/callbacks", [&context](Exchange& e) { return add_callback(context, e); });
  router.add(http::verb::delete_, "/callbacks/:name",
             [&context](Exchange& e) { return remove_callback(context, e); });
}

}  // namespace steward::api::http
