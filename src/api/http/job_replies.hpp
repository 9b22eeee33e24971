#pragma once
// The bodies of GET /jobs?detail=1 and GET /jobs/JID, built with bounded
// memory. At most kBuilders requests load jobs and serialize them at once
// (the others wait holding nothing); a loaded Job and its JSON DOM live only
// while its text is made, never across the reply's write. The serialized job
// objects of finished jobs (which no longer change) are kept, and so is each
// listing made only of them, together with the ids it was made from: a
// listing whose ids are unchanged is the same shared text for every client.
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/http/async_slots.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace steward::jobs {
class JobService;
}

namespace steward::api::http {

// JSON text, valid UTF-8, shared by the replies that send it.
using JsonText = std::shared_ptr<const std::string>;

// Texts by key, each with the version it was made from, up to a byte budget;
// the least recently used go first. A text over a quarter of the budget is
// not kept.
class JobTextCache {
 public:
  explicit JobTextCache(std::size_t budget_bytes) : budget_(budget_bytes) {}

  // The text kept under `key` for this `version`, or null.
  JsonText find(const std::string& key, const std::string& version = {});
  void put(const std::string& key, JsonText text, std::string version = {});

  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string key;
    std::string version;
    JsonText text;
    std::size_t bytes() const { return key.size() + version.size() + text->size(); }
  };
  void erase(std::list<Entry>::iterator entry);

  std::size_t budget_;
  std::size_t bytes_ = 0;
  std::list<Entry> recent_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

class JobReplies {
 public:
  static constexpr std::size_t kBuilders = 4;
  static constexpr std::size_t kCacheBytes = 32 << 20;

  explicit JobReplies(jobs::JobService& jobs) : jobs_(jobs) {}

  // A JSON array of job objects (json_codec job_object) for `page`, newest first.
  boost::asio::awaitable<Result<JsonText>> listing(store::JobPage page, bool outputs, store::OutputLimit output);
  // One job object. Never from the cache: a deleted job must answer 404.
  boost::asio::awaitable<Result<JsonText>> job(const std::string& jid, bool outputs, store::OutputLimit output);

  const JobTextCache& cache() const { return finished_; }

 private:
  // The texts of the jobs `ids` names, in order; a job deleted meanwhile is
  // left out. `lasting` turns false when a text may change later.
  boost::asio::awaitable<Result<std::vector<JsonText>>> job_texts(const std::vector<std::string>& ids,
                                                                  store::JobPage page, bool outputs,
                                                                  store::OutputLimit output, bool& lasting);

  jobs::JobService& jobs_;
  AsyncSlots builders_{kBuilders};
  JobTextCache finished_{kCacheBytes};
};

}  // namespace steward::api::http
