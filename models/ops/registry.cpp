#include "models/ops/registry.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "workloads/error.hpp"

namespace masesim {
namespace ops {
namespace {

[[noreturn]] void incomplete(const OpDescriptor& d, const char* part) {
  throw std::logic_error("internal error: op registry: op '" + d.name + "' has no " + part +
                         " (models/ops/op_descriptor.hpp lists the parts every op needs)");
}

}  // namespace

void validate_descriptors(const std::vector<OpDescriptor>& v) {
  std::set<std::string> names;
  for (const auto& d : v) {
    if (d.name.empty()) throw std::logic_error("internal error: op registry: an op has no name");
    if (!names.insert(d.name).second)
      throw std::logic_error("internal error: op registry: op '" + d.name +
                             "' is registered twice");
    if (d.summary.empty()) incomplete(d, "summary");
    if (!d.infer) incomplete(d, "shape rule (infer)");
    if (!d.macs) incomplete(d, "MAC count (macs)");
    if (!d.timing) incomplete(d, "timing model");
    if (!d.resources) incomplete(d, "resource model");
    if (!d.kernel) incomplete(d, "functional kernel (or unsupported_kernel)");
    if (d.min_inputs < 0 || d.max_inputs < d.min_inputs) incomplete(d, "valid input arity");
    for (const auto& p : d.params_required)
      if (std::find(d.params_allowed.begin(), d.params_allowed.end(), p) == d.params_allowed.end())
        incomplete(d, "allowed entry for its required param");
  }
}

namespace {

const std::vector<OpDescriptor>& table() {
  static const std::vector<OpDescriptor> t = [] {
    std::vector<OpDescriptor> v;
    register_gemm_ops(v);
    register_conv_ops(v);
    register_elementwise_ops(v);
    register_norm_ops(v);
    register_embedding_ops(v);
    register_shape_ops(v);
    register_kv_cache_ops(v);
    register_rope_ops(v);
    register_moe_ops(v);
    register_recurrent_ops(v);
    validate_descriptors(v);
    return v;
  }();
  return t;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "-" : s;
}

std::string json_list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
  return s + "]";
}

std::string json_escape(const std::string& in) {
  std::string s;
  for (char c : in) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  return s;
}

std::string arity(const OpDescriptor& d) {
  return std::to_string(d.min_inputs) +
         (d.max_inputs != d.min_inputs ? ".." + std::to_string(d.max_inputs) : "");
}

}  // namespace

const OpDescriptor* find(const std::string& name) {
  for (const auto& d : table())
    if (d.name == name) return &d;
  return nullptr;
}

const OpDescriptor& of(const Node& n) {
  if (const OpDescriptor* d = find(n.op)) return *d;
  throw InputError("node '" + n.name + "': unknown op '" + n.op + "'" +
                   did_you_mean(n.op, op_names()));
}

const std::vector<OpDescriptor>& all() {
  return table();
}

bool streams_weights(const Node& n) {
  return streamed_weight_bytes(n) > 0;
}

std::int64_t streamed_weight_bytes(const Node& n) {
  const OpDescriptor& d = of(n);
  if (!d.weights_can_stream) return 0;
  std::int64_t b = 0;
  for (const auto& p : d.streamed_params)
    if (const Param* w = n.param(p)) b += w->tensor.bytes();
  return b;
}

std::string list_text() {
  std::ostringstream os;
  for (const auto& d : table()) {
    os << d.name << "  (" << op_class_name(d.cls) << ")  " << d.summary << "\n"
       << "    inputs   data_in_0"
       << (d.max_inputs > 1 ? "..data_in_" + std::to_string(d.max_inputs - 1) : "") << " ("
       << arity(d) << ")  output data_out_0\n"
       << "    params   " << join(d.params_allowed)
       << (d.params_required.empty() ? "" : "  (required: " + join(d.params_required) + ")") << "\n"
       << "    attrs    " << join(d.attrs_allowed) << "\n"
       << "    models   shape, macs, timing, resources, "
       << (d.has_functional_model ? "functional" : "no functional model")
       << (d.weights_can_stream ? ", off-chip weights" : "")
       << (d.tp != TpShard::None ? ", tensor-parallel" : "") << "\n";
  }
  return os.str();
}

std::string list_json() {
  std::ostringstream os;
  os << "[\n";
  const auto& t = table();
  for (std::size_t i = 0; i < t.size(); ++i) {
    const auto& d = t[i];
    os << "  {\"name\": \"" << d.name << "\", \"class\": \"" << op_class_name(d.cls)
       << "\", \"min_inputs\": " << d.min_inputs << ", \"max_inputs\": " << d.max_inputs
       << ", \"params\": " << json_list(d.params_allowed)
       << ", \"params_required\": " << json_list(d.params_required)
       << ", \"attrs\": " << json_list(d.attrs_allowed)
       << ", \"functional\": " << (d.has_functional_model ? "true" : "false")
       << ", \"weights_can_stream\": " << (d.weights_can_stream ? "true" : "false")
       << ", \"summary\": \"" << json_escape(d.summary) << "\"}" << (i + 1 < t.size() ? "," : "")
       << "\n";
  }
  os << "]\n";
  return os.str();
}

std::function<void(const KernelCall&)> unsupported_kernel(const std::string& why) {
  return [why](const KernelCall& c) {
    throw InputError("node '" + c.n.name + "' (" + c.n.op + "): no functional model: " + why);
  };
}

std::int64_t no_macs(const Graph&, const Node&) {
  return 0;
}

}  // namespace ops

// ---- the graph IR's view (workloads/op_schema.hpp) ----
const OpSchema* find_op_schema(const std::string& op) {
  return ops::find(op);
}

std::vector<std::string> op_names() {
  std::vector<std::string> v;
  for (const auto& d : ops::all()) v.push_back(d.name);
  return v;
}

bool is_implicit(OpClass c) {
  return c == OpClass::Wire || c == OpClass::Reorder;
}

const char* op_class_name(OpClass c) {
  switch (c) {
    case OpClass::Gemm:
      return "gemm";
    case OpClass::Conv:
      return "conv";
    case OpClass::Elementwise:
      return "elementwise";
    case OpClass::RowReduce:
      return "row_reduce";
    case OpClass::Pool:
      return "pool";
    case OpClass::Embedding:
      return "embedding";
    case OpClass::Wire:
      return "wire";
    case OpClass::Reorder:
      return "reorder";
    case OpClass::KvCache:
      return "kv_cache";
  }
  return "?";
}

}  // namespace masesim
