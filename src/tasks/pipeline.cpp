// servo-exec task files, parsed with yaml-cpp. Every problem is collected
// (not just the first) and named by file:line, pipeline, stage and task.
#include "tasks/pipeline.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "tasks/yaml_values.hpp"

namespace steward::tasks {

const char* to_string(Stage stage) {
  switch (stage) {
    case Stage::Pre: return "pre";
    case Stage::Start: return "start";
    case Stage::Stop: return "stop";
    case Stage::Post: return "post";
  }
  return "?";
}

const char* to_string(TaskMode mode) {
  switch (mode) {
    case TaskMode::Exec: return "exec";
    case TaskMode::ShellExec: return "shell_exec";
    case TaskMode::Request: return "request";
  }
  return "?";
}

bool HttpRequestSpec::accepts(long status) const {
  for (const auto& range : success_codes) {
    if (status >= range.low && status <= range.high) return true;
  }
  return false;
}

std::string Task::display_name() const {
  if (!name.empty()) return name;
  if (mode == TaskMode::Request) return request.method + " " + request.url;
  std::string joined;
  for (const auto& arg : argv) joined += (joined.empty() ? "" : " ") + arg;
  return joined;
}

const Pipeline* TaskFile::find(const std::string& name) const {
  auto it = pipelines.find(name);
  return it == pipelines.end() ? nullptr : &it->second;
}

namespace {

const std::set<std::string> kTaskKeys{"name",    "async",   "ignore_exitcode", "notify", "retries",
                                      "timeout", "exec",    "shell_exec",      "request", "target",
                                      "detach"};
const std::set<std::string> kRequestKeys{"method", "url",     "http_timeout", "data",
                                         "content-type", "headers", "success_codes"};

std::optional<StatusRange> parse_range_text(const std::string& text) {
  auto parse_code = [](std::string_view s) -> std::optional<int> {
    int v = 0;
    auto t = std::string(s);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(0, 1);
    auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) return std::nullopt;
    // Any non-negative integer: the format's own example lists 876
    // ("non-standard HTTP status codes").
    if (v < 0) return std::nullopt;
    return v;
  };
  auto dash = text.find('-');
  auto low = parse_code(std::string_view(text).substr(0, dash));
  auto high = dash == std::string::npos ? low : parse_code(std::string_view(text).substr(dash + 1));
  if (!low || !high || *low > *high) return std::nullopt;
  return StatusRange{*low, *high};
}

// Parses one pipeline's worth of tasks; owns the error context.
class Parser {
 public:
  explicit Parser(std::string origin) : origin_(std::move(origin)) {}

  void error(const YAML::Node& at, const std::string& message) {
    std::string where = origin_;
    if (int line = line_of(at); line > 0) where += ":" + std::to_string(line);
    where += ": ";
    if (!pipeline_.empty()) where += "pipeline " + pipeline_;
    if (!stage_.empty()) where += ", stage " + stage_;
    if (!task_.empty()) where += ", task " + task_;
    if (!pipeline_.empty()) where += ": ";
    errors_.push_back(where + message);
  }

  const std::vector<std::string>& errors() const { return errors_; }

