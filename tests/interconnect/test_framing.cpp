// Framing and link timing: wire bytes, goodput, serialisation, transfer times.
#include <gtest/gtest.h>

#include <string>

#include "interconnect/framing.hpp"

namespace ic = masesim::interconnect;

namespace {

ic::FramingConfig ethernet(uint64_t mtu) {
  ic::FramingConfig cfg;
  cfg.kind = ic::FramingKind::ethernet;
  cfg.mtu_bytes = mtu;
  return cfg;
}

ic::FramingConfig aurora(ic::FramingKind kind, uint64_t mtu = 1500) {
  ic::FramingConfig cfg;
  cfg.kind = kind;
  cfg.mtu_bytes = mtu;
  return cfg;
}

std::string error_of(void (*fn)()) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(LineRate, Qsfp28IsExactly100Gbps) {
  const ic::LineRate r = ic::qsfp28_line_rate();
  EXPECT_EQ(r.lanes, 4u);
  EXPECT_EQ(r.lane_baud, 25'781'250'000u);
  EXPECT_DOUBLE_EQ(r.gbps(), 100.0);
}

TEST(Serialization, ExactPicosecondsAt100G) {
  const ic::LineRate r = ic::qsfp28_line_rate();
  EXPECT_EQ(ic::serialization_ps(0, r), 0u);
  EXPECT_EQ(ic::serialization_ps(1, r), 80u);
  EXPECT_EQ(ic::serialization_ps(1538, r), 123'040u);
  EXPECT_EQ(ic::serialization_ps(9038, r), 723'040u);
  // 1 TB still fits and is exact.
  EXPECT_EQ(ic::serialization_ps(1'000'000'000'000ull, r), 80'000'000'000'000ull);
}

TEST(Serialization, RoundsUpNeverFasterThanLine) {
  ic::LineRate r;
  r.lanes = 1;
  r.lane_baud = 7'000'000'000;  // 1 byte = 8 * 66 / (7 * 64) ns = 1178.57 ps
  EXPECT_EQ(ic::serialization_ps(1, r), 1179u);
  EXPECT_EQ(ic::serialization_ps(7, r), 8250u);  // exactly 8250 ps, no rounding
  EXPECT_EQ(ic::serialization_ps(8, r), 9429u);  // 9428.57 -> 9429
}

TEST(Ethernet, WireBytesIncludeOverheadAndPadding) {
  const auto cfg = ethernet(1500);
  EXPECT_EQ(ic::kEthOverheadBytes, 38u);
  EXPECT_EQ(ic::kEthMinPayloadBytes, 46u);
  EXPECT_EQ(ic::frame_wire_bytes(1500, cfg), 1538u);
  EXPECT_EQ(ic::frame_wire_bytes(64, cfg), 102u);
  EXPECT_EQ(ic::frame_wire_bytes(47, cfg), 85u);
  EXPECT_EQ(ic::frame_wire_bytes(46, cfg), 84u);
  EXPECT_EQ(ic::frame_wire_bytes(1, cfg), 84u);  // padded to the 64 B minimum frame
  EXPECT_EQ(ic::frame_wire_bytes(0, cfg), 84u);
  EXPECT_EQ(ic::frame_wire_bytes(9000, ethernet(9000)), 9038u);
}

TEST(Ethernet, GoodputMatchesFormulaAndReferenceNumbers) {
  EXPECT_DOUBLE_EQ(ic::goodput_gbps(1500, ethernet(1500)), 100.0 * 1500 / 1538);
  EXPECT_NEAR(ic::goodput_gbps(1500, ethernet(1500)), 97.53, 0.005);
  EXPECT_DOUBLE_EQ(ic::goodput_gbps(9000, ethernet(9000)), 100.0 * 9000 / 9038);
  EXPECT_NEAR(ic::goodput_gbps(9000, ethernet(9000)), 99.58, 0.005);
  EXPECT_DOUBLE_EQ(ic::goodput_gbps(64, ethernet(1500)), 100.0 * 64 / 102);
  EXPECT_NEAR(ic::goodput_gbps(64, ethernet(1500)), 62.75, 0.005);
}

TEST(Ethernet, MtuOutOfRangeIsAnError) {
  EXPECT_THROW(ic::validate(ethernet(45)), ic::FramingError);
  EXPECT_THROW(ic::validate(ethernet(9001)), ic::FramingError);
  EXPECT_NO_THROW(ic::validate(ethernet(46)));
  EXPECT_NO_THROW(ic::validate(ethernet(9000)));
  const std::string msg = error_of([] { ic::validate(ethernet(9001)); });
  EXPECT_NE(msg.find("framing.mtu_bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("46..9000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("9001"), std::string::npos) << msg;
  const std::string over = error_of([] { ic::frame_wire_bytes(1501, ethernet(1500)); });
  EXPECT_NE(over.find("1501"), std::string::npos) << over;
}

TEST(Ethernet, SegmentationIntoFullFramesAndTail) {
  const auto split = ic::frames_for(1'048'576, ethernet(1500));
  EXPECT_EQ(split.full_frames, 699u);
  EXPECT_EQ(split.full_frame_payload_bytes, 1500u);
  EXPECT_EQ(split.tail_payload_bytes, 76u);
  EXPECT_EQ(split.frame_count(), 700u);
  EXPECT_EQ(ic::frames_for(3000, ethernet(1500)).frame_count(), 2u);
  EXPECT_EQ(ic::frames_for(0, ethernet(1500)).frame_count(), 0u);
  EXPECT_EQ(ic::transfer_wire_bytes(1'048'576, ethernet(1500)), 699u * 1538u + 114u);
}

TEST(Ethernet, OneMebibyteTensorTransferTime) {
  const ic::LinkTiming link;  // 120 ns TX + 180 ns RX + 1 m x 5 ns/m
  EXPECT_EQ(link.fixed_latency_ps(), 305'000u);
  // 1,075,176 wire bytes x 80 ps + 305 ns.
  EXPECT_EQ(ic::transfer_time_ps(1'048'576, ethernet(1500), link), 86'319'080u);
  // Three hops, store-and-forward of 1538 B frames: + 2 x (123,040 + 305,000) ps.
  EXPECT_EQ(ic::multi_hop_transfer_time_ps(1'048'576, ethernet(1500), link, 3), 87'175'160u);
  EXPECT_EQ(ic::multi_hop_transfer_time_ps(1'048'576, ethernet(1500), link, 1),
            ic::transfer_time_ps(1'048'576, ethernet(1500), link));
  EXPECT_EQ(ic::multi_hop_transfer_time_ps(1'048'576, ethernet(1500), link, 0), 0u);
}

TEST(LinkTiming, CableLengthAddsFiveNsPerMetre) {
  ic::LinkTiming link;
  link.mac_pcs_tx_ns = 0;
  link.mac_pcs_rx_ns = 0;
  link.cable_m = 1.5;
  EXPECT_EQ(link.fixed_latency_ps(), 7'500u);
  link.cable_m = 3.0;
  EXPECT_EQ(link.fixed_latency_ps(), 15'000u);
  EXPECT_EQ(ic::aurora_link_timing().fixed_latency_ps(), 135'000u);
  link.cable_m = -1;
  EXPECT_THROW(link.fixed_latency_ps(), ic::FramingError);
}

TEST(Aurora, FramingWireBytesAt25GLanesUseSepCycle) {
  // 4 lanes x 8 B = 32 B per cycle; data cycles then one cycle of SEP blocks.
  const auto cfg = aurora(ic::FramingKind::aurora_framing, 9000);
  EXPECT_EQ(ic::frame_wire_bytes(1, cfg), 64u);
  EXPECT_EQ(ic::frame_wire_bytes(32, cfg), 64u);
  EXPECT_EQ(ic::frame_wire_bytes(33, cfg), 96u);
  EXPECT_EQ(ic::frame_wire_bytes(64, cfg), 96u);
  EXPECT_EQ(ic::frame_wire_bytes(1500, cfg), 1536u);
  EXPECT_EQ(ic::frame_wire_bytes(9000, cfg), 9056u);
}

TEST(Aurora, FramingWireBytesBelow16GLanesStrictAligned) {
  // 10.3125 GBd lanes: the SEP/SEP7 block carries the last 0..7 bytes.
  auto cfg = aurora(ic::FramingKind::aurora_framing);
  cfg.line_rate.lane_baud = 10'312'500'000;
  cfg.line_rate.lanes = 1;
  EXPECT_EQ(ic::frame_wire_bytes(7, cfg), 8u);   // one SEP7
  EXPECT_EQ(ic::frame_wire_bytes(8, cfg), 16u);  // data + empty SEP
  EXPECT_EQ(ic::frame_wire_bytes(14, cfg), 16u);
  cfg.line_rate.lanes = 4;
  EXPECT_EQ(ic::frame_wire_bytes(31, cfg), 32u);  // 3 data + SEP7 in one cycle
  EXPECT_EQ(ic::frame_wire_bytes(32, cfg), 64u);  // 4 data, then SEP alone
  EXPECT_EQ(ic::frame_wire_bytes(1500, cfg), 1504u);
}

TEST(Aurora, GoodputIncludesClockCompensation) {
  const auto cfg = aurora(ic::FramingKind::aurora_framing, 9000);
  EXPECT_DOUBLE_EQ(ic::cc_overhead_fraction(cfg), 0.0003);
  EXPECT_DOUBLE_EQ(ic::cc_overhead_fraction(ethernet(1500)), 0.0);
  EXPECT_DOUBLE_EQ(ic::goodput_gbps(1500, cfg), 100.0 * 1500 / 1536 * 0.9997);
  EXPECT_NEAR(ic::goodput_gbps(1500, cfg), 97.63, 0.005);
  EXPECT_NEAR(ic::goodput_gbps(9000, cfg), 99.35, 0.005);
  EXPECT_NEAR(ic::goodput_gbps(64, cfg), 66.65, 0.005);
  const auto stream = aurora(ic::FramingKind::aurora_streaming);
  EXPECT_NEAR(ic::goodput_gbps(1 << 20, stream), 99.97, 1e-9);
}

TEST(Aurora, StreamingHasNoFrameOverhead) {
  const auto cfg = aurora(ic::FramingKind::aurora_streaming);
  EXPECT_EQ(ic::frame_wire_bytes(1, cfg), 32u);  // one cycle on 4 lanes
  EXPECT_EQ(ic::frame_wire_bytes(1'048'576, cfg), 1'048'576u);
  EXPECT_EQ(ic::frames_for(1'048'576, cfg).frame_count(), 1u);
  // + ceil(1,048,576 x 3 / 9,997) = 315 bytes of clock compensation.
  EXPECT_EQ(ic::transfer_wire_bytes(1'048'576, cfg), 1'048'891u);
}

TEST(Aurora, OneMebibyteFramedTransfer) {
  const auto cfg = aurora(ic::FramingKind::aurora_framing, 1500);
  // 699 x 1536 + 128 = 1,073,792 B of frames + 323 B of clock compensation.
  EXPECT_EQ(ic::transfer_wire_bytes(1'048'576, cfg), 1'074'115u);
  EXPECT_EQ(ic::transfer_time_ps(1'048'576, cfg, ic::aurora_link_timing()),
            1'074'115u * 80u + 135'000u);
}

TEST(Aurora, InvalidClockCompensationIsAnError) {
  auto cfg = aurora(ic::FramingKind::aurora_framing);
  cfg.aurora_cc_blocks = 10'000;
  EXPECT_THROW(ic::validate(cfg), ic::FramingError);
  cfg.aurora_cc_blocks = 0;
  EXPECT_NO_THROW(ic::validate(cfg));
  EXPECT_EQ(ic::transfer_wire_bytes(1500, cfg), 1536u);
}

TEST(FramingKind, ParseAndPrint) {
  EXPECT_EQ(ic::parse_framing_kind("ethernet"), ic::FramingKind::ethernet);
  EXPECT_EQ(ic::parse_framing_kind("aurora_streaming"), ic::FramingKind::aurora_streaming);
  EXPECT_STREQ(ic::to_string(ic::FramingKind::aurora_framing), "aurora_framing");
  const std::string msg = error_of([] { ic::parse_framing_kind("infiniband"); });
  EXPECT_NE(msg.find("'infiniband'"), std::string::npos) << msg;
}
