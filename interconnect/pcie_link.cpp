#include "interconnect/pcie_link.hpp"

#include <algorithm>
#include <cmath>

#include "models/memory.hpp"

namespace masesim {

PcieLink::PcieLink(const sc_core::sc_module_name& name, const interconnect::PcieParams& p,
                   std::string host, std::string card)
    : sc_core::sc_module(name),
      socket("socket"),
      host_memory("host_memory"),
      p_(p),
      host_(std::move(host)),
      card_(std::move(card)) {
  socket.register_b_transport(this, &PcieLink::b_transport);
}

void PcieLink::b_transport(int /*initiator*/, tlm::tlm_generic_payload& trans,
                           sc_core::sc_time& delay) {
  const time_ps now = static_cast<time_ps>(sc_core::sc_time_stamp().value());
  time_ps t = now + static_cast<time_ps>(delay.value());
  bool last = true;
  const RequestTime* rt = trans.get_extension<RequestTime>();
  if (rt) {
    t = rt->t;
    last = !rt->more;
  }
  const std::uint64_t bytes = trans.get_data_length();
  if ((rt && rt->retire) || bytes == 0) {  // bookkeeping only
    host_memory->b_transport(trans, delay);
    return;
  }
  const bool to_card = trans.get_command() == tlm::TLM_READ_COMMAND;
  const time_ps ser = interconnect::pcie_serialize_ps(bytes, p_);
  const time_ps start = (to_card ? h2d_ : d2h_).reserve(t, ser);
  sc_core::sc_time mem_delay = delay;
  host_memory->b_transport(trans, mem_delay);
  const time_ps mem_done = now + static_cast<time_ps>(mem_delay.value());
  const time_ps latency = last ? static_cast<time_ps>(std::llround(p_.latency_ns * 1e3)) : 0;
  const time_ps done = std::max(start + ser, mem_done) + latency;
  (to_card ? st_.h2d_bytes : st_.d2h_bytes) += bytes;
  (to_card ? st_.h2d_busy_ps : st_.d2h_busy_ps) += ser;
  st_.wait_ps += start - t;
  if (last) ++st_.transfers;
  delay = sc_core::sc_time::from_value(done - now);
}

}  // namespace masesim
