#include "interconnect/bridge.hpp"

#include <algorithm>

namespace masesim {

std::uint64_t FlowShape::tensor_bytes(std::int64_t beats_override) const {
  const std::int64_t b = beats_override >= 0 ? beats_override : beats;
  return (static_cast<std::uint64_t>(b) * static_cast<std::uint64_t>(beat_bits) + 7) / 8;
}

std::vector<std::uint64_t> FlowShape::frame_payloads(std::int64_t beats_override) const {
  const std::uint64_t total = tensor_bytes(beats_override);
  std::vector<std::uint64_t> v;
  if (framing.kind == interconnect::FramingKind::aurora_streaming) {
    // No frames on the wire; the bridge still hands over MTU-sized chunks.
    for (std::uint64_t off = 0; off < total; off += framing.mtu_bytes)
      v.push_back(std::min(framing.mtu_bytes, total - off));
    return v;
  }
  const auto split = interconnect::frames_for(total, framing);
  v.assign(split.full_frames, split.full_frame_payload_bytes);
  if (split.tail_payload_bytes) v.push_back(split.tail_payload_bytes);
  return v;
}

TxBridge::TxBridge(const sc_core::sc_module_name& name, time_ps period_ps, Stream* in,
                   Stream* frames, const FlowShape& shape, std::vector<Qsfp28Link*> hops,
                   bool cut_through)
    : Block(name),
      net("net"),
      period_(period_ps),
      in_(in),
      frames_(frames),
      shape_(shape),
      hops_(std::move(hops)),
      cut_through_(cut_through) {
  SC_THREAD(run);
}

time_ps TxBridge::send(time_ps ready, std::uint64_t payload) {
  time_ps t = ready;
  time_ps arrive = ready;
  if (hop_end_.size() != hops_.size()) hop_end_.assign(hops_.size(), 0);
  for (std::size_t k = 0; k < hops_.size(); ++k) {
    tlm::tlm_generic_payload trans;
    FrameTiming ft;
    ft.ready = std::max(t, hop_end_[k]);  // this flow's frames stay in order on every hop
    trans.set_extension(&ft);
    trans.set_command(tlm::TLM_WRITE_COMMAND);
    trans.set_address(0);
    trans.set_data_ptr(nullptr);
    trans.set_data_length(static_cast<unsigned>(payload));
    trans.set_streaming_width(static_cast<unsigned>(payload));
    trans.set_byte_enable_ptr(nullptr);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    net[static_cast<int>(k)]->b_transport(trans, delay);
    trans.clear_extension(&ft);
    hop_end_[k] = ft.end;
    arrive = ft.arrive;
    if (cut_through_) {
      const std::uint64_t header =
          std::min<std::uint64_t>(64, interconnect::frame_wire_bytes(payload, hops_[k]->framing()));
      t = std::max(ft.start + hops_[k]->fixed_latency_ps() +
                       interconnect::serialization_ps(header, hops_[k]->framing().line_rate),
                   t);
    } else {
      t = ft.arrive;
    }
  }
  return arrive;
}

FramePlan::FramePlan(const FlowShape& s) : schedule(s.schedule) {
  if (!s.schedule)
    per_variant.push_back(s.frame_payloads());
  else
    for (const auto b : s.variant_beats) per_variant.push_back(s.frame_payloads(b));
  for (const auto& v : per_variant)
    for (const auto p : v) max_payload = std::max(max_payload, p);
}

void TxBridge::run() {
  const FramePlan plan(shape_);
  time_ps t_read = 0;
  BeatValue value;  // functional mode: the tensor the beats belong to
  for (std::int64_t inf = 0; inf < shape_.inferences; ++inf) {
    const auto& payloads = plan.of(inf);
    const std::int64_t beats = shape_.beats_of(inf);
    std::int64_t j = 0;
    std::uint64_t end = 0;
    time_ps ready = 0;
    Activity& a = act_.now();
    for (const std::uint64_t p : payloads) {
      end += p;
      // The beats whose last byte is in this frame: (j + 1) · bits <= 8 · end.
      const std::int64_t upto = std::min<std::int64_t>(
          beats, static_cast<std::int64_t>(8 * end / static_cast<std::uint64_t>(shape_.beat_bits)));
      if (upto > j) {
        BeatValue v;
        const RunResult r =
            in_->pop_run(static_cast<std::uint64_t>(upto - j), t_read, period_, this, &v);
        if (v) value = std::move(v);
        a.stall_in_ps += r.stall_ps;
        a.beats_in += r.beats;
        a.busy_cycles += r.beats;
        ready = r.last;
        t_read = ready + period_;
        j = upto;
      }
      const time_ps frame_ready = std::max(ready + period_, t_read);
      const time_ps accepted = frames_->push_deferred(
          frame_ready, this, [&](time_ps acc) { return send(acc, p); }, value);
      hops_.front()->stats().credit_stall_ps += accepted - frame_ready;
      a.stall_out_ps += accepted - frame_ready;
      ++a.beats_out;
      ++frames_sent_;
      bytes_sent_ += p;
    }
  }
  set_finished();
}

RxBridge::RxBridge(const sc_core::sc_module_name& name, time_ps period_ps, Stream* frames,
                   Stream* out, const FlowShape& shape, Qsfp28Link* last_hop)
    : Block(name),
      period_(period_ps),
      frames_(frames),
      out_(out),
      shape_(shape),
      last_hop_(last_hop) {
  SC_THREAD(run);
}

void RxBridge::run() {
  const FramePlan plan(shape_);
  const std::uint64_t max_payload = plan.max_payload;
  time_ps t = 0;
  for (std::int64_t inf = 0; inf < shape_.inferences; ++inf) {
    const auto& payloads = plan.of(inf);
    const std::int64_t beats = shape_.beats_of(inf);
    std::int64_t j = 0;
    std::uint64_t end = 0;
    Activity& a = act_.now();
    for (const std::uint64_t p : payloads) {
      end += p;
      BeatValue value;
      const time_ps got = frames_->pop(t, this, &value);
      a.stall_in_ps += got - t;
      ++a.beats_in;
      const std::uint64_t occupancy = (frames_->visible_occupancy(got) + 1) * max_payload;
      auto& st = last_hop_->stats();
      st.max_buffer_bytes = std::max(st.max_buffer_bytes, occupancy);
      t = std::max(t, got);
      const std::int64_t upto = std::min<std::int64_t>(
          beats, static_cast<std::int64_t>(8 * end / static_cast<std::uint64_t>(shape_.beat_bits)));
      if (upto > j) {  // one beat per cycle
        const RunResult r =
            out_->push_run(static_cast<std::uint64_t>(upto - j), t, period_, this, kNever, value);
        a.stall_out_ps += r.stall_ps;
        a.beats_out += r.beats;
        a.busy_cycles += r.beats;
        t = r.last + period_;
        j = upto;
      }
    }
  }
  set_finished();
}

}  // namespace masesim
