#include "cli/render.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "core/json_text.hpp"

namespace steward::cli {

std::string status_name(std::int64_t status) {
  static const char* names[] = {"announce", "ok", "skipped", "failed", "unreachable", "changed"};
  return status >= 0 && status <= 5 ? names[status] : "status " + std::to_string(status);
}

bool status_failed(std::int64_t status) { return status == 3 || status == 4; }

std::string pretty_json(const boost::json::value& value, int indent) {
  std::string pad(indent + 2, ' '), closing(indent, ' ');
  if (value.is_object()) {
    if (value.as_object().empty()) return "{}";
    std::string out = "{\n";
    bool first = true;
    for (const auto& [key, item] : value.as_object()) {
      out += (first ? "" : ",\n") + pad + boost::json::serialize(boost::json::string(key)) + ": " + pretty_json(item, indent + 2);
      first = false;
    }
    return out + "\n" + closing + "}";
  }
  if (value.is_array()) {
    if (value.as_array().empty()) return "[]";
    std::string out = "[\n";
    bool first = true;
    for (const auto& item : value.as_array()) {
      out += (first ? "" : ",\n") + pad + pretty_json(item, indent + 2);
      first = false;
    }
    return out + "\n" + closing + "]";
  }
  return boost::json::serialize(value);
}

namespace {

std::int64_t status_of(const boost::json::object& entry) {
  auto* status = entry.if_contains("status");
  return status && status->is_int64() ? status->as_int64() : -1;
}

std::string detail(const boost::json::object& entry) {
  std::string out;
  if (auto* rtc = entry.if_contains("rtc"); rtc && rtc->is_int64()) out += "rtc " + std::to_string(rtc->as_int64());
  if (auto error = text_of(entry, "error"); !error.empty()) out += (out.empty() ? "" : ", ") + error;
  return out;
}

void print_stream(const std::string& data, bool truncated, std::ostream& out) {
  if (data.empty()) return;
  out << data;
  if (data.back() != '\n') out << '\n';
  if (truncated) out << "[output truncated by the server's cap]\n";
}

}  // namespace

void print_host_block(const std::string& host, const boost::json::object& entry) {
  std::string extra = detail(entry);
  std::cout << "=== " << host << ": " << status_name(status_of(entry)) << (extra.empty() ? "" : " (" + extra + ")")
            << " ===\n";
  print_stream(text_of(entry, "stdout"), entry.contains("stdout_truncated"), std::cout);
  std::string err = text_of(entry, "stderr");
  if (!err.empty()) {
    std::cout << "--- stderr ---\n";
    print_stream(err, entry.contains("stderr_truncated"), std::cout);
  }
  std::cout.flush();
}

void print_host_line(const std::string& host, const boost::json::object& entry) {
  std::string extra = detail(entry);
  std::cout << host << ": " << status_name(status_of(entry)) << (extra.empty() ? "" : " (" + extra + ")") << "\n";
}

ProgressBar::ProgressBar() : enabled_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::update(std::size_t done, std::size_t total) {
  if (!enabled_ || total == 0) return;
  constexpr std::size_t kWidth = 30;
  std::size_t filled = done * kWidth / total;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
               done, total);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

std::string local_time(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

}  // namespace steward::cli
