// `steward tasks ls | check FILE | run NAME --duration S [--follow]`.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "cli/render.hpp"
#include "cli/session.hpp"
#include "tasks/pipeline.hpp"

namespace steward::cli {
namespace {

void print_pipelines(const boost::json::object& listing) {
  for (const auto& entry : listing.at("pipelines").as_array()) {
    const auto& pipeline = entry.as_object();
    std::cout << pipeline.at("name").as_string().c_str() << "\n";
    for (const auto& [stage, tasks] : pipeline.at("stages").as_object()) {
      for (const auto& task : tasks.as_array()) {
        const auto& t = task.as_object();
        std::cout << "  " << std::string(stage) << ": " << t.at("name").as_string().c_str() << " ("
                  << t.at("mode").as_string().c_str() << (t.at("async").as_bool() ? ", async" : "") << ")\n";
      }
    }
  }
}

// One line per task of a finished run; 0 when the run succeeded.
int print_run(const boost::json::object& state) {
  const auto& run = state.at("run");
  if (!run.is_object()) {
    std::cout << "run " << state.at("jid").as_string().c_str() << ": no run record\n";
    return 1;
  }
  for (const auto& [stage, tasks] : run.at("stages").as_object()) {
    for (const auto& task : tasks.as_array()) {
      const auto& t = task.as_object();
      std::cout << std::string(stage) << "/" << t.at("name").as_string().c_str() << ": "
                << t.at("status").as_string().c_str();
      if (const auto* code = t.if_contains("exit_code")) std::cout << ", exit " << boost::json::serialize(*code);
      if (const auto* code = t.if_contains("http_status")) std::cout << ", HTTP " << boost::json::serialize(*code);
      if (const auto* attempts = t.if_contains("attempts"); attempts && attempts->to_number<int>() > 1)
        std::cout << ", " << attempts->to_number<int>() << " attempts";
      std::cout << "\n";
    }
  }
  const auto outcome = run.at("state").as_string();
  std::cout << "pipeline " << run.at("pipeline").as_string().c_str() << ": " << outcome.c_str() << "\n";
  return outcome == "ok" ? 0 : 1;
}

}  // namespace

void add_task_commands(CLI::App& app, std::shared_ptr<ClientOptions> options, int& exit_code) {
  auto* tasks = app.add_subcommand("tasks", "staged task pipelines: list, check a file, run one");
  tasks->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  auto* check = tasks->add_subcommand("check", "validate a pipeline file (servo-exec YAML) without a server");
  check->add_option("file", *file, "the file")->required();
  check->callback([file, &exit_code] {
    auto loaded = tasks::load_task_file(*file);
    if (!loaded) {
      std::cerr << loaded.error().message << "\n";
      exit_code = 1;
      return;
    }
    std::cout << *file << ": " << loaded->pipelines.size() << " pipeline(s) OK:";
    for (const auto& [name, _] : loaded->pipelines) std::cout << " " << name;
    std::cout << "\n";
  });

  auto* ls = tasks->add_subcommand("ls", "the server's pipelines and their tasks");
  add_connection_flags(*ls, *options);
  ls->callback([options, &exit_code] {
    with_session(*options, exit_code, [](Session& session) {
      auto reply = session.call("GET", "/tasks");
      if (!reply) return report(reply.error());
      if (session.json()) std::cout << pretty_json(*reply) << "\n";
      else print_pipelines(reply->as_object());
      return 0;
    });
  });

  auto name = std::make_shared<std::string>();
  auto duration = std::make_shared<double>(0);
  auto follow = std::make_shared<bool>(false);
  auto* run = tasks->add_subcommand("run", "run a pipeline: pre, start, wait DURATION, stop, post");
  run->add_option("name", *name, "pipeline name")->required();
  run->add_option("--duration", *duration, "seconds between start and stop")->check(CLI::NonNegativeNumber);
  run->add_flag("--follow,-f", *follow, "wait for the run and print each task");
  add_connection_flags(*run, *options);
  run->callback([options, name, duration, follow, &exit_code] {
    with_session(*options, exit_code, [&](Session& session) {
      auto started = session.call("POST", "/tasks",
                                  boost::json::serialize(boost::json::object{{"name", *name}, {"duration", *duration}}));
      if (!started) return report(started.error());
      const std::string jid(started->at("jid").as_string());
      if (!*follow) {
        std::cout << (session.json() ? pretty_json(*started) : jid) << "\n";
        return 0;
      }
      const std::string read = boost::json::serialize(boost::json::object{{"jid", jid}});
      auto state = session.call("POST", "/tasks", read);
      while (state && state->at("state").to_number<int>() == 1) {  // running: a pipeline ends on its own
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        state = session.call("POST", "/tasks", read);
      }
      if (!state) return report(state.error());
      if (!session.json()) return print_run(state->as_object());
      std::cout << pretty_json(*state) << "\n";
      return state->at("state").to_number<int>() == 0 ? 0 : 1;
    });
  });
}

}  // namespace steward::cli
