// /jobs: listing, reading, following (JSON documents, one a line), output pages, events (SSE), cancel, delete.
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "api/http/job_replies.hpp"
#include "api/http/job_stream.hpp"
#include "api/http/json_codec.hpp"
#include "api/http/query.hpp"
#include "api/http/routes.hpp"
#include "core/strings.hpp"
#include "jobs/job_service.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

// Output a job object embeds per stream and host (the tail), unless
// `max_output` says otherwise: generous for a command's usual output in a
// job object, small in a list, which may hold many jobs.
constexpr std::size_t kJobOutputTail = 64 * 1024;
constexpr std::size_t kListOutputTail = 4 * 1024;
// Pages of GET /jobs/JID/output, in bytes.
constexpr std::size_t kDefaultOutputPage = 256 * 1024;
constexpr std::size_t kMaxOutputPage = 4 * 1024 * 1024;

// What a job-shaped reply loads of each run's output: nothing unless
// `outputs`, else the last `max_output` bytes (default `tail`).
Result<store::OutputLimit> output_limit(const Exchange& exchange, bool outputs, std::size_t tail) {
  auto max_output = query_count(exchange, "max_output");
  if (!max_output) return max_output.error();
  if (!outputs) return store::OutputLimit{0};
  return store::OutputLimit{*max_output ? static_cast<std::size_t>(**max_output) : tail};
}

boost::json::array id_array(std::vector<std::string> ids) {
  boost::json::array out;
  for (auto& jid : ids) out.emplace_back(std::move(jid));
  return out;
}

std::string ndjson(const boost::json::value& value) { return boost::json::serialize(value) + "\n"; }

std::string sse(const char* event, const boost::json::value& data, std::uint64_t id = 0) {
  std::string out = std::string("event: ") + event + "\n";
  if (id > 0) out += "id: " + std::to_string(id) + "\n";
  return out + "data: " + boost::json::serialize(data) + "\n\n";
}

const char* stream_name(store::OutputStream stream) {
  return stream == store::OutputStream::Stdout ? "stdout" : "stderr";
}

// EXEd lists every job: ids, or job objects with `detail`; `offset` and
// `limit` page through the same newest-first order.
awaitable<void> list_jobs(ApiContext& context, JobReplies& replies, Exchange& exchange) {
  auto detail = query_flag(exchange, "detail");
  if (!detail) co_return co_await exchange.reply_error(detail.error());
  auto outputs = query_flag(exchange, "outputs");
  if (!outputs) co_return co_await exchange.reply_error(outputs.error());
  auto offset = query_count(exchange, "offset");
  if (!offset) co_return co_await exchange.reply_error(offset.error());
  auto limit = query_count(exchange, "limit");
  if (!limit) co_return co_await exchange.reply_error(limit.error());
  auto output = output_limit(exchange, *outputs, kListOutputTail);
  if (!output) co_return co_await exchange.reply_error(output.error());
  store::JobPage page;
  page.offset = static_cast<std::size_t>(offset->value_or(0));
  if (*limit) page.limit = static_cast<std::size_t>(**limit);

  if (*detail) {
    // Only the finished text crosses the write (JobReplies).
    auto body = co_await replies.listing(page, *outputs, *output);
    if (!body) co_return co_await exchange.reply_error(body.error());
    co_return co_await exchange.reply_json(http::status::ok, *body);
  }
  auto ids = co_await context.jobs.list_ids(page);
  if (!ids) co_return co_await exchange.reply_error(ids.error());
  const boost::json::value body = id_array(std::move(*ids));
  co_await exchange.reply(http::status::ok, body);
}

// EXEd's follow: the job object, then {"HOST": result} for each target as it
// finishes (those finished before the follow began come first), one
// document per line; the stream ends when the job does.
awaitable<void> follow_job(ApiContext& context, Exchange& exchange, const std::string& jid, bool outputs,
                           store::OutputLimit output) {
  auto subscription = co_await context.jobs.subscribe(jid, false);
  if (!subscription) co_return co_await exchange.reply_error(subscription.error());
  auto job = co_await context.jobs.get(jid, output);
  if (!job) co_return co_await exchange.reply_error(job.error());
  if (!co_await exchange.begin_stream("application/x-ndjson")) co_return;
  // Locals, not temporaries, in co_await expressions (GCC 12).
  std::string line = ndjson(job_object(*job, outputs));
  if (!co_await exchange.write_chunk(line)) co_return;
  while (auto event = co_await next_while_connected(**subscription, exchange, Heartbeat::None)) {
    if (event->kind != jobs::JobEvent::Kind::Result) continue;
    boost::json::object document;
    document[event->target] = result_entry(job->operate, event->run, outputs);
    line = ndjson(document);
    if (!co_await exchange.write_chunk(line)) co_return;
  }
  if ((*subscription)->dropped())
    (void)co_await exchange.write_chunk(ndjson(message_object("stream dropped: reader too slow")));
  co_await exchange.end_stream();
}

awaitable<void> get_job(ApiContext& context, JobReplies& replies, Exchange& exchange) {
  const auto& jid = exchange.captures.at("jid");
  auto outputs = query_flag(exchange, "outputs");
  if (!outputs) co_return co_await exchange.reply_error(outputs.error());
  auto follow = query_flag(exchange, "follow");
  if (!follow) co_return co_await exchange.reply_error(follow.error());
  auto output = output_limit(exchange, *outputs, kJobOutputTail);
  if (!output) co_return co_await exchange.reply_error(output.error());
  if (*follow) co_return co_await follow_job(context, exchange, jid, *outputs, *output);
  auto body = co_await replies.job(jid, *outputs, *output);
  if (!body) co_return co_await exchange.reply_error(body.error());
  co_await exchange.reply_json(http::status::ok, *body);
}

