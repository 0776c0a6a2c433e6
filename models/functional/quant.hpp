// Quantisation to the number formats of workloads/precision.hpp with the hardware's
// arithmetic (docs/functional.md). Values are held as `double`: every format here is
// exact in double (fixed point up to 53 bits of width; the float formats up to float64).
// Kernel-free: nothing here knows SystemC.
#pragma once
#include <string>
#include <vector>

#include "workloads/graph.hpp"
#include "workloads/precision.hpp"

namespace masesim::fn {

/// How a value is rounded to the format's least significant bit.
/// HalfEven: round to nearest, ties to even (torch.round / np.rint; MASE's software
///           quantisers). Default.
/// Truncate: drop the bits below the LSB: toward −∞ for two's-complement formats
///           (fixed, mxint — what a hardware cast that drops LSBs does), toward zero for
///           sign-magnitude formats (block_fp, minifloat, mxfp, float).
enum class Rounding { HalfEven, Truncate };

const char* rounding_name(Rounding r);  ///< "half_even" | "truncate"
/// Parses "half_even" / "truncate"; throws InputError otherwise.
Rounding parse_rounding(const std::string& s);

/// Quantises `v` (row-major, `shape`) in place to `p`. Block formats take their blocks
/// along the last dimension in contiguous groups of `block_size` (the tail block is
/// padded with zeros); a rank-0 shape is one element. Throws InputError when
/// v.size() != numel(shape).
void quantize(std::vector<double>& v, const Shape& shape, const Precision& p, Rounding r);

/// One element of an element-wise format (fixed, float, minifloat). Throws InputError for
/// block formats (they need their block: use quantize()).
double quantize_scalar(double x, const Precision& p, Rounding r);

/// The LSB (quantum) of every element of an already quantised tensor: 2^-frac for fixed,
/// 2^(E-(width-1)) for block_fp with the block's exponent E, the element's ulp (scaled by
/// the shared scale) for mxint/mxfp/minifloat/float. Used to derive tolerances.
std::vector<double> quantum_of(const std::vector<double>& v, const Shape& shape,
                               const Precision& p);

/// Largest finite magnitude of an element-wise format (fixed, minifloat, float).
double max_finite(const Precision& p);

}  // namespace masesim::fn
