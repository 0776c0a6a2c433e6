#include "interconnect/framing.hpp"

#include <cmath>
#include <limits>

namespace masesim::interconnect {
namespace {

__extension__ typedef unsigned __int128 u128;

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0 ? 1 : 0);
}

uint64_t checked_u64(u128 v, const char* what) {
  if (v > std::numeric_limits<uint64_t>::max()) {
    throw FramingError(std::string(what) + ": result does not fit in 64 bits");
  }
  return static_cast<uint64_t>(v);
}

void validate_line_rate(const LineRate& r) {
  if (r.lanes == 0) throw FramingError("line_rate.lanes: must be at least 1, found 0");
  if (r.lane_baud == 0) throw FramingError("line_rate.lane_baud: must be positive, found 0");
  if (r.code_payload_bits == 0 || r.code_block_bits < r.code_payload_bits) {
    throw FramingError("line_rate: code must carry 1..block bits of data per block, found " +
                       std::to_string(r.code_payload_bits) + "/" +
                       std::to_string(r.code_block_bits));
  }
}

/// Bytes moved per channel cycle: one 8-byte block on every lane.
uint64_t aurora_cycle_bytes(const FramingConfig& cfg) {
  return kAuroraBlockBytes * cfg.line_rate.lanes;
}

bool is_aurora(FramingKind k) {
  return k == FramingKind::aurora_framing || k == FramingKind::aurora_streaming;
}

uint64_t ns_to_ps_ceil(double ns) {
  // The small tolerance absorbs binary rounding of decimal inputs (7.5 ns → 7500 ps).
  const double ps = std::ceil(ns * 1000.0 - 1e-6);
  return ps <= 0.0 ? 0 : static_cast<uint64_t>(ps);
}

}  // namespace

double LineRate::gbps() const {
  return static_cast<double>(lanes) * static_cast<double>(lane_baud) *
         static_cast<double>(code_payload_bits) / static_cast<double>(code_block_bits) / 1e9;
}

LineRate qsfp28_line_rate() {
  return LineRate{};
}

FramingKind parse_framing_kind(const std::string& name) {
  if (name == "ethernet") return FramingKind::ethernet;
  if (name == "aurora_framing" || name == "aurora") return FramingKind::aurora_framing;
  if (name == "aurora_streaming") return FramingKind::aurora_streaming;
  throw FramingError("framing kind: unknown '" + name +
                     "', expected one of ethernet, aurora_framing, aurora_streaming");
}

const char* to_string(FramingKind kind) {
  switch (kind) {
    case FramingKind::ethernet:
      return "ethernet";
    case FramingKind::aurora_framing:
      return "aurora_framing";
    case FramingKind::aurora_streaming:
      return "aurora_streaming";
  }
  return "?";
}

void validate(const FramingConfig& cfg) {
  validate_line_rate(cfg.line_rate);
  switch (cfg.kind) {
    case FramingKind::ethernet:
      if (cfg.mtu_bytes < kEthMinPayloadBytes || cfg.mtu_bytes > kEthMaxMtuBytes) {
        throw FramingError("framing.mtu_bytes: ethernet MTU must be " +
                           std::to_string(kEthMinPayloadBytes) + ".." +
                           std::to_string(kEthMaxMtuBytes) + " bytes, found " +
                           std::to_string(cfg.mtu_bytes));
      }
      break;
    case FramingKind::aurora_framing:
      if (cfg.mtu_bytes < 1 || cfg.mtu_bytes > kAuroraMaxMtuBytes) {
        throw FramingError("framing.mtu_bytes: aurora_framing MTU must be 1.." +
                           std::to_string(kAuroraMaxMtuBytes) + " bytes, found " +
                           std::to_string(cfg.mtu_bytes));
      }
      break;
    case FramingKind::aurora_streaming:
      break;
  }
  if (is_aurora(cfg.kind) && cfg.aurora_cc_blocks >= cfg.aurora_cc_period_blocks) {
    throw FramingError("framing.aurora_cc_blocks: must be below aurora_cc_period_blocks (" +
                       std::to_string(cfg.aurora_cc_period_blocks) + "), found " +
                       std::to_string(cfg.aurora_cc_blocks));
  }
}

uint64_t frame_wire_bytes(uint64_t payload_bytes, const FramingConfig& cfg) {
  validate(cfg);
  if (cfg.kind != FramingKind::aurora_streaming && payload_bytes > cfg.mtu_bytes) {
    throw FramingError("frame_wire_bytes: payload of " + std::to_string(payload_bytes) +
                       " bytes exceeds framing.mtu_bytes = " + std::to_string(cfg.mtu_bytes));
  }
  switch (cfg.kind) {
    case FramingKind::ethernet: {
      const uint64_t padded =
          payload_bytes < kEthMinPayloadBytes ? kEthMinPayloadBytes : payload_bytes;
      return padded + kEthOverheadBytes;
    }
    case FramingKind::aurora_framing: {
      const uint64_t cycle = aurora_cycle_bytes(cfg);
      uint64_t cycles = 0;
      if (cfg.line_rate.lane_baud > kAuroraWideSepLaneBaud) {
        // PG074, lane rates > 16.375 Gb/s: the frame's data fills whole cycles
        // (the last one possibly partly empty), then one cycle of SEP blocks on
        // every lane.
        cycles = ceil_div(payload_bytes, cycle) + 1;
      } else {
        // Strict Aligned: full data blocks, then a SEP (0..6 B) or SEP7 (7 B)
        // block holding the remainder; nothing follows a SEP in its cycle.
        const uint64_t blocks = payload_bytes / kAuroraBlockBytes + 1;
        cycles = ceil_div(blocks, cfg.line_rate.lanes);
      }
      return cycles * cycle;
    }
    case FramingKind::aurora_streaming: {
      const uint64_t cycle = aurora_cycle_bytes(cfg);
      return ceil_div(payload_bytes, cycle) * cycle;
    }
  }
  throw FramingError("frame_wire_bytes: unknown framing kind");
}

