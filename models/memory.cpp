#include "models/memory.hpp"

#include <algorithm>
#include <cmath>

namespace masesim {

OffChipMemory::OffChipMemory(const sc_core::sc_module_name& name, const MemoryTiming& timing)
    : sc_core::sc_module(name), socket("socket"), timing_(timing), ch_(timing) {
  socket.register_b_transport(this, &OffChipMemory::b_transport);
}

void OffChipMemory::b_transport(int /*initiator*/, tlm::tlm_generic_payload& trans,
                                sc_core::sc_time& delay) {
  const time_ps now = static_cast<time_ps>(sc_core::sc_time_stamp().value());
  time_ps start = now + static_cast<time_ps>(delay.value());
  if (RequestTime* rt = trans.get_extension<RequestTime>()) start = rt->t;
  const time_ps done = ch_.serve(start, trans.get_data_length());
  delay = sc_core::sc_time::from_value(done > now ? done - now : 0);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace masesim
