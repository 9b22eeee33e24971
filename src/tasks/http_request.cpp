#include "tasks/http_request.hpp"

#include <curl/curl.h>

#include <boost/url/parse.hpp>

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>

namespace steward::tasks {
namespace {

// "https://host:port" of a URL: paths and queries often carry a webhook's
// secret, so errors (which reach job and action records) never show them.
std::string origin_of(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "(the request's URL)";
  std::string origin = std::string(parsed->scheme()) + "://" + std::string(parsed->host());
  if (parsed->has_port()) origin += ":" + std::string(parsed->port());
  return origin;
}

}  // namespace
namespace asio = boost::asio;

namespace {

// Shared between the loop (which may cancel) and the pool thread (which polls).
struct Transfer {
  HttpRequestSpec request;
  std::size_t body_cap = 0;
  std::atomic<bool> cancelled{false};
};

struct BodyWriter {
  HttpResponse* response;
  std::size_t cap;
  static std::size_t write(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<BodyWriter*>(user);
    std::size_t n = size * count;
    auto& body = self->response->body;
    std::size_t room = body.size() < self->cap ? self->cap - body.size() : 0;
    body.append(data, std::min(n, room));
    if (n > room) self->response->body_truncated = true;
    return n;  // keep reading past the cap so the status and timing stay right
  }
};

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->cancelled.load() ? 1 : 0;  // non-zero aborts the transfer
}

Result<HttpResponse> perform_blocking(Transfer& transfer) {
  const auto& request = transfer.request;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return make_error(ErrorCode::Internal, "libcurl: cannot create a handle");
  HttpResponse response;
  BodyWriter writer{&response, transfer.body_cap};
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_slist* raw_headers = nullptr;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    has_content_type = has_content_type || lower == "content-type";
    raw_headers = curl_slist_append(raw_headers, (name + ": " + value).c_str());
  }
  if (!has_content_type && !request.data.empty())
    raw_headers = curl_slist_append(raw_headers, ("Content-Type: " + request.content_type).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(raw_headers, curl_slist_free_all);

  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (!request.data.empty()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.data.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.data.size()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // required with several threads
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &BodyWriter::write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &writer);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);

  auto started = std::chrono::steady_clock::now();
  CURLcode code = curl_easy_perform(h);
  response.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  if (code != CURLE_OK) {
    std::string detail = error_buffer[0] != 0 ? error_buffer : curl_easy_strerror(code);
    std::string what = request.method + " " + origin_of(request.url) + ": ";
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return make_error(ErrorCode::Timeout,
                          what + "timed out after " + std::to_string(request.timeout.count()) + " ms");
      case CURLE_ABORTED_BY_CALLBACK: return make_error(ErrorCode::Cancelled, what + "cancelled");
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY: return make_error(ErrorCode::Unreachable, what + detail);
      default: return make_error(ErrorCode::Internal, what + detail);
    }
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

// Runs the transfer on the pool; the completion handler runs on its own
// (the awaiting coroutine's) executor, which the work guard keeps alive.
template <typename Token>
auto async_perform(asio::thread_pool& pool, std::shared_ptr<Transfer> transfer, Token&& token) {
  return asio::async_initiate<Token, void(Result<HttpResponse>)>(
      [&pool](auto handler, std::shared_ptr<Transfer> transfer) {
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(pool, [handler = std::move(handler), work = std::move(work),
                          transfer = std::move(transfer)]() mutable {
          auto result = perform_blocking(*transfer);
          auto ex = work.get_executor();
          asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      token, std::move(transfer));
}

}  // namespace

HttpClient::HttpClient(std::size_t threads, std::size_t body_cap) : pool_(threads), body_cap_(body_cap) {
  // curl_global_init is not thread-safe; do it once before any pool thread uses curl.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpClient::~HttpClient() { pool_.join(); }

asio::awaitable<Result<HttpResponse>> HttpClient::perform(HttpRequestSpec request, CancelToken cancel) {
  auto transfer = std::make_shared<Transfer>();
  transfer->request = std::move(request);
  transfer->body_cap = body_cap_;
  CancelState::Registration on_cancel;
  if (cancel) {
    on_cancel = cancel->on_cancel([transfer] { transfer->cancelled = true; });
  }
  auto performing = async_perform(pool_, transfer, asio::use_awaitable);
  auto result = co_await std::move(performing);
  co_return result;
}

}  // namespace steward::tasks
