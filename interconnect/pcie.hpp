// PCI Express between a host and an accelerator card: the link's data rate and the time of
// one DMA transfer (kernel-free; interconnect/pcie_link.hpp is the SystemC side).
//
// Data rate from the physical layer up: lanes × transfer rate × line-code efficiency
// (Gen1/2: 8b/10b, Gen3+: 128b/130b), then the transaction layer: every max_payload_bytes
// of data travel in one TLP with tlp_overhead_bytes of header, sequence number, LCRC and
// framing. Flow-control and ACK DLLPs are not counted (a few percent; docs/engines.md).
// A transfer of b bytes occupies its direction for b / rate and completes latency_ns after
// its last byte left (the round trip of a DMA read request, or a posted write's flight and
// the root complex), so transfer_ps(b) = serialize_ps(b) + latency.
#pragma once
#include <cstdint>
#include <string>

namespace masesim::interconnect {

struct PcieParams {
  int generation = 3;           ///< 1..5
  int lanes = 16;               ///< 1, 2, 4, 8 or 16
  int max_payload_bytes = 256;  ///< TLP max payload size (MPS)
  int tlp_overhead_bytes = 24;  ///< 4-DW header 16 + LCRC 4 + framing/sequence 4
  double latency_ns = 1000;     ///< per transfer
};

/// GT/s of one lane of `generation` (2.5, 5, 8, 16, 32); throws std::invalid_argument.
double pcie_gtransfers_per_s(int generation);
/// Line-code efficiency: 0.8 (8b/10b) for Gen1/2, 128/130 from Gen3.
double pcie_encoding_efficiency(int generation);
/// Bytes per second of TLP payload in one direction (file comment).
double pcie_payload_bytes_per_s(const PcieParams& p);
/// Time `bytes` occupy one direction.
std::uint64_t pcie_serialize_ps(std::uint64_t bytes, const PcieParams& p);
/// Time of one transfer on an idle link: serialize + latency.
std::uint64_t pcie_transfer_ps(std::uint64_t bytes, const PcieParams& p);
/// Empty when `p` is valid, else what is wrong ("pcie.lanes = 3 is not 1, 2, 4, 8 or 16").
std::string pcie_check(const PcieParams& p);

}  // namespace masesim::interconnect
