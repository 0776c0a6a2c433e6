#include "interconnect/qsfp28_link.hpp"

#include <algorithm>

namespace masesim {

Qsfp28Link::Qsfp28Link(const sc_core::sc_module_name& name,
                       const interconnect::FramingConfig& framing,
                       const interconnect::LinkTiming& timing, std::string from, std::string to)
    : sc_core::sc_module(name),
      socket("socket"),
      framing_(framing),
      latency_ps_(timing.fixed_latency_ps()),
      from_(std::move(from)),
      to_(std::move(to)) {
  interconnect::validate(framing_);
  socket.register_b_transport(this, &Qsfp28Link::b_transport);
}

void Qsfp28Link::b_transport(int, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  FrameTiming* ft = trans.get_extension<FrameTiming>();
  const time_ps now = static_cast<time_ps>(sc_core::sc_time_stamp().value());
  const time_ps ready = ft ? ft->ready : now + static_cast<time_ps>(delay.value());
  const std::uint64_t payload = trans.get_data_length();
  // Clock compensation (Aurora) stretches the line time of every frame proportionally.
  const std::uint64_t wire = interconnect::frame_wire_bytes(payload, framing_);
  const double cc = interconnect::cc_overhead_fraction(framing_);
  const time_ps ser = interconnect::serialization_ps(wire, framing_.line_rate);
  const time_ps line =
      cc > 0 ? static_cast<time_ps>(static_cast<double>(ser) / (1.0 - cc) + 0.999999) : ser;
  const time_ps start = line_.reserve(ready, line);
  const time_ps end = start + line;
  st_.contention_ps += start - ready;
  st_.busy_ps += line;
  st_.payload_bytes += payload;
  st_.wire_bytes += wire;
  ++st_.frames;
  st_.first_ps = std::min(st_.first_ps, start);
  st_.last_ps = std::max(st_.last_ps, end);
  const time_ps arrive = end + latency_ps_;
  if (trace_) trace_->complete(track_, "frame", start, end, static_cast<std::int64_t>(payload));
  if (ft) {
    ft->start = start;
    ft->end = end;
    ft->arrive = arrive;
  }
  delay = sc_core::sc_time::from_value(arrive > now ? arrive - now : 0);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace masesim