FrameSplit frames_for(uint64_t payload_total_bytes, const FramingConfig& cfg) {
  validate(cfg);
  FrameSplit split;
  if (cfg.kind == FramingKind::aurora_streaming) {
    split.tail_payload_bytes = payload_total_bytes;
    return split;
  }
  split.full_frames = payload_total_bytes / cfg.mtu_bytes;
  split.full_frame_payload_bytes = cfg.mtu_bytes;
  split.tail_payload_bytes = payload_total_bytes % cfg.mtu_bytes;
  return split;
}

double cc_overhead_fraction(const FramingConfig& cfg) {
  validate(cfg);
  if (!is_aurora(cfg.kind)) return 0.0;
  return static_cast<double>(cfg.aurora_cc_blocks) /
         static_cast<double>(cfg.aurora_cc_period_blocks);
}

uint64_t transfer_wire_bytes(uint64_t payload_total_bytes, const FramingConfig& cfg) {
  const FrameSplit split = frames_for(payload_total_bytes, cfg);
  u128 wire = 0;
  if (split.full_frames > 0) {
    wire += static_cast<u128>(split.full_frames) *
            frame_wire_bytes(split.full_frame_payload_bytes, cfg);
  }
  if (split.tail_payload_bytes > 0) wire += frame_wire_bytes(split.tail_payload_bytes, cfg);
  if (is_aurora(cfg.kind) && cfg.aurora_cc_blocks > 0) {
    // C of every P block times carry CC blocks: data gets (P - C) / P of the line,
    // so W data bytes occupy W * P / (P - C) bytes of line time.
    const u128 c = cfg.aurora_cc_blocks;
    const u128 p_minus_c = cfg.aurora_cc_period_blocks - cfg.aurora_cc_blocks;
    wire += (wire * c + p_minus_c - 1) / p_minus_c;
  }
  return checked_u64(wire, "transfer_wire_bytes");
}

uint64_t serialization_ps(uint64_t wire_bytes, const LineRate& line_rate) {
  validate_line_rate(line_rate);
  // t = bytes * 8 / (lanes * baud * payload_bits / block_bits), in ps:
  //   ceil(bytes * 8 * 1e12 * block_bits / (lanes * baud * payload_bits)).
  const u128 num =
      static_cast<u128>(wire_bytes) * 8u * 1'000'000'000'000ull * line_rate.code_block_bits;
  const u128 den =
      static_cast<u128>(line_rate.lanes) * line_rate.lane_baud * line_rate.code_payload_bits;
  return checked_u64((num + den - 1) / den, "serialization_ps");
}

double goodput_gbps(uint64_t payload_bytes_per_frame, const FramingConfig& cfg) {
  const uint64_t wire = frame_wire_bytes(payload_bytes_per_frame, cfg);
  return cfg.line_rate.gbps() * static_cast<double>(payload_bytes_per_frame) /
         static_cast<double>(wire) * (1.0 - cc_overhead_fraction(cfg));
}

uint64_t LinkTiming::fixed_latency_ps() const {
  if (mac_pcs_tx_ns < 0 || mac_pcs_rx_ns < 0 || cable_m < 0 || ns_per_m < 0) {
    throw FramingError(
        "link timing: mac_pcs_tx_ns, mac_pcs_rx_ns, cable_m and ns_per_m must "
        "not be negative");
  }
  return ns_to_ps_ceil(mac_pcs_tx_ns + mac_pcs_rx_ns + cable_m * ns_per_m);
}

LinkTiming aurora_link_timing() {
  LinkTiming t;
  t.mac_pcs_tx_ns = 50.0;
  t.mac_pcs_rx_ns = 80.0;
  return t;
}

LinkTiming ethernet_link_timing() {
  return LinkTiming{};
}

uint64_t transfer_time_ps(uint64_t total_payload_bytes, const FramingConfig& cfg,
                          const LinkTiming& link) {
  return serialization_ps(transfer_wire_bytes(total_payload_bytes, cfg), cfg.line_rate) +
         link.fixed_latency_ps();
}

uint64_t multi_hop_transfer_time_ps(uint64_t total_payload_bytes, const FramingConfig& cfg,
                                    const LinkTiming& link, uint32_t hops) {
  if (hops == 0) return 0;
  const uint64_t one_hop = transfer_time_ps(total_payload_bytes, cfg, link);
  const FrameSplit split = frames_for(total_payload_bytes, cfg);
  const uint64_t largest_payload =
      split.full_frames > 0 ? split.full_frame_payload_bytes : split.tail_payload_bytes;
  const uint64_t per_extra_hop =
      serialization_ps(transfer_wire_bytes(largest_payload, cfg), cfg.line_rate) +
      link.fixed_latency_ps();
  return one_hop + static_cast<uint64_t>(hops - 1) * per_extra_hop;
}

}  // namespace masesim::interconnect
