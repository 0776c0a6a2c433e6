#include "sim/mapping/graph_rewrite.hpp"

namespace masesim::rewrite {

YAML::Node make_node(const std::string& name, const std::string& op,
                     const std::vector<std::string>& args, const YAML::Node& attrs,
                     const YAML::Node& shape, const YAML::Node& precision,
                     const std::string& device) {
  YAML::Node y(YAML::NodeType::Map);
  y["name"] = name;
  y["op"] = op;
  YAML::Node a(YAML::NodeType::Map);
  for (std::size_t k = 0; k < args.size(); ++k) a["data_in_" + std::to_string(k)] = args[k];
  y["args"] = a;
  if (attrs.IsMap()) y["attrs"] = attrs;
  YAML::Node d0(YAML::NodeType::Map);
  d0["shape"] = shape;
  d0["precision"] = YAML::Clone(precision);
  YAML::Node res(YAML::NodeType::Map);
  res["data_out_0"] = d0;
  y["results"] = res;
  YAML::Node hw(YAML::NodeType::Map);
  if (!device.empty()) hw["device"] = device;
  y["hw"] = hw;
  return y;
}

void set_dim(YAML::Node seq, std::size_t k, std::int64_t value) {
  YAML::Node e = seq[k];
  e = std::to_string(value);
}

}  // namespace masesim::rewrite
