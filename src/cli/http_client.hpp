#pragma once
// The CLI's blocking HTTP/1.1 client: whole replies, or a reply read line by
// line as it streams (NDJSON).
#include <functional>
#include <string>

#include "core/result.hpp"

namespace steward::cli {

struct ServerAddress {
  std::string url;  // as the user gave it, for messages
  std::string host;
  std::string port;
  std::string token;
};

// "http://HOST:PORT" (https is not supported yet). InvalidArgument otherwise.
Result<ServerAddress> parse_server_url(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(ServerAddress server) : server_(std::move(server)) {}

  // Unavailable (with the server's address) when it cannot be reached.
  Result<HttpReply> request(const std::string& method, const std::string& target, const std::string& body = "");

  // Calls on_line for every line of a 200 reply as it arrives; any other
  // status comes back whole in the reply.
  Result<HttpReply> stream_lines(const std::string& target, const std::function<void(const std::string&)>& on_line);

  const ServerAddress& server() const { return server_; }

 private:
  ServerAddress server_;
};

// The server's {"message"} from an error reply, or the status line.
std::string error_message(const HttpReply& reply);

}  // namespace steward::cli
