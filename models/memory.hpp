// Off-chip memory of a device (DDR4 channels or HBM pseudo-channels) as a TLM-2.0
// target. Contract: b_transport serves a READ/WRITE of `length` bytes that starts at
// the absolute time carried by a RequestTime extension (or sc_time_stamp() + delay
// when absent); the bytes are interleaved over all channels, each channel serves its
// share after the requests it already accepted, and the returned delay makes
// sc_time_stamp() + delay the completion time (last byte + access latency).
// Timing-mode payloads carry no data (data pointer may be null). A request longer than
// kMaxTransactionBytes (the generic payload's length is 32-bit) is sent as consecutive
// transactions tagged with their offset in the request (RequestTime::offset, ::more);
// the memory books them back to back and adds the access latency once, so its timing is
// that of the whole request (MemoryChannels::serve_part).
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <map>
#include <vector>

#include "models/memory_timing.hpp"
#include "models/time.hpp"
#include "models/trace.hpp"

namespace masesim {

/// Carries the initiator's local (decoupled) time of a request.
/// `who` identifies a registered initiator (OffChipMemory::register_initiator) whose
/// requests never go back in time; `retire` says it will send no more. A request split
/// into several transactions carries, on each, the byte `offset` of that part in the
/// request and `more` = another part follows (no access latency yet).
struct RequestTime : tlm::tlm_extension<RequestTime> {
  time_ps t = 0;
  const void* who = nullptr;
  bool retire = false;
  std::uint64_t offset = 0;
  bool more = false;
  tlm::tlm_extension_base* clone() const override { return new RequestTime(*this); }
  void copy_from(const tlm::tlm_extension_base& o) override {
    const auto& r = static_cast<const RequestTime&>(o);
    t = r.t, who = r.who, retire = r.retire, offset = r.offset, more = r.more;
  }
};

/// Largest data length of one transaction (a power of two below the generic payload's
/// 32-bit limit); longer requests are split (see timed_read).
constexpr std::uint64_t kMaxTransactionBytes = std::uint64_t{1} << 31;

/// Issues one timed READ of `bytes` (any 64-bit length) at address `addr` that starts at
/// the initiator's local time `t` through `target` (an initiator socket's ->), and
/// returns its completion time. Above kMaxTransactionBytes it sends consecutive parts.
time_ps timed_read(tlm::tlm_fw_transport_if<>& target, time_ps t, std::uint64_t bytes,
                   std::uint64_t addr, bool write = false, const void* who = nullptr,
                   bool retire = false);
template <typename InitiatorSocket>
time_ps timed_read(InitiatorSocket& socket, time_ps t, std::uint64_t bytes, std::uint64_t addr) {
  return timed_read(*socket.operator->(), t, bytes, addr);
}
/// The same for a WRITE (a KV-cache append): returns when the last byte is written.
template <typename InitiatorSocket>
time_ps timed_write(InitiatorSocket& socket, time_ps t, std::uint64_t bytes, std::uint64_t addr) {
  return timed_read(*socket.operator->(), t, bytes, addr, true);
}

class OffChipMemory : public sc_core::sc_module {
 public:
  /// Any number of initiators (the blocks of its device) bind here.
  tlm_utils::multi_passthrough_target_socket<OffChipMemory> socket;
  /// @param name    module name
  /// @param timing  channels, bandwidth per channel, access latency
  OffChipMemory(const sc_core::sc_module_name& name, const MemoryTiming& timing);
  const MemoryChannels& channels() const { return ch_; }
  /// Declares an initiator whose requests (tagged with `who`) are in time order. While no
  /// untagged request has arrived, bookings that end before every registered initiator's
  /// latest request are forgotten (exact: no later request can start before them), so
  /// long runs keep the calendars small.
  void register_initiator(const void* who) { last_[who] = 0; }
  const MemoryTiming& timing() const { return timing_; }
  /// Records the bytes served over time on `counter` of `rec` (null: no trace).
  void set_trace(TraceRecorder* rec, int counter) {
    trace_ = rec;
    counter_ = counter;
  }

 private:
  TraceRecorder* trace_ = nullptr;
  int counter_ = -1;
  void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  MemoryTiming timing_;
  MemoryChannels ch_;
  std::map<const void*, time_ps> last_;  ///< registered initiators' latest request
  bool untagged_ = false;                ///< an unregistered initiator: never prune
  std::uint64_t since_prune_ = 0;
};

}  // namespace masesim
