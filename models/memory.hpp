// Off-chip memory of a device (DDR4 channels or HBM pseudo-channels) as a TLM-2.0
// target. Contract: b_transport serves a READ/WRITE of `length` bytes that starts at
// the absolute time carried by a RequestTime extension (or sc_time_stamp() + delay
// when absent); the bytes are interleaved over all channels, each channel serves its
// share after the requests it already accepted, and the returned delay makes
// sc_time_stamp() + delay the completion time (last byte + access latency).
// Timing-mode payloads carry no data (data pointer may be null).
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <vector>

#include "models/memory_timing.hpp"
#include "models/time.hpp"

namespace masesim {

/// Carries the initiator's local (decoupled) time of a request.
struct RequestTime : tlm::tlm_extension<RequestTime> {
  time_ps t = 0;
  tlm::tlm_extension_base* clone() const override { return new RequestTime(*this); }
  void copy_from(const tlm::tlm_extension_base& o) override {
    t = static_cast<const RequestTime&>(o).t;
  }
};

/// Issues one timed READ of `bytes` at address `addr` that starts at the initiator's local
/// time `t` through `target` (an initiator socket's ->), and returns its completion time.
time_ps timed_read(tlm::tlm_fw_transport_if<>& target, time_ps t, std::uint64_t bytes,
                   std::uint64_t addr);
template <typename InitiatorSocket>
time_ps timed_read(InitiatorSocket& socket, time_ps t, std::uint64_t bytes, std::uint64_t addr) {
  return timed_read(*socket.operator->(), t, bytes, addr);
}

class OffChipMemory : public sc_core::sc_module {
 public:
  /// Any number of initiators (the blocks of its device) bind here.
  tlm_utils::multi_passthrough_target_socket<OffChipMemory> socket;
  /// @param name    module name
  /// @param timing  channels, bandwidth per channel, access latency
  OffChipMemory(const sc_core::sc_module_name& name, const MemoryTiming& timing);
  const MemoryChannels& channels() const { return ch_; }
  const MemoryTiming& timing() const { return timing_; }

 private:
  void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  MemoryTiming timing_;
  MemoryChannels ch_;
};

}  // namespace masesim
