#include "tasks/pipeline.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace steward::tasks {
namespace {

TaskFile must_parse(const std::string& text) {
  auto file = parse_task_file(text, "tasks.yaml");
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().message);
  return file.ok() ? std::move(file).value() : TaskFile{};
}

std::string parse_error(const std::string& text) {
  auto file = parse_task_file(text, "tasks.yaml");
  EXPECT_FALSE(file.ok());
  if (file.ok()) return {};
  EXPECT_EQ(file.error().code, ErrorCode::InvalidArgument);
  return file.error().message;
}

TEST(TaskFile, BareExecBlockIsThePipelineDefault) {
  auto file = must_parse(R"(exec:
  pre:
    - name: prepare
      exec: [/bin/echo, hello]
  start:
    - shell_exec: "echo started"
      async: true
      detach: true
  stop:
    - request: {url: "http://127.0.0.1:9/stop", method: post}
  post:
    - exec: /bin/true
      ignore_exitcode: yes
      retries: 2
      timeout: 1.5
      notify: true
)");
  ASSERT_EQ(file.pipelines.size(), 1u);
  const Pipeline* p = file.find("default");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->stage(Stage::Pre).size(), 1u);
  EXPECT_EQ(p->stage(Stage::Pre)[0].name, "prepare");
  EXPECT_EQ(p->stage(Stage::Pre)[0].argv, (std::vector<std::string>{"/bin/echo", "hello"}));
  EXPECT_EQ(p->stage(Stage::Pre)[0].line, 3);
  const Task& start = p->stage(Stage::Start)[0];
  EXPECT_EQ(start.mode, TaskMode::ShellExec);
  EXPECT_TRUE(start.async);
  EXPECT_TRUE(start.detach);
  const Task& stop = p->stage(Stage::Stop)[0];
  EXPECT_EQ(stop.mode, TaskMode::Request);
  EXPECT_EQ(stop.request.method, "POST");
  EXPECT_EQ(stop.request.timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(stop.request.content_type, "application/json");
  EXPECT_TRUE(stop.request.accepts(302));
  EXPECT_FALSE(stop.request.accepts(404));
  const Task& post = p->stage(Stage::Post)[0];
  EXPECT_EQ(post.argv, (std::vector<std::string>{"/bin/true"}));
  EXPECT_TRUE(post.ignore_exitcode);
  EXPECT_TRUE(post.notify);
  EXPECT_EQ(post.retries, 2);
  EXPECT_EQ(post.timeout, std::chrono::milliseconds(1500));
}

TEST(TaskFile, NamedPipelinesBesideAnExecBlock) {
  auto file = must_parse(R"(exec:
  start: [{exec: /bin/true}]
pipelines:
  warmup:
    pre:
      - shell_exec: ["echo $0 $1", a, b]
        target: "web*"
  cooldown:
    post: [{exec: /bin/false}]
)");
  ASSERT_EQ(file.pipelines.size(), 3u);
  ASSERT_NE(file.find("warmup"), nullptr);
  ASSERT_NE(file.find("cooldown"), nullptr);
  const Task& t = file.find("warmup")->stage(Stage::Pre)[0];
  EXPECT_EQ(t.target, "web*");
  EXPECT_EQ(t.argv.size(), 3u);
  EXPECT_EQ(file.find("cooldown")->stage(Stage::Post).size(), 1u);
  EXPECT_EQ(file.find("nope"), nullptr);
}

TEST(TaskFile, SuccessCodesForms) {
  auto file = must_parse(R"(exec:
  start:
    - request: {url: "https://example.org/a", success_codes: 204}
    - request: {url: "http://example.org/b", success_codes: "200-299"}
    - request: {url: "http://example.org/c", success_codes: [200, "300-302"], data: {a: 1}}
)");
  const auto& tasks = file.find("default")->stage(Stage::Start);
  EXPECT_TRUE(tasks[0].request.accepts(204));
  EXPECT_FALSE(tasks[0].request.accepts(200));
  EXPECT_TRUE(tasks[1].request.accepts(250));
  EXPECT_FALSE(tasks[1].request.accepts(300));
  EXPECT_TRUE(tasks[2].request.accepts(200));
  EXPECT_TRUE(tasks[2].request.accepts(301));
  EXPECT_FALSE(tasks[2].request.accepts(201));
  EXPECT_EQ(tasks[2].request.data, R"({"a":1})");
}

TEST(TaskFile, UnknownKeyNamesFilePipelineStageTaskAndLine) {
  auto message = parse_error(R"(exec:
  pre:
    - exec: /bin/true
  start:
    - name: warm up
      exce: /bin/true
      exec: /bin/true
)");
  EXPECT_EQ(message, "tasks.yaml:6: pipeline default, stage start, task \"warm up\": unknown key 'exce'");
}

