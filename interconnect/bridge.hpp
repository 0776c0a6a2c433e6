// Cross-device bridges: a TX bridge packs a stream's beats into frames and sends them
// over a route of QSFP28 links (TLM-2.0 b_transport per hop); an RX bridge unpacks them
// into the consumer's stream. Both are blocks with the same stream interface as the op
// blocks.
//
// Contract: per inference the tensor (beats × beat_bits) is cut into frames of at most
// the MTU (the last one shorter: the tensor's end flushes); frame f carries bytes
// [f·MTU, ...); a beat is complete in the frame holding its last byte. A frame is sent
// only when the receiver has a free buffer slot (credit-based flow control: the
// receive buffer holds `rx_buffer_frames` frames; a credit returns one link latency after
// the RX bridge frees a slot), so no frame is dropped or reordered. Intermediate devices
// forward store-and-forward (next hop starts when the frame fully arrived) or
// cut-through (next hop starts once the header arrived).
#pragma once
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <vector>

#include "interconnect/framing.hpp"
#include "interconnect/qsfp28_link.hpp"
#include "models/activity.hpp"
#include "models/stream.hpp"

namespace masesim {

struct FlowShape {
  std::int64_t beats = 0;      ///< per inference
  std::int64_t beat_bits = 8;  ///< bits per beat (elements × bits per element, rounded up)
  std::int64_t inferences = 1;
  interconnect::FramingConfig framing;
  /// LLM mode: beats per inference of each variant, inference i is variant schedule->of(i).
  std::vector<std::int64_t> variant_beats;
  SchedulePtr schedule;
  std::int64_t beats_of(std::int64_t inf) const {
    return schedule ? variant_beats[static_cast<std::size_t>(schedule->of(inf))] : beats;
  }
  /// Payload bytes of each frame of one inference (of `beats_override` beats if >= 0).
  std::vector<std::uint64_t> frame_payloads(std::int64_t beats_override = -1) const;
  std::uint64_t tensor_bytes(std::int64_t beats_override = -1) const;
};

/// The frames of every variant of a flow, computed once: inference i sends of(i).
struct FramePlan {
  explicit FramePlan(const FlowShape& s);
  const std::vector<std::uint64_t>& of(std::int64_t inf) const {
    return per_variant[schedule ? static_cast<std::size_t>(schedule->of(inf)) : 0];
  }
  std::vector<std::vector<std::uint64_t>> per_variant;  ///< one entry without a schedule
  SchedulePtr schedule;
  std::uint64_t max_payload = 0;  ///< largest frame of any variant (receive-buffer sizing)
};

class TxBridge : public Block {
 public:
  SC_HAS_PROCESS(TxBridge);
  tlm_utils::multi_passthrough_initiator_socket<TxBridge>
      net;  ///< one binding per hop, in route order

  /// @param period_ps      producer device clock (one beat read per cycle)
  /// @param in             the producer's stream
  /// @param frames         frame channel to the RX bridge (depth = receive buffer frames)
  /// @param hops           the links of the route, in order (for stats)
  /// @param cut_through    forwarding mode at intermediate devices
  TxBridge(const sc_core::sc_module_name& name, time_ps period_ps, Stream* in, Stream* frames,
           const FlowShape& shape, std::vector<Qsfp28Link*> hops, bool cut_through);
  std::uint64_t frames_sent() const { return frames_sent_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }  ///< payload bytes
  /// Counters: beats_in (beats read, one per cycle = busy), beats_out (frames sent),
  /// stall_in (waiting for beats), stall_out (waiting for a receive-buffer credit).
  template <typename Tree>
  void write_stats(Tree& t) const {
    act_.write(t, period_);
  }

 private:
  void run();
  time_ps send(time_ps ready, std::uint64_t payload);
  time_ps period_;
  Stream* in_;
  Stream* frames_;
  FlowShape shape_;
  std::vector<Qsfp28Link*> hops_;
  bool cut_through_;
  std::uint64_t frames_sent_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::vector<time_ps> hop_end_;  ///< end of this flow's last frame on each hop
  ActivityCounters act_;
};

class RxBridge : public Block {
 public:
  SC_HAS_PROCESS(RxBridge);
  /// @param period_ps  consumer device clock (one beat pushed per cycle)
  /// @param last_hop   link whose receive buffer this is (its max_buffer_bytes is updated)
  RxBridge(const sc_core::sc_module_name& name, time_ps period_ps, Stream* frames, Stream* out,
           const FlowShape& shape, Qsfp28Link* last_hop);
  /// Counters: beats_in (frames taken), beats_out (beats pushed, one per cycle = busy),
  /// stall_in (waiting for a frame), stall_out (waiting for downstream space).
  template <typename Tree>
  void write_stats(Tree& t) const {
    act_.write(t, period_);
  }

 private:
  void run();
  time_ps period_;
  Stream* frames_;
  Stream* out_;
  FlowShape shape_;
  Qsfp28Link* last_hop_;
  ActivityCounters act_;
};

}  // namespace masesim
