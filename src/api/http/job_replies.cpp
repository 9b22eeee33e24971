#include "api/http/job_replies.hpp"

#include <boost/json/serialize.hpp>

#include <iterator>

#include "api/http/json_codec.hpp"
#include "core/strings.hpp"
#include "jobs/job_service.hpp"

namespace steward::api::http {
namespace {

// Past this many jobs to load, a listing reads its whole page in one store
// call instead of one call per job, unless it embeds more than
// kBulkTail of each stream (an explicit max_output): then one job at a time
// is in memory beside the texts made so far.
constexpr std::size_t kLoadOneByOne = 8;
constexpr std::size_t kBulkTail = 4 * 1024;

// Plain functions, not coroutines: the DOM is gone before any co_await.
std::string job_text(const Job& job, bool outputs) {
  return to_valid_utf8(boost::json::serialize(job_object(job, outputs)));
}

// What boost::json::serialize makes of an array of these objects (no
// whitespace), plus the newline every JSON reply ends with.
JsonText json_array(const std::vector<JsonText>& texts) {
  std::size_t size = 3 + texts.size();
  for (const auto& text : texts) size += text->size();
  std::string out;
  out.reserve(size);
  out += '[';
  for (const auto& text : texts) {
    if (out.size() > 1) out += ',';
    out += *text;
  }
  out += "]\n";
  return std::make_shared<const std::string>(std::move(out));
}

std::string text_key(const std::string& jid, bool outputs, const store::OutputLimit& output) {
  return "job " + jid + (outputs ? " outputs " + std::to_string(output.tail) : std::string());
}

std::string listing_key(const store::JobPage& page, bool outputs, const store::OutputLimit& output) {
  return "list " + std::to_string(page.offset) + " " + (page.limit ? std::to_string(*page.limit) : "all") +
         (outputs ? " outputs " + std::to_string(output.tail) : std::string());
}

std::string joined(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += id + '\n';
  return out;
}

}  // namespace

JsonText JobTextCache::find(const std::string& key, const std::string& version) {
  auto it = index_.find(key);
  if (it == index_.end() || it->second->version != version) return nullptr;
  recent_.splice(recent_.begin(), recent_, it->second);
  return it->second->text;
}

void JobTextCache::put(const std::string& key, JsonText text, std::string version) {
  if (auto it = index_.find(key); it != index_.end()) erase(it->second);
  Entry entry{key, std::move(version), std::move(text)};
  if (entry.bytes() > budget_ / 4) return;
  bytes_ += entry.bytes();
  recent_.push_front(std::move(entry));
  index_[key] = recent_.begin();
  while (bytes_ > budget_) erase(std::prev(recent_.end()));
}

void JobTextCache::erase(std::list<Entry>::iterator entry) {
  bytes_ -= entry->bytes();
  index_.erase(entry->key);
  recent_.erase(entry);
}

boost::asio::awaitable<Result<JsonText>> JobReplies::listing(store::JobPage page, bool outputs,
                                                             store::OutputLimit output) {
  auto ids = co_await jobs_.list_ids(page);
  if (!ids) co_return ids.error();
  const std::string key = listing_key(page, outputs, output);
  const std::string version = joined(*ids);
  // A kept listing was made only of finished jobs; the same ids, the same text.
  if (auto kept = finished_.find(key, version)) co_return kept;
  auto slot = co_await builders_.acquire();
  if (auto kept = finished_.find(key, version)) co_return kept;  // made while this request waited
  bool lasting = true;
  auto texts = co_await job_texts(*ids, page, outputs, output, lasting);
  if (!texts) co_return texts.error();
  auto body = json_array(*texts);
  if (lasting) finished_.put(key, body, version);
  co_return body;
}

boost::asio::awaitable<Result<JsonText>> JobReplies::job(const std::string& jid, bool outputs,
                                                         store::OutputLimit output) {
  auto slot = co_await builders_.acquire();
  auto job = co_await jobs_.get(jid, output);
  if (!job) co_return job.error();
  co_return std::make_shared<const std::string>(job_text(*job, outputs) + '\n');
}

boost::asio::awaitable<Result<std::vector<JsonText>>> JobReplies::job_texts(const std::vector<std::string>& ids,
                                                                            store::JobPage page, bool outputs,
                                                                            store::OutputLimit output,
                                                                            bool& lasting) {
  std::vector<JsonText> texts(ids.size());
  // Jobs to load, by id, and whether each was stored (not live) beforehand.
  std::unordered_map<std::string, bool> missing;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool stored = !jobs_.is_live(ids[i]);
    if (stored) texts[i] = finished_.find(text_key(ids[i], outputs, output));
    if (!texts[i]) missing.emplace(ids[i], stored);
  }
  std::unordered_map<std::string, JsonText> made;
  auto add = [&](const Job& job) {
    auto it = missing.find(job.jid);
    if (it == missing.end()) return;
    auto text = std::make_shared<const std::string>(job_text(job, outputs));
    if (it->second && job.state != JobState::Running) {
      finished_.put(text_key(job.jid, outputs, output), text);
    } else {
      lasting = false;
    }
    made.emplace(job.jid, std::move(text));
  };
  if (missing.size() > kLoadOneByOne && (!outputs || output.tail <= kBulkTail)) {
    auto jobs = co_await jobs_.list(page, output);
    if (!jobs) co_return jobs.error();
    for (const auto& job : *jobs) add(job);
  } else {
    for (const auto& entry : missing) {
      auto job = co_await jobs_.get(entry.first, output);
      if (job) {
        add(*job);
      } else if (job.error().code != ErrorCode::NotFound) {
        co_return job.error();
      }
    }
  }
  std::vector<JsonText> out;
  out.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!texts[i]) {
      auto it = made.find(ids[i]);
      if (it == made.end()) {  // deleted since the ids were read
        lasting = false;
        continue;
      }
      texts[i] = it->second;
    }
    out.push_back(std::move(texts[i]));
  }
  co_return out;
}

}  // namespace steward::api::http
