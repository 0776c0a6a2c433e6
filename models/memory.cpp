#include "models/memory.hpp"

#include <algorithm>
#include <cmath>

namespace masesim {

time_ps timed_read(tlm::tlm_fw_transport_if<>& target, time_ps t, std::uint64_t bytes,
                   std::uint64_t addr, bool write, const void* who, bool retire) {
  tlm::tlm_generic_payload trans;
  RequestTime ext;
  ext.who = who;
  ext.retire = retire;
  trans.set_extension(&ext);
  trans.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  trans.set_data_ptr(nullptr);  // timing: no data moves
  trans.set_byte_enable_ptr(nullptr);
  // One transaction per part of at most kMaxTransactionBytes; part k+1 starts when part
  // k's transfer ends (its returned time), so the parts are booked back to back.
  std::uint64_t offset = 0;
  time_ps at = t;
  do {
    const std::uint64_t len = std::min(bytes - offset, kMaxTransactionBytes);
    ext.t = at;
    ext.offset = offset;
    ext.more = offset + len < bytes;
    trans.set_address(addr + offset);
    trans.set_data_length(static_cast<unsigned>(len));
    trans.set_streaming_width(static_cast<unsigned>(len));
    trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    target.b_transport(trans, delay);
    at = static_cast<time_ps>(sc_core::sc_time_stamp().value() + delay.value());
    offset += len;
  } while (offset < bytes);
  trans.clear_extension(&ext);
  return at;
}

OffChipMemory::OffChipMemory(const sc_core::sc_module_name& name, const MemoryTiming& timing)
    : sc_core::sc_module(name), socket("socket"), timing_(timing), ch_(timing) {
  socket.register_b_transport(this, &OffChipMemory::b_transport);
}

void OffChipMemory::b_transport(int /*initiator*/, tlm::tlm_generic_payload& trans,
                                sc_core::sc_time& delay) {
  const time_ps now = static_cast<time_ps>(sc_core::sc_time_stamp().value());
  time_ps start = now + static_cast<time_ps>(delay.value());
  const void* who = nullptr;
  std::uint64_t offset = 0;
  bool last = true;
  if (RequestTime* rt = trans.get_extension<RequestTime>()) {
    start = rt->t;
    who = rt->who;
    offset = rt->offset;
    last = !rt->more;
    if (rt->retire) {
      if (last_.count(who)) last_[who] = kNever;
      trans.set_response_status(tlm::TLM_OK_RESPONSE);
      return;
    }
  }
  auto it = who ? last_.find(who) : last_.end();
  if (it == last_.end())
    untagged_ = true;
  else
    it->second = std::max(it->second, start);
  const time_ps done = ch_.serve_part(start, offset, trans.get_data_length(), last);
  if (trace_ && trans.get_data_length() > 0) {  // the channels move the bytes before the latency
    const std::uint64_t n = static_cast<std::uint64_t>(std::max(1, timing_.channels));
    const time_ps served = done - timing_.latency_ps;
    const time_ps xfer =
        transfer_ps((trans.get_data_length() + n - 1) / n, timing_.gbytes_per_s_per_channel);
    trace_->add(counter_, served - xfer, served, static_cast<double>(trans.get_data_length()));
  }
  if (!untagged_ && ++since_prune_ >= 1024) {
    since_prune_ = 0;
    time_ps h = kNever;
    for (const auto& kv : last_) h = std::min(h, kv.second);
    if (h != kNever) ch_.prune_before(h);
  }
  delay = sc_core::sc_time::from_value(done > now ? done - now : 0);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace masesim
