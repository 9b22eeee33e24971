// `steward jobs ls | show | follow | cancel | rm`.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>

#include "cli/render.hpp"
#include "cli/session.hpp"

namespace steward::cli {
namespace {

const char* job_state_name(std::int64_t state) {
  switch (state) {
    case 0: return "done";
    case 1: return "running";
    case 2: return "failure";
  }
  return "?";
}

void print_job_rows(const boost::json::array& jobs) {
  static constexpr TableColumn kColumns[] = {{"JID", 38}, {"STATE", 9}, {"OPERATION", 10}, {"DONE", 9}, {"STARTED", 0}};
  std::vector<TableRow> rows;
  for (const auto& entry : jobs) {
    const auto& job = entry.as_object();
    const auto& progress = job.at("progress").as_object();
    rows.push_back({std::string(job.at("jid").as_string()), job_state_name(job.at("state").to_number<std::int64_t>()),
                    std::string(job.at("operate").as_string()),
                    std::to_string(progress.at("done").to_number<std::int64_t>()) + "/" +
                        std::to_string(progress.at("total").to_number<std::int64_t>()),
                    local_time(job.at("startat").to_number<double>())});
  }
  print_table(kColumns, rows);
}

void print_job(const boost::json::object& job) {
  std::cout << "job " << job.at("jid").as_string().c_str() << ": " << job_state_name(job.at("state").to_number<std::int64_t>())
            << ", " << job.at("operate").as_string().c_str() << " " << boost::json::serialize(job.at("operate_args")) << "\n";
  std::cout << "started " << local_time(job.at("startat").to_number<double>()) << ", finished "
            << local_time(job.at("finishat").to_number<double>()) << "\n";
  if (auto error = job.at("error").as_string(); !error.empty()) std::cout << "error: " << error.c_str() << "\n";
  for (const auto& [host, entry] : job.at("return_data").as_object()) print_host_block(std::string(host), entry.as_object());
}

using Body = std::function<int(Session&)>;

CLI::App* job_command(CLI::App& jobs, const char* name, const char* help, std::shared_ptr<ClientOptions> options,
                      int& exit_code, std::shared_ptr<std::string> jid, const std::function<int(Session&, const std::string&)>& body) {
  auto* command = jobs.add_subcommand(name, help);
  if (jid) command->add_option("jid", *jid, "job id")->required();
  add_connection_flags(*command, *options);
  command->callback([options, jid, body, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) { return body(session, jid ? *jid : ""); });
  });
  return command;
}

}  // namespace

void add_job_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* jobs = app.add_subcommand("jobs", "list, show, follow, cancel and delete jobs");
  jobs->require_subcommand(0, 1);
  auto limit = std::make_shared<int>(20);
  std::function<int(Session&, const std::string&)> list = [limit](Session& session, const std::string&) {
    auto reply = session.call("GET", "/jobs?detail=1&limit=" + std::to_string(*limit));
    if (!reply) return report(reply.error());
    if (session.json()) {
      std::cout << pretty_json(*reply) << "\n";
      return 0;
    }
    print_job_rows(reply->as_array());
    return 0;
  };
  auto* ls = job_command(*jobs, "ls", "newest jobs first", options, exit_code, nullptr, list);
  ls->add_option("--limit", *limit, "how many jobs")->check(CLI::PositiveNumber);
  // `steward jobs` alone lists.
  jobs->callback([jobs, options, list, &exit_code] {
    if (!jobs->get_subcommands().empty()) return;
    with_session(*options, exit_code, [&](Session& session) { return list(session, ""); });
  });

  auto jid = std::make_shared<std::string>();
  job_command(*jobs, "show", "a job with each host's result and output", options, exit_code, jid, [](Session& session, const std::string& id) {
    auto reply = session.call("GET", "/jobs/" + url_encode(id) + "?outputs=1");
    if (!reply) return report(reply.error());
    if (session.json()) std::cout << pretty_json(*reply) << "\n";
    else print_job(reply->as_object());
    return reply->as_object().at("state").to_number<int>() == 2 ? 1 : 0;
  });
  job_command(*jobs, "follow", "stream a job's results until it ends", options, exit_code, jid,
              [](Session& session, const std::string& id) { return follow_job(session, id); });
  job_command(*jobs, "cancel", "stop a running job (its processes are killed)", options, exit_code, jid, [](Session& session, const std::string& id) {
    auto reply = session.call("POST", "/jobs/" + url_encode(id) + "/cancel");
    if (!reply) return report(reply.error());
    if (session.json()) std::cout << pretty_json(*reply) << "\n";
    else std::cout << "job " << id << ": " << job_state_name(reply->as_object().at("state").to_number<std::int64_t>()) << "\n";
    return 0;
  });
  job_command(*jobs, "rm", "delete a job (cancelling it first if it runs)", options, exit_code, jid, [](Session& session, const std::string& id) {
    auto reply = session.call("DELETE", "/jobs/" + url_encode(id));
    if (!reply) return report(reply.error());
    if (!session.json()) std::cout << "deleted job " << id << "\n";
    return 0;
  });
}

}  // namespace steward::cli
