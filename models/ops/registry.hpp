// The op registry: every op kind's descriptor (models/ops/op_descriptor.hpp), registered
// once in the file of its family (models/ops/<family>.cpp). Contract: `find` returns the
// descriptor or nullptr; `get` throws InputError naming the op and the nearest known op;
// the registry is complete (every part of every descriptor present) or the first call
// throws std::logic_error (exit 3) naming what is missing.
#pragma once
#include <string>
#include <vector>

#include "models/ops/op_descriptor.hpp"

namespace masesim::ops {

const OpDescriptor* find(const std::string& name);
/// The node's descriptor; InputError "node 'x': unknown op 'y' (did you mean ...)".
const OpDescriptor& of(const Node& n);
const std::vector<OpDescriptor>& all();
/// True when the node's op streams weights and the node has one of its streamed params.
bool streams_weights(const Node& n);
/// Bytes of the node's streamed weight params (0 when it streams none).
std::int64_t streamed_weight_bytes(const Node& n);
/// `simulate --list-ops`: one block per op (ports, params, attributes, models).
std::string list_text();
/// The same as JSON (a list of objects), for the exporters' op-table tests.
std::string list_json();

/// Throws std::logic_error naming the first op with a missing part or a duplicate name
/// (the registry runs it on itself when first used).
void validate_descriptors(const std::vector<OpDescriptor>& v);

// Family registration functions (one per models/ops/<family>.cpp), called once by the
// registry in this order.
void register_gemm_ops(std::vector<OpDescriptor>& v);
void register_conv_ops(std::vector<OpDescriptor>& v);
void register_elementwise_ops(std::vector<OpDescriptor>& v);
void register_norm_ops(std::vector<OpDescriptor>& v);
void register_embedding_ops(std::vector<OpDescriptor>& v);
void register_shape_ops(std::vector<OpDescriptor>& v);
void register_kv_cache_ops(std::vector<OpDescriptor>& v);
void register_rope_ops(std::vector<OpDescriptor>& v);
void register_moe_ops(std::vector<OpDescriptor>& v);
void register_recurrent_ops(std::vector<OpDescriptor>& v);

}  // namespace masesim::ops