TEST(TaskFile, TwoExecutionModes) {
  auto message = parse_error(R"(pipelines:
  bench:
    stop:
      - name: both
        exec: /bin/true
        shell_exec: "true"
)");
  EXPECT_NE(message.find("tasks.yaml:4: pipeline bench, stage stop, task \"both\":"), std::string::npos) << message;
  EXPECT_NE(message.find("two execution modes"), std::string::npos) << message;
}

TEST(TaskFile, MissingModeUsesTheTaskIndexWhenUnnamed) {
  auto message = parse_error("exec:\n  post:\n    - exec: /bin/true\n    - async: true\n");
  EXPECT_NE(message.find("tasks.yaml:4: pipeline default, stage post, task #2: needs one of"), std::string::npos)
      << message;
}

TEST(TaskFile, MalformedSuccessCodes) {
  for (const char* codes : {"\"abc\"", "\"500-200\"", "[200, \"2x0\"]", "\"-5\"", "{a: 1}"}) {
    auto message = parse_error(std::string("exec:\n  start:\n    - name: probe\n      request:\n        url: "
                                           "http://localhost/\n        success_codes: ") +
                               codes + "\n");
    EXPECT_NE(message.find("tasks.yaml:6: pipeline default, stage start, task \"probe\": malformed success_codes"),
              std::string::npos)
        << codes << " -> " << message;
  }
}

// The format's own example lists 876 among "non-standard HTTP status codes".
TEST(TaskFile, SuccessCodesTakeAnyNonNegativeInteger) {
  auto file = parse_task_file("exec:\n  pre:\n    - request: {url: http://localhost/, success_codes: [200-399, 876, 0]}\n",
                              "tasks.yaml");
  ASSERT_TRUE(file.ok()) << file.error().message;
  const auto& request = file->find("default")->stage(Stage::Pre).front().request;
  EXPECT_TRUE(request.accepts(876));
  EXPECT_TRUE(request.accepts(302));
  EXPECT_TRUE(request.accepts(0));
  EXPECT_FALSE(request.accepts(877));
  EXPECT_FALSE(request.accepts(404));
}

TEST(TaskFile, BadUrls) {
  for (const char* url : {"ftp://example.org/x", "not a url", "http://", "/relative/path"}) {
    auto message = parse_error(std::string("exec:\n  stop:\n    - name: ping\n      request: {url: \"") + url +
                               "\"}\n");
    EXPECT_NE(message.find("tasks.yaml:4: pipeline default, stage stop, task \"ping\": 'url' must be an http"),
              std::string::npos)
        << url << " -> " << message;
  }
  auto missing = parse_error("exec:\n  stop:\n    - request: {method: GET}\n");
  EXPECT_NE(missing.find("'request' needs 'url'"), std::string::npos) << missing;
}

TEST(TaskFile, BadTypesAreAllReportedAtOnce) {
  auto message = parse_error(R"(exec:
  start:
    - name: typed
      exec: {a: b}
      retries: many
      async: maybe
      timeout: -1
      detach: true
  unknown_stage: []
)");
  for (const char* expected :
       {"tasks.yaml:4: pipeline default, stage start, task \"typed\": 'exec' must be a non-empty string",
        "tasks.yaml:5: pipeline default, stage start, task \"typed\": 'retries' must be a non-negative integer",
        "tasks.yaml:6: pipeline default, stage start, task \"typed\": 'async' must be true or false",
        "tasks.yaml:7: pipeline default, stage start, task \"typed\": 'timeout' must be a positive number",
        "detach: true needs async: true", "tasks.yaml:9: pipeline default: unknown stage 'unknown_stage'"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\n--- in ---\n" << message;
  }
}

TEST(TaskFile, TopLevelAndYamlErrors) {
  EXPECT_NE(parse_error("jobs: {}\n").find("tasks.yaml:1: unknown top-level key 'jobs'"), std::string::npos);
  EXPECT_NE(parse_error("exec: [\n").find("tasks.yaml:"), std::string::npos);
  EXPECT_NE(parse_error("- a\n").find("expected a mapping"), std::string::npos);
  EXPECT_NE(parse_error("exec:\n  start: {exec: x}\n").find("stage start: expected a list of tasks"),
            std::string::npos);
}

TEST(TaskFile, LoadNamesThePathOrReportsNotFound) {
  auto missing = load_task_file("/nonexistent/tasks.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);

  auto path = (std::filesystem::temp_directory_path() / ("tasks." + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(path) << "exec:\n  start:\n    - bogus: 1\n      exec: /bin/true\n";
  auto loaded = load_task_file(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message.rfind(path + ":3: pipeline default, stage start, task #1: unknown key 'bogus'", 0),
            0u)
      << loaded.error().message;
}

}  // namespace
}  // namespace steward::tasks
