// Helpers the op families' shape rules share. They throw InputError with the message
// tail only (the graph loader prefixes file, line and node).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/graph.hpp"

namespace masesim::ops {

[[noreturn]] void fail_rule(const std::string& msg);
/// `d` normalised into [0, rank); out of range is an error naming `what`.
std::int64_t norm_dim(std::int64_t d, std::size_t rank, const char* what);
void need_rank(const Shape& s, std::size_t lo, std::size_t hi, const char* port);
std::vector<Shape> same_shape(const Node&, const std::vector<Shape>& in);
Shape param_shape(const Node& n, const char* p);
Shape broadcast(const Shape& a, const Shape& b);
/// Output size of a sliding window; errors name `what`.
std::int64_t window_out(std::int64_t size, std::int64_t k, std::int64_t stride, std::int64_t pad,
                        std::int64_t dil, const char* what);
/// An attribute that is an int or a pair (kernel_size, stride, padding, dilation).
std::vector<std::int64_t> pair_attr(const Node& n, const char* a, std::int64_t dflt);
/// `bias` must be [out] when present.
void check_bias(const Node& n, std::int64_t out);

}  // namespace masesim::ops
