#include "api/http/json_codec.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "core/secret_args.hpp"

#include <set>
#include <string>

namespace steward::api::http {
namespace {

std::set<std::string> keys(const boost::json::object& object) {
  std::set<std::string> out;
  for (const auto& [key, value] : object) out.emplace(key);
  return out;
}

TargetRun finished_run(OpState state, std::optional<int> rtc, std::string out, std::string err) {
  TargetRun run;
  run.phase = RunPhase::Finished;
  run.result.state = state;
  run.result.rtc = rtc;
  run.result.stdout_data = std::move(out);
  run.result.stderr_data = std::move(err);
  run.startat = 1700000001.25;
  run.finishat = 1700000002.5;
  run.queue_wait = 0.125;
  return run;
}

Job sample_job() {
  Job job;
  job.jid = "20260102030405060708";
  job.state = JobState::Failure;
  job.error = "1 of 3 targets failed";
  job.startat = 1700000000.5;
  job.finishat = 1700000003.0;
  job.operate = "execute";
  job.operate_args = {{"cmd", "uptime"}};
  job.targets = {"web1", "web2", "web3"};
  job.runs["web1"] = finished_run(OpState::Changed, 0, "up 3 days\n", "");
  TargetRun failed = finished_run(OpState::Failed, 2, "", "boom\n");
  failed.result.error = "exit status 2";
  job.runs["web2"] = failed;
  job.runs["web3"] = TargetRun{};  // pending
  return job;
}

// -------------------------------------------------------------------- enums

TEST(JsonCodec, EnumsHaveTheWireValuesOfExed) {
  EXPECT_EQ(static_cast<int>(JobState::Done), 0);
  EXPECT_EQ(static_cast<int>(JobState::Running), 1);
  EXPECT_EQ(static_cast<int>(JobState::Failure), 2);
  EXPECT_EQ(static_cast<int>(OpState::Announce), 0);
  EXPECT_EQ(static_cast<int>(OpState::Ok), 1);
  EXPECT_EQ(static_cast<int>(OpState::Skipped), 2);
  EXPECT_EQ(static_cast<int>(OpState::Failed), 3);
  EXPECT_EQ(static_cast<int>(OpState::Unreachable), 4);
  EXPECT_EQ(static_cast<int>(OpState::Changed), 5);
}

// ------------------------------------------------------------------ job_object

TEST(JsonCodec, JobObjectHasEveryContractField) {
  auto object = job_object(sample_job(), false);
  for (const char* key :
       {"jid", "state", "error", "startat", "operate", "operate_args", "targets", "return_data", "finishat", "progress"})
    EXPECT_TRUE(object.contains(key)) << key << " missing from " << boost::json::serialize(object);

  EXPECT_EQ(object.at("jid"), boost::json::value("20260102030405060708"));
  EXPECT_EQ(object.at("taskid"), object.at("jid")) << "EXEd's name for the jid";
  EXPECT_EQ(object.at("state"), boost::json::value(2));
  EXPECT_EQ(object.at("error"), boost::json::value("1 of 3 targets failed"));
  EXPECT_DOUBLE_EQ(object.at("startat").to_number<double>(), 1700000000.5);
  EXPECT_DOUBLE_EQ(object.at("finishat").to_number<double>(), 1700000003.0);
  EXPECT_EQ(object.at("operate"), boost::json::value("execute"));
  EXPECT_EQ(object.at("operate_args"), (boost::json::value(boost::json::object{{"cmd", "uptime"}})));
  EXPECT_EQ(object.at("targets"), (boost::json::value(boost::json::array{"web1", "web2", "web3"})));
  EXPECT_EQ(object.at("progress"), (boost::json::value(boost::json::object{{"done", 2}, {"total", 3}})));

  const auto& data = object.at("return_data").as_object();
  EXPECT_EQ(keys(data), (std::set<std::string>{"web1", "web2", "web3"}));

  const auto& web1 = data.at("web1").as_object();
  EXPECT_EQ(web1.at("status"), boost::json::value(5));
  EXPECT_EQ(web1.at("rtc"), boost::json::value(0));
  EXPECT_EQ(web1.at("phase"), boost::json::value("finished"));
  EXPECT_DOUBLE_EQ(web1.at("startat").to_number<double>(), 1700000001.25);
  EXPECT_DOUBLE_EQ(web1.at("finishat").to_number<double>(), 1700000002.5);
  EXPECT_DOUBLE_EQ(web1.at("queue_wait").to_number<double>(), 0.125);
  EXPECT_FALSE(web1.contains("stdout")) << "output only when asked";
  EXPECT_FALSE(web1.contains("stderr"));
  EXPECT_FALSE(web1.contains("error"));

  const auto& web2 = data.at("web2").as_object();
  EXPECT_EQ(web2.at("status"), boost::json::value(3));
  EXPECT_EQ(web2.at("rtc"), boost::json::value(2));
  EXPECT_EQ(web2.at("error"), boost::json::value("exit status 2"));

  const auto& web3 = data.at("web3").as_object();
  EXPECT_EQ(web3.at("status"), boost::json::value(0));
  EXPECT_EQ(web3.at("phase"), boost::json::value("pending"));
  EXPECT_FALSE(web3.contains("rtc"));
  EXPECT_FALSE(web3.contains("startat"));
  EXPECT_FALSE(web3.contains("queue_wait"));
}

TEST(JsonCodec, JobObjectShowsSealedSecretsAsStars) {
  ArgSecrets secrets(SecretBox::from_key(std::string(32, 'k')).value(),
                     SecretNames::parse(kDefaultSecretEnvPattern).value());
  Job job = sample_job();
  job.operate_args = secrets.seal({{"cmd", "run"}, {"env", {{"API_TOKEN", "tok-1"}, {"PLAIN", "p"}}}}).value();
  auto out = job_object(job, false);
  EXPECT_EQ(out.at("operate_args").at("env"), (boost::json::object{{"API_TOKEN", "***"}, {"PLAIN", "p"}}));
  EXPECT_EQ(boost::json::serialize(out).find("$sealed"), std::string::npos);
}

TEST(JsonCodec, JobObjectWithOutputCarriesStdoutAndStderr) {
  auto object = job_object(sample_job(), true);
  const auto& data = object.at("return_data").as_object();
  EXPECT_EQ(data.at("web1").at("stdout"), boost::json::value("up 3 days\n"));
  EXPECT_EQ(data.at("web1").at("stderr"), boost::json::value(""));
  EXPECT_EQ(data.at("web2").at("stderr"), boost::json::value("boom\n"));
}

TEST(JsonCodec, RunningJobStateAndRunningPhase) {
  Job job = sample_job();
  job.state = JobState::Running;
  job.error.clear();
  job.finishat = 0;
  TargetRun running;
  running.phase = RunPhase::Running;
  running.startat = 1700000001;
  job.runs["web3"] = running;
  auto object = job_object(job, false);
  EXPECT_EQ(object.at("state"), boost::json::value(1));
  EXPECT_EQ(object.at("error"), boost::json::value(""));
  const auto& web3 = object.at("return_data").at("web3").as_object();
  EXPECT_EQ(web3.at("phase"), boost::json::value("running"));
  EXPECT_TRUE(web3.contains("queue_wait"));
  EXPECT_FALSE(web3.contains("finishat"));
  EXPECT_EQ(object.at("progress").at("done"), boost::json::value(2));
}

// ------------------------------------------------------------------ host_entry

TEST(JsonCodec, HostEntryFieldsAsTheOperationHasThem) {
  TargetRun ping;
  ping.phase = RunPhase::Finished;
  ping.result.state = OpState::Ok;
  EXPECT_EQ(keys(host_entry(ping, false)), (std::set<std::string>{"status"}));
  EXPECT_EQ(host_entry(ping, false).at("status"), boost::json::value(1));

  TargetRun facts = ping;
  facts.result.facts = boost::json::object{{"hostname", "web1"}};
  auto facts_entry = host_entry(facts, false);
  EXPECT_EQ(keys(facts_entry), (std::set<std::string>{"status", "facts"}));
  EXPECT_EQ(facts_entry.at("facts").at("hostname"), boost::json::value("web1"));

  TargetRun killed;
  killed.result.state = OpState::Failed;
  killed.result.signal = 9;
  killed.result.stdout_truncated = true;
  killed.result.error = "killed by signal KILL";
  auto killed_entry = host_entry(killed, true);
  EXPECT_EQ(killed_entry.at("status"), boost::json::value(3));
  EXPECT_EQ(killed_entry.at("signal"), boost::json::value(9));
  EXPECT_EQ(killed_entry.at("stdout_truncated"), boost::json::value(true));
  EXPECT_FALSE(killed_entry.contains("stderr_truncated"));
  EXPECT_FALSE(killed_entry.contains("rtc"));
  EXPECT_EQ(killed_entry.at("error"), boost::json::value("killed by signal KILL"));
  EXPECT_EQ(killed_entry.at("stdout"), boost::json::value(""));

  TargetRun unreachable;
  unreachable.result.state = OpState::Unreachable;
  unreachable.result.error = "web9: connection refused";
  auto unreachable_entry = host_entry(unreachable, false);
  EXPECT_EQ(unreachable_entry.at("status"), boost::json::value(4));
  EXPECT_EQ(unreachable_entry.at("error"), boost::json::value("web9: connection refused"));
}

// --------------------------------------------------------------- blocking_reply

TEST(JsonCodec, BlockingReplyForExecuteIncludesOutput) {
  auto reply = blocking_reply(sample_job());
  EXPECT_EQ(keys(reply), (std::set<std::string>{"web1", "web2", "web3"})) << "keyed by host, nothing else";
  const auto& web1 = reply.at("web1").as_object();
  EXPECT_EQ(web1.at("status"), boost::json::value(5));
  EXPECT_EQ(web1.at("rtc"), boost::json::value(0));
  EXPECT_EQ(web1.at("stdout"), boost::json::value("up 3 days\n"));
  EXPECT_EQ(web1.at("stderr"), boost::json::value(""));
  EXPECT_FALSE(web1.contains("phase")) << "job-object extras stay out of the EXEd reply";
  EXPECT_EQ(reply.at("web2").at("stderr"), boost::json::value("boom\n"));
}

TEST(JsonCodec, BlockingReplyForPingAndFacterHasNoOutput) {
  Job job;
  job.jid = "j";
  job.operate = "ping";
  job.targets = {"h"};
  TargetRun run;
  run.phase = RunPhase::Finished;
  run.result.state = OpState::Ok;
  run.result.stdout_data = "ignored";
  job.runs["h"] = run;
  auto ping = blocking_reply(job);
  EXPECT_EQ(boost::json::value(ping), (boost::json::value(boost::json::object{{"h", {{"status", 1}}}})));

  job.operate = "facter";
  job.runs["h"].result.facts = boost::json::object{{"cpus", 2}};
  auto facter = blocking_reply(job);
  EXPECT_EQ(keys(facter.at("h").as_object()), (std::set<std::string>{"status", "facts"}));
  EXPECT_EQ(facter.at("h").at("facts").at("cpus"), boost::json::value(2));

  job.operate = "service";
  job.runs["h"].result.state = OpState::Changed;
  job.runs["h"].result.rtc = 0;
  auto service = blocking_reply(job);
  EXPECT_TRUE(service.at("h").as_object().contains("stdout")) << "service output is the result";
}

TEST(JsonCodec, ResultEntryAddsOutputWhenAskedOrWhenItIsTheResult) {
  TargetRun run;
  run.phase = RunPhase::Finished;
  run.result.state = OpState::Ok;
  run.result.stdout_data = "pong";
  EXPECT_EQ(keys(result_entry("ping", run, false)), (std::set<std::string>{"status"}));
  EXPECT_EQ(keys(result_entry("ping", run, true)), (std::set<std::string>{"status", "stdout", "stderr"}));
  EXPECT_EQ(result_entry("execute", run, false).at("stdout"), boost::json::value("pong"));
}

// ------------------------------------------------------------- message_object

TEST(JsonCodec, MessageObject) {
  auto message = message_object("no such host: web9");
  EXPECT_EQ(boost::json::value(message), (boost::json::value(boost::json::object{{"message", "no such host: web9"}})));
  EXPECT_EQ(boost::json::serialize(message_object("")), R"({"message":""})");
}

// --------------------------------------------------------------- parse_object

TEST(JsonCodec, ParseObjectAcceptsAnObject) {
  auto parsed = parse_object(R"({"targets": ["a", "b"], "cmd": "uptime", "n": 3})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->at("cmd"), boost::json::value("uptime"));
  EXPECT_EQ(parsed->at("targets").as_array().size(), 2u);
  EXPECT_EQ(parsed->at("n"), boost::json::value(3));
  auto empty_object = parse_object("  {}  ");
  ASSERT_TRUE(empty_object.ok());
  EXPECT_TRUE(empty_object->empty());
}

TEST(JsonCodec, ParseObjectErrors) {
  struct Case {
    std::string body;
    std::string mention;
  };
  for (const Case& c : std::vector<Case>{{"", "object"},
                                         {"{\"a\": ", "malformed"},
                                         {"{bad json}", "malformed"},
                                         {"{} trailing", "malformed"},
                                         {"[1, 2]", "object"},
                                         {"\"text\"", "object"},
                                         {"42", "object"},
                                         {"null", "object"}}) {
    auto parsed = parse_object(c.body);
    ASSERT_FALSE(parsed.ok()) << "accepted: " << c.body;
    EXPECT_EQ(parsed.error().code, ErrorCode::InvalidArgument) << c.body;
    EXPECT_NE(parsed.error().message.find(c.mention), std::string::npos)
        << c.body << " -> " << parsed.error().message;
  }
}

}  // namespace
}  // namespace steward::api::http