Result<store::OutputStream> query_stream(const Exchange& exchange) {
  auto name = exchange.param("stream").value_or("stdout");
  if (name == "stdout") return store::OutputStream::Stdout;
  if (name == "stderr") return store::OutputStream::Stderr;
  return make_error(ErrorCode::InvalidArgument, "'stream' must be stdout or stderr, not '" + std::string(name) + "'");
}

Result<std::size_t> query_page_size(const Exchange& exchange) {
  auto limit = query_count(exchange, "limit");
  if (!limit) return limit.error();
  if (!*limit) return kDefaultOutputPage;
  if (**limit < 1 || static_cast<std::uint64_t>(**limit) > kMaxOutputPage)
    return make_error(ErrorCode::InvalidArgument, "'limit' must be 1 to " + std::to_string(kMaxOutputPage) + " bytes");
  return static_cast<std::size_t>(**limit);
}

// One page of a finished target's stdout or stderr, read from the store
// without loading the rest. A page that stops before the end of the stream
// ends on a character boundary, so that pages reassemble byte for byte.
awaitable<void> job_output(ApiContext& context, Exchange& exchange) {
  const auto& jid = exchange.captures.at("jid");
  auto target = exchange.param("target");
  if (!target || target->empty())
    co_return co_await exchange.reply_error(make_error(ErrorCode::InvalidArgument, "'target' is required"));
  auto stream = query_stream(exchange);
  if (!stream) co_return co_await exchange.reply_error(stream.error());
  auto offset = query_count(exchange, "offset");
  if (!offset) co_return co_await exchange.reply_error(offset.error());
  auto limit = query_page_size(exchange);
  if (!limit) co_return co_await exchange.reply_error(limit.error());
  const auto from = static_cast<std::uint64_t>(offset->value_or(0));
  const std::string host(*target);
  auto page = co_await context.jobs.read_output(jid, host, *stream, from, *limit);
  if (!page) co_return co_await exchange.reply_error(page.error());
  std::string data = std::move(page->data);
  if (from + data.size() < page->total) {
    Utf8ChunkAligner aligner;
    if (auto whole = aligner.take(data); !whole.empty()) data = std::move(whole);
  }
  const std::uint64_t next = from + data.size();
  boost::json::object body{{"jid", jid},
                           {"target", host},
                           {"stream", stream_name(*stream)},
                           {"offset", from},
                           {"data", std::move(data)},
                           {"next_offset", next},
                           {"total", page->total},
                           {"complete", page->finished && next >= page->total}};
  const boost::json::value reply(std::move(body));
  co_await exchange.reply(http::status::ok, reply);
}

awaitable<void> job_events(ApiContext& context, Exchange& exchange) {
  const auto& jid = exchange.captures.at("jid");
  auto subscription = co_await context.jobs.subscribe(jid, true);
  if (!subscription) co_return co_await exchange.reply_error(subscription.error());
  if (!co_await exchange.begin_stream("text/event-stream")) co_return;
  while (auto event = co_await next_while_connected(**subscription, exchange, Heartbeat::SseComment)) {
    std::string frame;
    switch (event->kind) {
      case jobs::JobEvent::Kind::Output:
        frame = sse("output",
                    boost::json::object{{"target", event->target},
                                        {"stream", stream_name(event->chunk.stream)},
                                        {"data", event->chunk.data}},
                    event->chunk.seq);
        break;
      case jobs::JobEvent::Kind::Result:
        frame = sse("result", boost::json::object{{"target", event->target}, {"result", host_entry(event->run, false)}});
        break;
      case jobs::JobEvent::Kind::Done:
        frame = sse("done", job_object(event->job, false));
        break;
    }
    if (!co_await exchange.write_chunk(frame)) co_return;
  }
  if ((*subscription)->dropped())
    (void)co_await exchange.write_chunk(sse("dropped", message_object("reader too slow")));
  co_await exchange.end_stream();
}

awaitable<void> cancel_job(ApiContext& context, Exchange& exchange) {
  auto job = co_await context.jobs.cancel(exchange.captures.at("jid"), "cancelled by request");
  if (!job) co_return co_await exchange.reply_error(job.error());
  co_await exchange.reply(http::status::ok, job_object(*job, false));
}

awaitable<void> delete_job(ApiContext& context, Exchange& exchange) {
  auto removed = co_await context.jobs.remove(exchange.captures.at("jid"));
  if (!removed) co_return co_await exchange.reply_error(removed.error());
  co_await exchange.reply(http::status::no_content, nullptr);
}

}  // namespace

void add_job_routes(Router& router, ApiContext& context) {
  auto replies = std::make_shared<JobReplies>(context.jobs);
  router.add(http::verb::get, "/jobs", [&context, replies](Exchange& e) { return list_jobs(context, *replies, e); });
  router.add(http::verb::get, "/jobs/:jid",
             [&context, replies](Exchange& e) { return get_job(context, *replies, e); });
  router.add(http::verb::delete_, "/jobs/:jid", [&context](Exchange& e) { return delete_job(context, e); });
  router.add(http::verb::post, "/jobs/:jid/cancel", [&context](Exchange& e) { return cancel_job(context, e); });
  router.add(http::verb::get, "/jobs/:jid/events", [&context](Exchange& e) { return job_events(context, e); });
  router.add(http::verb::get, "/jobs/:jid/output", [&context](Exchange& e) { return job_output(context, e); });
}

}  // namespace steward::api::http
