#include "ops/builtin_ops.hpp"

namespace steward::ops {

Status OpRegistry::add(const std::string& name, std::unique_ptr<Operation> op) {
  if (!ops_.try_emplace(name, std::move(op)).second)
    return make_error(ErrorCode::Conflict, "operation '" + name + "' is registered twice");
  return {};
}

Result<const Operation*> OpRegistry::find(const std::string& name) const {
  auto it = ops_.find(name);
  if (it != ops_.end()) return static_cast<const Operation*>(it->second.get());
  std::string known;
  for (const auto& [known_name, _] : ops_) known += (known.empty() ? "" : ", ") + known_name;
  return make_error(ErrorCode::NotFound, "unknown operation '" + name + "' (known: " + known + ")");
}

Status register_builtin_ops(OpRegistry& registry, const OpsOptions& options) {
  Status added = registry.add("ping", make_ping());
  if (added) added = registry.add("facter", make_facter());
  if (added) added = registry.add("service", make_service());
  if (added) added = registry.add("execute", make_execute());
  if (added) added = registry.add("copy", make_copy(options.files_root));
  if (added) added = registry.add("fetch", make_fetch(options.files_root));
  return added;
}

}  // namespace steward::ops
