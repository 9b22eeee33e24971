#pragma once
// Shared by the runner tests: a scratch directory, pipelines from YAML, runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/process_probe.hpp"
#include "support/run_sync.hpp"
#include "tasks/runner.hpp"

namespace steward::tasks::test {

using namespace std::chrono_literals;
using steward::testing::process_alive;

struct Scratch {
  std::filesystem::path dir;
  Scratch() {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() /
          ("steward-tasks-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::create_directories(dir);
  }
  ~Scratch() { std::filesystem::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  std::string read(const std::string& name) const {
    std::ifstream in(path(name));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

inline Pipeline pipeline_from(const std::string& yaml) {
  auto file = parse_task_file(yaml, "test.yaml");
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().message);
  if (!file.ok()) return {};
  return file->pipelines.begin()->second;
}

inline RunnerOptions fast_options() {
  RunnerOptions options;
  options.retry_backoff = 20ms;
  options.kill_grace = 300ms;
  return options;
}

inline boost::json::object run_pipeline(const std::string& yaml, std::chrono::milliseconds duration = 0ms,
                                        RunnerOptions options = fast_options()) {
  boost::asio::io_context io;  // outlives the runner, whose timers it serves
  auto runner = PipelineRunner::create(pipeline_from(yaml), std::move(options));
  return steward::testing::run_sync(io, runner->run(duration));
}

inline const boost::json::object& task_of(const boost::json::object& record, const char* stage, std::size_t i) {
  return record.at("stages").as_object().at(stage).as_array().at(i).as_object();
}

inline std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

inline pid_t read_pid(const std::string& path) {
  pid_t pid = 0;
  std::ifstream(path) >> pid;
  return pid;
}

}  // namespace steward::tasks::test
