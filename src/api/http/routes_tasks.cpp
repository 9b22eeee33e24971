// Staged task pipelines over REST: list them, start a run (a job of the
// `tasks` operation on the server itself), read a run's state. /tasks is
// steward's path, /task EXEd's.
#include <boost/json/array.hpp>

#include "api/http/json_codec.hpp"
#include "api/http/routes.hpp"
#include "jobs/job_service.hpp"
#include "tasks/operation.hpp"

namespace steward::api::http {

namespace http = beast::http;
using boost::asio::awaitable;

namespace {

awaitable<void> list_pipelines(ApiContext& context, Exchange& exchange) {
  const boost::json::value body = tasks::describe(context.tasks);
  co_await exchange.reply(http::status::ok, body);
}

// EXEd's GET /task: [{"name", "type"}] per task runner, `type` being the key
// that picks the runner to start. A pipeline is picked by its name, so both
// hold the name.
awaitable<void> list_task_runners(ApiContext& context, Exchange& exchange) {
  boost::json::array runners;
  for (const auto& [name, pipeline] : context.tasks.pipelines) runners.push_back({{"name", name}, {"type", name}});
  const boost::json::value body(std::move(runners));
  co_await exchange.reply(http::status::ok, body);
}

// {"jid", "state", "error", "startat", "finishat", "run"}: `run` is the run
// record once the run has ended; while it runs, its output (one line per
// finished task) is in the job: GET /jobs/JID?outputs=1.
boost::json::object run_state(const Job& job) {
  boost::json::object state{{"jid", job.jid},         {"state", static_cast<int>(job.state)},
                            {"error", job.error},     {"startat", job.startat},
                            {"finishat", job.finishat}, {"run", nullptr}};
  for (const auto& [_, run] : job.runs)
    if (!run.result.facts.is_null()) state["run"] = run.result.facts;
  return state;
}

awaitable<void> run_or_read(ApiContext& context, Exchange& exchange) {
  auto body = parse_object(exchange.request().body());
  if (!body) co_return co_await exchange.reply_error(body.error());
  if (body->contains("jid")) {
    const auto* jid = body->at("jid").if_string();
    if (!jid || body->size() != 1)
      co_return co_await exchange.reply_error(
          make_error(ErrorCode::InvalidArgument, "read a run with {\"jid\": \"...\"} alone"));
    auto job = co_await context.jobs.get(std::string(*jid));
    if (!job) co_return co_await exchange.reply_error(job.error());
    if (job->operate != "tasks") {
      auto error = make_error(ErrorCode::NotFound, "job " + job->jid + " is not a pipeline run");
      co_return co_await exchange.reply_error(error);
    }
    co_return co_await exchange.reply(http::status::ok, run_state(*job));
  }
  jobs::JobRequest request{"tasks", std::move(*body), {tasks::server_target()}};
  auto jid = co_await context.jobs.submit(std::move(request));
  if (!jid) co_return co_await exchange.reply_error(jid.error());
  boost::json::object reply{{"jid", *jid}};
  co_await exchange.reply(http::status::created, reply);
}

}  // namespace

void add_task_routes(Router& router, ApiContext& context) {
  router.add(http::verb::get, "/tasks", [&context](Exchange& e) { return list_pipelines(context, e); });
  router.add(http::verb::post, "/tasks", [&context](Exchange& e) { return run_or_read(context, e); });
  // EXEd served the singular path.
  router.add(http::verb::get, "/task", [&context](Exchange& e) { return list_task_runners(context, e); });
  router.add(http::verb::post, "/task", [&context](Exchange& e) { return run_or_read(context, e); });
}

}  // namespace steward::api::http
