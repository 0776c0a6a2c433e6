// NumPy .npy tensor files and the data layout beside a graph (docs/graph-format.md,
// section "Tensor data files"). Kernel-free; values are held as double.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/graph.hpp"

namespace masesim {

/// A dense row-major tensor of values (the functional model's QTensor is this type).
struct TensorData {
  Shape shape;
  std::vector<double> v;
  std::int64_t numel() const { return static_cast<std::int64_t>(v.size()); }
};

/// Reads a .npy file: format versions 1.0, 2.0 and 3.0 headers, C order, little-endian
/// dtypes <f8 <f4 <i8 <i4 <i2 <i1 |i1 <u1 |u1 (and |b1). Integers wider than 53 bits
/// that are not exact in double are an error. Throws InputError naming the file.
TensorData read_npy(const std::string& path);
/// Same from bytes already in memory (`label` names the source in messages).
TensorData parse_npy(const std::string& bytes, const std::string& label);
/// Writes a version 1.0 .npy with dtype <f8 (exact for every value of the model).
void write_npy(const std::string& path, const TensorData& t);
std::string npy_bytes(const TensorData& t);

/// Reads a .npy and requires the shape `expected` (InputError naming file and both shapes).
TensorData read_npy_shaped(const std::string& path, const Shape& expected, const std::string& what);

/// "<graph file without .json/.yaml/.yml>.data", the default data directory of a graph.
std::string default_data_dir(const std::string& graph_path);
std::string param_file(const std::string& data_dir, const std::string& node,
                       const std::string& param);
std::string input_file(const std::string& data_dir, const std::string& input);
std::string reference_file(const std::string& data_dir, const std::string& node);
bool file_exists(const std::string& path);

/// Inference `inference` (0-based) of a graph input file: the file's shape is either the
/// input's shape (one inference) or [inferences, ...input shape]. InputError otherwise or
/// when `inference` is out of range.
TensorData read_input(const std::string& data_dir, const GraphInput& in,
                      std::int64_t inference = 0);
/// Number of inferences an input file holds (1 when it has the input's own shape).
std::int64_t input_inferences(const std::string& data_dir, const GraphInput& in);

}  // namespace masesim
