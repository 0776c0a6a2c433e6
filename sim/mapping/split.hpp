// Node splitting (mapping.split): a linear, matmul, bmm or conv2d node — with the
// element-wise nodes that follow it alone — becomes `ways` pieces that the partitioner
// (or mapping.place) puts on different devices, joined by a gather (`cat`) node, so that
// the inputs fanned out to the pieces and the gathered slices are ordinary graph edges and
// hence real frames on the links (docs/partitioning.md). The tensor-parallel LLM rewrite
// (sim/llm/tensor_parallel.cpp) builds its gathers from the same node constructor
// (sim/mapping/graph_rewrite.hpp).
// Contract: a pure function of the parsed tree and its loaded graph; the result is a new
// tree (the input is not modified) that load_graph_yaml() accepts with the same dims. By
// columns: pieces keep out/ways output columns (linear: weight rows; conv2d: output
// channels; matmul/bmm: columns of the second operand, sliced on its producer's side);
// by rows: the first operand's rows (dim -2) are sliced and every piece holds the whole
// weight. Names: pieces `<node>@s<j>`, slices `<node>.rows@s<j>` / `<node>.cols@s<j>`,
// absorbed element-wise followers `<follower>@s<j>`; the gather takes the name of the last
// node of the split chain, so its consumers are unchanged. Failure: InputError naming the
// configuration key and the node (op that cannot split, a dimension the ways do not
// divide, a glob that matches nothing).
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "sim/config/system_spec.hpp"
#include "workloads/graph.hpp"

namespace masesim {

struct SplitInfo {
  std::string node;  ///< the node split
  int ways = 1;
  SplitBy by = SplitBy::Columns;
  std::vector<std::string> absorbed;  ///< element-wise followers split with it
  std::string gather;                 ///< the cat joining the pieces
};

struct SplitReport {
  std::vector<SplitInfo> splits;
  std::vector<std::string> notes;  ///< approximations and choices, one line each
};

/// `what` names the rules in messages (e.g. "configs/x.yaml: mapping.split"), rule k as
/// `what[first_index + k]`. Appends to `report`.
YAML::Node split_graph(const YAML::Node& root, const Graph& g, const std::vector<SplitRule>& rules,
                       const std::string& what, SplitReport* report = nullptr, int first_index = 0);

/// The workload graph of a non-LLM run with `rules` applied one after the other (none: the
/// file as it is), so that a later rule may split an earlier one's pieces (`node@s*`).
/// InputError in functional mode (its data are per node); LLM runs with splits are
/// rejected when the configuration is read (sim/config/system_spec.cpp). With `tree`, also
/// the mase-graph tree the result was loaded from (for a later rewrite: mapping.replicate).
Graph load_split_graph(const SystemSpec& s, const std::vector<SplitRule>& rules,
                       SplitReport* report = nullptr, YAML::Node* tree = nullptr);

struct Mapping;
/// After mapping: every edge into, between and out of the pieces of each split in `rep`
/// has a route between its devices. InputError naming the split node, the piece and the
/// devices otherwise (e.g. mapping.place puts a piece on a device no cable reaches).
void check_split_routes(const Graph& g, const SystemSpec& s, const Mapping& m,
                        const SplitReport& rep);

/// Name of split piece j of `node`.
std::string split_piece_name(const std::string& node, int j);

const char* to_string(SplitBy b);

}  // namespace masesim
