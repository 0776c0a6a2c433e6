#include "interconnect/pcie.hpp"

#include <cmath>
#include <stdexcept>

namespace masesim::interconnect {

double pcie_gtransfers_per_s(int generation) {
  switch (generation) {
    case 1:
      return 2.5;
    case 2:
      return 5.0;
    case 3:
      return 8.0;
    case 4:
      return 16.0;
    case 5:
      return 32.0;
    default:
      throw std::invalid_argument("PCIe generation " + std::to_string(generation) + " is not 1..5");
  }
}

double pcie_encoding_efficiency(int generation) {
  return generation <= 2 ? 0.8 : 128.0 / 130.0;
}

double pcie_payload_bytes_per_s(const PcieParams& p) {
  const double line = p.lanes * pcie_gtransfers_per_s(p.generation) * 1e9 *
                      pcie_encoding_efficiency(p.generation) / 8.0;
  return line * p.max_payload_bytes / (p.max_payload_bytes + p.tlp_overhead_bytes);
}

std::uint64_t pcie_serialize_ps(std::uint64_t bytes, const PcieParams& p) {
  return static_cast<std::uint64_t>(
      std::ceil(static_cast<double>(bytes) / pcie_payload_bytes_per_s(p) * 1e12 - 1e-6));
}

std::uint64_t pcie_transfer_ps(std::uint64_t bytes, const PcieParams& p) {
  return pcie_serialize_ps(bytes, p) + static_cast<std::uint64_t>(std::llround(p.latency_ns * 1e3));
}

std::string pcie_check(const PcieParams& p) {
  if (p.generation < 1 || p.generation > 5)
    return "pcie.generation = " + std::to_string(p.generation) + " is not 1..5";
  if (p.lanes != 1 && p.lanes != 2 && p.lanes != 4 && p.lanes != 8 && p.lanes != 16)
    return "pcie.lanes = " + std::to_string(p.lanes) + " is not 1, 2, 4, 8 or 16";
  if (p.max_payload_bytes < 128 || p.max_payload_bytes > 4096 ||
      (p.max_payload_bytes & (p.max_payload_bytes - 1)) != 0)
    return "pcie.max_payload_bytes = " + std::to_string(p.max_payload_bytes) +
           " is not a power of two 128..4096";
  if (p.tlp_overhead_bytes < 0 || p.tlp_overhead_bytes > 64)
    return "pcie.tlp_overhead_bytes = " + std::to_string(p.tlp_overhead_bytes) + " is not 0..64";
  if (!(p.latency_ns >= 0) || p.latency_ns > 1e6) return "pcie.latency_ns must be 0..1e6";
  return "";
}

}  // namespace masesim::interconnect
