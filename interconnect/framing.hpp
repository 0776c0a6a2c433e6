// Link-layer framing and timing cost model for QSFP28 links (kernel-free).
//
// Contract: every function here is a pure function of its arguments. Byte counts
// and times are 64-bit integers; times are picoseconds rounded UP, so that no
// modelled transfer is ever faster than the line rate. Invalid configurations
// raise FramingError (a std::runtime_error) naming the offending field.
// Formulas, defaults and their sources: docs/interconnect.md.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace masesim::interconnect {

class FramingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Serial line: `lanes` lanes at `lane_baud` symbols/s with a block code of
/// `code_payload_bits` data bits per `code_block_bits` line bits.
/// The default is QSFP28: 4 x 25.78125 GBd x 64/66 = 100.000 Gb/s.
struct LineRate {
  uint32_t lanes = 4;
  uint64_t lane_baud = 25'781'250'000;
  uint32_t code_payload_bits = 64;
  uint32_t code_block_bits = 66;

  /// Data rate after line coding, in Gb/s (exact for the default: 100.0).
  double gbps() const;
};

/// QSFP28, 100 Gb/s per direction.
LineRate qsfp28_line_rate();

enum class FramingKind {
  ethernet,          ///< IEEE 802.3 frames, 38 B overhead, 64 B minimum frame
  aurora_framing,    ///< Aurora 64B/66B framing mode (frames end with SEP blocks)
  aurora_streaming,  ///< Aurora 64B/66B streaming mode (no per-frame overhead)
};

/// "ethernet", "aurora_framing", "aurora_streaming"; throws FramingError otherwise.
FramingKind parse_framing_kind(const std::string& name);
const char* to_string(FramingKind kind);

// Ethernet constants (IEEE 802.3).
inline constexpr uint64_t kEthPreambleSfdBytes = 8;
inline constexpr uint64_t kEthHeaderBytes = 14;  // dst MAC, src MAC, EtherType
inline constexpr uint64_t kEthFcsBytes = 4;
inline constexpr uint64_t kEthIfgBytes = 12;
inline constexpr uint64_t kEthOverheadBytes =
    kEthPreambleSfdBytes + kEthHeaderBytes + kEthFcsBytes + kEthIfgBytes;  // 38
inline constexpr uint64_t kEthMinFrameBytes = 64;                          // header + payload + FCS
inline constexpr uint64_t kEthMinPayloadBytes =
    kEthMinFrameBytes - kEthHeaderBytes - kEthFcsBytes;  // 46
inline constexpr uint64_t kEthMaxMtuBytes = 9000;        // jumbo frames

// Aurora 64B/66B constants (Xilinx PG074 / SP011).
inline constexpr uint64_t kAuroraBlockBytes = 8;
/// Lane rate above which PG074 uses the "SEP cycle on all lanes" frame format.
inline constexpr uint64_t kAuroraWideSepLaneBaud = 16'375'000'000;
/// Largest Aurora frame this model accepts as an MTU (the protocol has no limit).
inline constexpr uint64_t kAuroraMaxMtuBytes = uint64_t{1} << 30;

struct FramingConfig {
  FramingKind kind = FramingKind::ethernet;
  /// Largest payload per frame. Ethernet: 46..9000. Aurora framing: 1..2^30.
  /// Ignored in Aurora streaming mode.
  uint64_t mtu_bytes = 1500;
  LineRate line_rate{};
  /// Aurora clock compensation: `aurora_cc_blocks` CC blocks per lane in every
  /// `aurora_cc_period_blocks` block times (PG074; see docs/interconnect.md).
  uint64_t aurora_cc_blocks = 3;
  uint64_t aurora_cc_period_blocks = 10'000;
};

/// Throws FramingError if a field is out of range.
void validate(const FramingConfig& cfg);

/// Bytes on the wire (line time, after coding) of one frame carrying
/// `payload_bytes`, including padding, delimiters and gaps, excluding clock
/// compensation. Streaming mode: the payload rounded up to whole channel cycles.
uint64_t frame_wire_bytes(uint64_t payload_bytes, const FramingConfig& cfg);

/// Segmentation of a transfer: `full_frames` frames of `full_frame_payload_bytes`
/// plus one frame of `tail_payload_bytes` if that is not zero. Streaming mode
/// sends the whole transfer as one frame (reported as the tail).
struct FrameSplit {
  uint64_t full_frames = 0;
  uint64_t full_frame_payload_bytes = 0;
  uint64_t tail_payload_bytes = 0;

  uint64_t frame_count() const { return full_frames + (tail_payload_bytes > 0 ? 1 : 0); }
};
FrameSplit frames_for(uint64_t payload_total_bytes, const FramingConfig& cfg);

/// Wire bytes of a whole transfer: all frames, plus Aurora clock compensation.
uint64_t transfer_wire_bytes(uint64_t payload_total_bytes, const FramingConfig& cfg);

/// Time to serialise `wire_bytes` at `line_rate`, exact, rounded up to 1 ps.
uint64_t serialization_ps(uint64_t wire_bytes, const LineRate& line_rate);

/// Fraction of line time taken by Aurora clock compensation (0 for Ethernet).
double cc_overhead_fraction(const FramingConfig& cfg);

/// Sustained payload rate of back-to-back frames of `payload_bytes_per_frame`.
double goodput_gbps(uint64_t payload_bytes_per_frame, const FramingConfig& cfg);

/// Fixed (size-independent) one-way latency of one link.
/// Defaults: estimates for a Xilinx UltraScale+ CMAC 100G Ethernet port without
/// RS-FEC, 1 m direct-attach cable; see docs/interconnect.md for sources.
struct LinkTiming {
  double mac_pcs_tx_ns = 120.0;  ///< TX MAC + PCS + transceiver
  double mac_pcs_rx_ns = 180.0;  ///< RX transceiver + PCS (deskew) + MAC
  double cable_m = 1.0;          ///< cable length
  double ns_per_m = 5.0;         ///< propagation delay (~0.67 c)

  /// Sum of the above in ps, rounded up.
  uint64_t fixed_latency_ps() const;
};

/// Estimated defaults for an Aurora 64B/66B core on GTY transceivers, 1 m cable.
LinkTiming aurora_link_timing();
/// Defaults for the UltraScale+ CMAC (same as LinkTiming{}).
LinkTiming ethernet_link_timing();

/// One-hop transfer: serialisation of all frames (with clock compensation) plus
/// the link's fixed latency. Time from the first bit leaving the sender's
/// bridge to the last payload byte delivered at the receiver's bridge.
uint64_t transfer_time_ps(uint64_t total_payload_bytes, const FramingConfig& cfg,
                          const LinkTiming& link);

/// Multi-hop transfer over `hops` identical links with store-and-forward of whole
/// frames in each intermediate device and no contention: frames pipeline, so
/// the time is the one-hop transfer time plus, per extra hop, one fixed latency
/// and one serialisation of the largest frame. `hops` = 0 gives 0.
uint64_t multi_hop_transfer_time_ps(uint64_t total_payload_bytes, const FramingConfig& cfg,
                                    const LinkTiming& link, uint32_t hops);

}  // namespace masesim::interconnect
