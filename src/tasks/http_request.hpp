#pragma once
// HTTP requests for `request` tasks, through libcurl. Easy handles block, so
// each request runs on a small bounded thread pool and the awaiting coroutine
// resumes on its own executor with the result: the event loop never blocks.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <string>

#include "core/cancel.hpp"
#include "core/result.hpp"
#include "tasks/pipeline.hpp"

namespace steward::tasks {

constexpr std::size_t kDefaultBodyCap = 64 * 1024;

struct HttpResponse {
  long status = 0;
  std::string body;  // the first body_cap bytes
  bool body_truncated = false;
  std::chrono::milliseconds elapsed{0};
};

class HttpClient {
 public:
  explicit HttpClient(std::size_t threads = 4, std::size_t body_cap = kDefaultBodyCap);
  ~HttpClient();  // waits for requests in flight (each bounded by its timeout)
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any status is a success here; the caller checks success_codes.
  // Errors: Timeout when `request.timeout` expires, Unreachable when the
  // connection fails (refused, DNS), Cancelled on cancel, Internal otherwise.
  boost::asio::awaitable<Result<HttpResponse>> perform(HttpRequestSpec request, CancelToken cancel);

 private:
  boost::asio::thread_pool pool_;
  std::size_t body_cap_;
};

}  // namespace steward::tasks
