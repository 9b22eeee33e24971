// /jobs: listing, reading, following (NDJSON), events (SSE), cancel, delete.
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"
#include "jobs/job_service.hpp"
#include "ops/args.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

constexpr std::int64_t kDefaultListLimit = 100;
constexpr std::int64_t kMaxListLimit = 10000;

bool flag(const Exchange& exchange, const char* name) {
  auto value = exchange.param(name);
  return value && (*value == "1" || *value == "true" || *value == "yes");
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

awaitable<void> list_jobs(ApiContext& context, Exchange& exchange) {
  std::int64_t limit = kDefaultListLimit;
  if (auto given = exchange.param("limit")) {
    auto parsed = ops::required_int(boost::json::object{{"limit", *given}}, "limit");
    if (!parsed || *parsed < 1) co_return co_await exchange.reply_error(http::status::bad_request, "'limit' must be a positive integer");
    limit = std::min(*parsed, kMaxListLimit);
  }
  auto jobs = co_await context.jobs.list(static_cast<std::size_t>(limit));
  if (!jobs) co_return co_await exchange.reply_error(jobs.error());
  bool detail = flag(exchange, "detail");
  boost::json::array out;
  for (const auto& job : *jobs) {
    if (detail) out.emplace_back(job_object(job, flag(exchange, "outputs")));
    else out.emplace_back(job.jid);
  }
  co_await exchange.reply(http::status::ok, out);
}

// The job, then one line per target as it finishes, then the final job.
awaitable<void> follow_job(ApiContext& context, Exchange& exchange, const std::string& jid, bool outputs) {
  auto subscription = co_await context.jobs.subscribe(jid, false);
  if (!subscription) co_return co_await exchange.reply_error(subscription.error());
  auto job = co_await context.jobs.get(jid);
  if (!job) co_return co_await exchange.reply_error(job.error());
  if (!co_await exchange.begin_stream("application/x-ndjson")) co_return;
  if (!co_await exchange.write_chunk(ndjson(job_object(*job, outputs)))) co_return;
  while (auto event = co_await (*subscription)->next()) {
    std::string line;
    if (event->kind == jobs::JobEvent::Kind::Result) {
      line = ndjson(boost::json::object{{"target", event->target}, {"result", host_entry(event->run, true)}});
    } else if (event->kind == jobs::JobEvent::Kind::Done) {
      line = ndjson(job_object(event->job, outputs));
    }
    if (!co_await exchange.write_chunk(line)) co_return;
  }
  if ((*subscription)->dropped())
    (void)co_await exchange.write_chunk(ndjson(message_object("stream dropped: reader too slow")));
  co_await exchange.end_stream();
}

awaitable<void> get_job(ApiContext& context, Exchange& exchange) {
  const auto& jid = exchange.captures.at("jid");
  bool outputs = flag(exchange, "outputs");
  if (flag(exchange, "follow")) co_return co_await follow_job(context, exchange, jid, outputs);
  auto job = co_await context.jobs.get(jid);
  if (!job) co_return co_await exchange.reply_error(job.error());
  co_await exchange.reply(http::status::ok, job_object(*job, outputs));
}

awaitable<void> job_events(ApiContext& context, Exchange& exchange) {
  const auto& jid = exchange.captures.at("jid");
  auto subscription = co_await context.jobs.subscribe(jid, true);
  if (!subscription) co_return co_await exchange.reply_error(subscription.error());
  if (!co_await exchange.begin_stream("text/event-stream")) co_return;
  while (auto event = co_await (*subscription)->next()) {
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
  router.add(http::verb::get, "/jobs", [&context](Exchange& e) { return list_jobs(context, e); });
  router.add(http::verb::get, "/jobs/:jid", [&context](Exchange& e) { return get_job(context, e); });
  router.add(http::verb::delete_, "/jobs/:jid", [&context](Exchange& e) { return delete_job(context, e); });
  router.add(http::verb::post, "/jobs/:jid/cancel", [&context](Exchange& e) { return cancel_job(context, e); });
  router.add(http::verb::get, "/jobs/:jid/events", [&context](Exchange& e) { return job_events(context, e); });
}

}  // namespace steward::api::http
