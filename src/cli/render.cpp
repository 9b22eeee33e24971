#include "cli/render.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <algorithm>
#include <cmath>
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

std::string table_text(std::span<const TableColumn> columns, const std::vector<TableRow>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& column : columns) widths.push_back(column.width);
  for (const auto& row : rows)
    for (std::size_t i = 0; i + 1 < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size() + 1);
  auto line = [&](auto&& cell_at) {
    std::string out;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      std::string cell = cell_at(i);
      if (i + 1 < columns.size()) cell.resize(std::max(cell.size(), widths[i]), ' ');
      out += cell;
    }
    return out + "\n";
  };
  std::string out = line([&](std::size_t i) { return std::string(columns[i].title); });
  for (const auto& row : rows) out += line([&](std::size_t i) { return i < row.size() ? row[i] : std::string(); });
  return out;
}

void print_table(std::span<const TableColumn> columns, const std::vector<TableRow>& rows) {
  std::cout << table_text(columns, rows);
}

std::string byte_size(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  for (; value >= 1024 && unit + 1 < std::size(units); ++unit) value /= 1024;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string sparkline(std::span<const double> values) {
  static const char* blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
  std::string out;
  for (double value : values) {
    const double level = std::isnan(value) ? 0 : std::clamp(value, 0.0, 1.0);
    out += blocks[static_cast<std::size_t>(std::lround(level * 7))];
  }
  return out;
}

ProgressBar::ProgressBar() : enabled_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::update(std::size_t done, std::size_t total) {
  if (!enabled_ || total == 0) return;
  draw(done, total, std::to_string(done) + "/" + std::to_string(total));
}

void ProgressBar::update_bytes(std::uint64_t done, std::uint64_t total, const std::string& label) {
  if (!enabled_) return;
  draw(done, std::max<std::uint64_t>(total, 1), byte_size(done) + " / " + byte_size(total) + " " + label);
}

void ProgressBar::draw(std::uint64_t done, std::uint64_t total, const std::string& counts) {
  constexpr std::uint64_t kWidth = 30;
  const std::uint64_t filled = std::min(done, total) * kWidth / total;
  std::fprintf(stderr, "\r\033[K[%s%s] %s", std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
               counts.c_str());
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