  void parse_pipeline(const std::string& name, const YAML::Node& node, TaskFile& file) {
    pipeline_ = name;
    if (file.pipelines.count(name) != 0) {
      error(node, "defined twice");
      return;
    }
    Pipeline pipeline{name, {}};
    if (!node.IsMap() && !node.IsNull()) error(node, "expected a mapping of stages (pre, start, stop, post)");
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        std::string key = it->first.Scalar();
        auto stage = stage_named(key);
        if (!stage) {
          error(it->first, "unknown stage '" + key + "' (expected pre, start, stop or post)");
          continue;
        }
        stage_ = key;
        parse_stage(it->second, pipeline.stage(*stage));
        stage_.clear();
      }
    }
    file.pipelines.emplace(name, std::move(pipeline));
    pipeline_.clear();
  }

 private:
  static std::optional<Stage> stage_named(const std::string& key) {
    for (Stage s : kStages) {
      if (key == to_string(s)) return s;
    }
    return std::nullopt;
  }

  void parse_stage(const YAML::Node& node, std::vector<Task>& tasks) {
    if (node.IsNull()) return;
    if (!node.IsSequence()) {
      error(node, "expected a list of tasks");
      return;
    }
    int index = 0;
    for (const auto& item : node) {
      ++index;
      task_ = "#" + std::to_string(index);
      if (!item.IsMap()) {
        error(item, "expected a mapping with exec, shell_exec or request");
      } else if (auto task = parse_task(item)) {
        tasks.push_back(std::move(*task));
      }
      task_.clear();
    }
  }

  std::optional<Task> parse_task(const YAML::Node& node) {
    Task task;
    task.line = line_of(node);
    std::size_t errors_before = errors_.size();
    if (auto name = node["name"]; name && name.IsScalar()) {
      task.name = name.Scalar();
      task_ = "\"" + task.name + "\"";
    }
    std::vector<std::string> modes;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      const YAML::Node value = it->second;  // a copy: it-> yields a temporary proxy
      if (kTaskKeys.count(key) == 0) {
        error(it->first, "unknown key '" + key + "'");
      } else if (key == "exec" || key == "shell_exec" || key == "request") {
        modes.push_back(key);
        parse_mode(key, value, task);
      } else {
        parse_option(key, value, task);
      }
    }
    if (modes.empty()) error(node, "needs one of exec, shell_exec or request");
    if (modes.size() > 1) error(node, "has two execution modes (" + modes[0] + " and " + modes[1] + "); use exactly one");
    if (task.detach && !task.async) error(node["detach"], "detach: true needs async: true");
    if (!task.target.empty() && task.mode == TaskMode::Request)
      error(node["target"], "target applies to exec and shell_exec tasks, not request");
    if (errors_.size() != errors_before) return std::nullopt;
    return task;
  }

  void parse_option(const std::string& key, const YAML::Node& value, Task& task) {
    auto expect = [&](auto parsed, const char* what) {
      if (!parsed) error(value, "'" + key + "' must be " + what);
      return parsed;
    };
    if (key == "name") {
      expect(scalar_string(value), "a string");
    } else if (key == "target") {
      if (auto s = expect(scalar_string(value), "a host pattern string")) task.target = *s;
      if (task.target.empty()) error(value, "'target' must not be empty");
    } else if (key == "retries") {
      auto n = expect(integer_value(value), "a non-negative integer");
      if (n && *n < 0) error(value, "'retries' must be a non-negative integer");
      if (n) task.retries = static_cast<int>(std::min<long long>(*n, 100));
    } else if (key == "timeout") {
      if (auto ms = expect(seconds_value(value), "a positive number of seconds")) task.timeout = *ms;
    } else {
      auto b = expect(bool_value(value), "true or false");
      bool flag = b.value_or(false);
      if (key == "async") task.async = flag;
      if (key == "detach") task.detach = flag;
      if (key == "ignore_exitcode") task.ignore_exitcode = flag;
      if (key == "notify") task.notify = flag;
    }
  }

  void parse_mode(const std::string& key, const YAML::Node& value, Task& task) {
    if (key == "request") {
      task.mode = TaskMode::Request;
      parse_request(value, task.request);
      return;
    }
    task.mode = key == "exec" ? TaskMode::Exec : TaskMode::ShellExec;
    auto argv = string_list(value);
    if (!argv || argv->empty() || argv->front().empty()) {
      error(value, "'" + key + "' must be a non-empty string or a list of strings");
      return;
    }
    task.argv = std::move(*argv);
  }

  void parse_request(const YAML::Node& node, HttpRequestSpec& request) {
    if (!node.IsMap()) {
      error(node, "'request' must be a mapping with at least 'url'");
      return;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      const YAML::Node value = it->second;  // a copy: it-> yields a temporary proxy
      if (kRequestKeys.count(key) == 0) {
        error(it->first, "unknown request key '" + key + "'");
      } else if (key == "method") {
        auto method = scalar_string(value);
        if (!method || method->empty() || !is_token(*method)) error(value, "'method' must be an HTTP method name");
        if (method) for (char& c : *method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (method) request.method = *method;
      } else if (key == "url") {
        auto url = scalar_string(value);
        if (!url || !valid_http_url(*url)) {
          error(value, "'url' must be an http:// or https:// URL with a host, got '" +
                           (url ? *url : std::string("?")) + "'");
        } else {
          request.url = *url;
        }
      } else if (key == "http_timeout") {
        if (auto ms = seconds_value(value)) request.timeout = *ms;
        else error(value, "'http_timeout' must be a positive number of seconds");
      } else if (key == "data") {
        if (auto text = data_text(value)) request.data = *text;
        else error(value, "'data' must be a string, a mapping or a list");
      } else if (key == "content-type") {
        if (auto s = scalar_string(value)) request.content_type = *s;
        else error(value, "'content-type' must be a string");
      } else if (key == "headers") {
        if (auto headers = string_map(value)) request.headers = std::move(*headers);
        else error(value, "'headers' must be a mapping of names to strings");
      } else if (key == "success_codes") {
        parse_success_codes(value, request);
      }
    }
    if (!node["url"]) error(node, "'request' needs 'url'");
  }

  void parse_success_codes(const YAML::Node& value, HttpRequestSpec& request) {
    std::vector<YAML::Node> items;
    if (value.IsSequence()) {
      for (std::size_t i = 0; i < value.size(); ++i) items.push_back(value[i]);
    }
    if (value.IsScalar()) items.push_back(value);
    if (items.empty()) {
      error(value, "malformed success_codes (expected a code, a \"200-399\" range, or a list of them)");
      return;
    }
    std::vector<StatusRange> ranges;
    for (const auto& item : items) {
      std::string text = item.IsScalar() ? item.Scalar() : std::string("?");
      auto range = item.IsScalar() ? parse_range_text(text) : std::nullopt;
      if (range) {
        ranges.push_back(*range);
      } else {
        error(item, "malformed success_codes entry '" + text +
                        "' (expected a status code like 200 or a range like \"200-399\")");
      }
    }
    if (!ranges.empty()) request.success_codes = std::move(ranges);
  }

  static bool is_token(const std::string& s) {
    for (char c : s) {
      if (!std::isalpha(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    return true;
  }

  static bool valid_http_url(const std::string& text) {
    auto url = boost::urls::parse_absolute_uri(text);
    if (!url) return false;
    auto scheme = url->scheme();
    return (scheme == "http" || scheme == "https") && url->has_authority() && !url->host().empty();
  }

  std::string origin_;
  std::string pipeline_, stage_, task_;
  std::vector<std::string> errors_;
};

Error joined_error(const std::vector<std::string>& errors) {
  std::string message;
  for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
  return make_error(ErrorCode::InvalidArgument, message);
}

}  // namespace

Result<TaskFile> parse_task_file(std::string_view text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::InvalidArgument,
                      origin + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  Parser parser(origin);
  TaskFile file;
  file.origin = origin;
  if (!root.IsMap()) {
    parser.error(root, "expected a mapping with 'exec' or 'pipelines'");
    return joined_error(parser.errors());
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string key = it->first.Scalar();
    if (key == "exec") {
      parser.parse_pipeline("default", it->second, file);
    } else if (key == "pipelines") {
      if (!it->second.IsMap()) {
        parser.error(it->second, "'pipelines' must be a mapping of names to pipelines");
        continue;
      }
      for (auto p = it->second.begin(); p != it->second.end(); ++p) {
        parser.parse_pipeline(p->first.Scalar(), p->second, file);
      }
    } else {
      parser.error(it->first, "unknown top-level key '" + key + "' (expected exec or pipelines)");
    }
  }
  if (parser.errors().empty() && file.pipelines.empty()) parser.error(root, "no pipelines defined");
  if (!parser.errors().empty()) return joined_error(parser.errors());
  return file;
}

Result<TaskFile> load_task_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::NotFound, "cannot read task file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_task_file(text.str(), path);
}

}  // namespace steward::tasks
