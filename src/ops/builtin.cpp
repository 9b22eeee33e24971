#include "ops/builtin_ops.hpp"

namespace steward::ops {

void OpRegistry::add(const std::string& name, std::unique_ptr<Operation> op) { ops_[name] = std::move(op); }

Result<const Operation*> OpRegistry::find(const std::string& name) const {
  auto it = ops_.find(name);
  if (it != ops_.end()) return static_cast<const Operation*>(it->second.get());
  std::string known;
  for (const auto& [known_name, _] : ops_) known += (known.empty() ? "" : ", ") + known_name;
  return make_error(ErrorCode::NotFound, "unknown operation '" + name + "' (known: " + known + ")");
}

void register_builtin_ops(OpRegistry& registry, const OpsOptions& options) {
  registry.add("ping", make_ping());
  registry.add("facter", make_facter());
  registry.add("service", make_service());
  registry.add("execute", make_execute());
  registry.add("copy", make_copy(options.files_root));
  registry.add("fetch", make_fetch(options.files_root));
}

}  // namespace steward::ops
