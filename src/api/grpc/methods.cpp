#include "api/grpc/methods.hpp"

#include <capability.pb.h>
#include <condition.pb.h>
#include <feature.pb.h>
#include <google/protobuf/empty.pb.h>
#include <inject.pb.h>

#include <spdlog/spdlog.h>

#include "api/grpc/status.hpp"
#include "core/strings.hpp"
#include "packages/deputy.hpp"

namespace steward::api::grpc {
namespace {

using boost::asio::awaitable;
using packages::DeputyService;

template <typename Message>
bool parse(Call& call, Message& message) {
  if (message.ParseFromString(call.request())) return true;
  call.finish(::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                             "the request is not a valid " + message.GetTypeName() + " message"));
  return false;
}

void reply(Call& call, const google::protobuf::Message& message) {
  call.write(message.SerializeAsString());
  call.finish(::grpc::Status::OK);
}

packages::Account account_of(const Account& account) {
  return {account.username(), account.password(), account.private_key()};
}

std::vector<std::string> strings_of(const google::protobuf::RepeatedPtrField<std::string>& entries) {
  return {entries.begin(), entries.end()};
}

awaitable<void> get_capabilities(Call& call) {
  google::protobuf::Empty request;
  if (!parse(call, request)) co_return;
  Capabilities capabilities;
  capabilities.add_values(Capabilities::Feature);
  capabilities.add_values(Capabilities::Condition);
  capabilities.add_values(Capabilities::Inject);
  reply(call, capabilities);
}

awaitable<void> finish_deploy(Call& call, const Result<packages::DeployOutcome>& outcome) {
  if (!outcome) {
    call.finish(status_of(outcome.error()));
    co_return;
  }
  call.audit_subject = outcome->identifier;
  ExecutorResponse response;
  response.mutable_identifier()->set_value(outcome->identifier);
  // Protobuf strings must be UTF-8: Ranger's client cannot decode anything else.
  response.set_stdout(to_valid_utf8(outcome->stdout_data));
  response.set_stderr(to_valid_utf8(outcome->stderr_data));
  reply(call, response);
}

// Feature and Inject share the fields a deployment needs.
template <typename Message>
packages::DeployRequest deploy_request(packages::ContentType content, const Message& message) {
  return {content,
          message.name(),
          message.virtual_machine_id(),
          {message.source().name(), message.source().version()},
          account_of(message.account()),
          strings_of(message.environment()),
          {}};
}

awaitable<void> create_feature(DeputyService& deputy, Call& call) {
  Feature feature;
  if (!parse(call, feature)) co_return;
  call.audit_targets = {feature.virtual_machine_id()};
  auto request = deploy_request(packages::ContentType::Feature, feature);
  auto outcome = co_await deputy.deploy(std::move(request));
  co_await finish_deploy(call, outcome);
}

awaitable<void> create_inject(DeputyService& deputy, Call& call) {
  Inject inject;
  if (!parse(call, inject)) co_return;
  call.audit_targets = {inject.virtual_machine_id()};
  auto request = deploy_request(packages::ContentType::Inject, inject);
  request.to_entities = strings_of(inject.to_entities());
  auto outcome = co_await deputy.deploy(std::move(request));
  co_await finish_deploy(call, outcome);
}

// Every delete: an Identifier in, Empty out, the service's Status as the status.
template <awaitable<Status> (DeputyService::*remove)(const std::string&)>
awaitable<void> delete_identified(DeputyService& deputy, Call& call) {
  Identifier identifier;
  if (!parse(call, identifier)) co_return;
  call.audit_subject = identifier.value();
  auto removed = co_await (deputy.*remove)(identifier.value());
  if (!removed) call.finish(status_of(removed.error()));
  else reply(call, google::protobuf::Empty());
}

awaitable<void> create_condition(DeputyService& deputy, Call& call) {
  Condition condition;
  if (!parse(call, condition)) co_return;
  packages::ConditionRequest request;
  request.name = condition.name();
  request.vm = condition.virtual_machine_id();
  call.audit_targets = {request.vm};
  request.account = account_of(condition.account());
  if (condition.has_source() && !condition.source().name().empty())
    request.source = packages::PackageSource{condition.source().name(), condition.source().version()};
  request.command = condition.command();
  request.interval = condition.interval();
  request.environment = strings_of(condition.environment());
  auto id = co_await deputy.create_condition(std::move(request));
  if (!id) {
    call.finish(status_of(id.error()));
    co_return;
  }
  call.audit_subject = *id;
  Identifier identifier;
  identifier.set_value(*id);
  reply(call, identifier);
}

// Values go out as the runner produces them until the client leaves or the
// condition is deleted.
awaitable<void> stream_condition(DeputyService& deputy, Call& call) {
  Identifier identifier;
  if (!parse(call, identifier)) co_return;
  const std::string id = identifier.value();
  auto closed = std::make_shared<bool>(false);
  auto listener = [&call, id](const store::ConditionValue& value) {
    ConditionStreamResponse response;
    response.set_response(id);
    response.set_command_return_value(static_cast<float>(value.value));
    call.write(response.SerializeAsString());
  };
  auto closer = [&call, closed](const Error& why) {
    *closed = true;
    call.finish(status_of(why));
  };
  auto subscription = co_await deputy.subscribe(id, listener, closer);
  if (!subscription) {
    call.finish(status_of(subscription.error()));
    co_return;
  }
  call.on_cancel([&deputy, &call, id, closed, number = *subscription] {
    if (*closed) return;
    *closed = true;
    deputy.unsubscribe(id, number);
    call.finish(::grpc::Status(::grpc::StatusCode::CANCELLED, "the client went away"));
  });
}

}  // namespace

// Everything but GetCapabilities makes something run on a target, so it
// needs operate. That includes a condition's stream: a subscriber is what
// keeps the condition's command running every interval (a read token reads
// the values already produced with REST's GET /conditions/ID/values).
// Creates and deletes change what is deployed or running, so the audit
// trail records them; a stream follows a condition that exists and reads
// its values, and ends when the client leaves, so it is not recorded.
std::map<std::string, ExecutorMethod> executor_methods(DeputyService& deputy) {
  using auth::Role;
  auto with = [&deputy](awaitable<void> (*method)(DeputyService&, Call&)) -> Method {
    return [&deputy, method](Call& call) { return method(deputy, call); };
  };
  std::map<std::string, ExecutorMethod> methods;
  methods.try_emplace("/Capability/GetCapabilities", Role::Read, get_capabilities, false);
  methods.try_emplace("/FeatureService/create", Role::Operate, with(create_feature), true);
  methods.try_emplace("/FeatureService/delete", Role::Operate, with(delete_identified<&DeputyService::undeploy>),
                      true);
  methods.try_emplace("/InjectService/create", Role::Operate, with(create_inject), true);
  methods.try_emplace("/InjectService/delete", Role::Operate, with(delete_identified<&DeputyService::undeploy>),
                      true);
  methods.try_emplace("/ConditionService/create", Role::Operate, with(create_condition), true);
  methods.try_emplace("/ConditionService/stream", Role::Operate, with(stream_condition), false);
  methods.try_emplace("/ConditionService/delete", Role::Operate,
                      with(delete_identified<&DeputyService::delete_condition>), true);
  return methods;
}

}  // namespace steward::api::grpc
