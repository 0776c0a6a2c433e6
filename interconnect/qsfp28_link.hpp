// One direction of a QSFP28 cable as a TLM-2.0 target (SystemC).
// Contract: b_transport carries one frame; the payload's data length is the frame's
// payload bytes and a FrameTiming extension carries the time the frame is ready at the
// sender (absolute). The link serialises frames at the line rate, each in the first idle
// gap of the line at or after its ready time (senders run temporally decoupled, so frames of
// different flows may arrive out of time order; a flow's own frames stay in order because
// its bridge never offers a frame before its previous one ended), at the line rate (never faster:
// wire bytes from interconnect/framing), and returns in the extension when the first bit left
// (start), when the last wire byte left (end) and when the last payload byte reached the receiver
// (arrive = end + fixed latency). The annotated delay makes sc_time_stamp() + delay == arrive.
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <string>

#include "interconnect/framing.hpp"
#include "models/calendar.hpp"
#include "models/time.hpp"
#include "models/trace.hpp"

namespace masesim {

struct FrameTiming : tlm::tlm_extension<FrameTiming> {
  time_ps ready = 0;   ///< in: frame ready to send
  time_ps start = 0;   ///< out: first bit on the line
  time_ps end = 0;     ///< out: last wire byte sent
  time_ps arrive = 0;  ///< out: last payload byte at the receiver
  tlm::tlm_extension_base* clone() const override { return new FrameTiming(*this); }
  void copy_from(const tlm::tlm_extension_base& o) override {
    *this = static_cast<const FrameTiming&>(o);
  }
};

struct LinkStats {
  std::uint64_t payload_bytes = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t frames = 0;
  time_ps busy_ps = 0;                 ///< line occupied
  time_ps contention_ps = 0;           ///< frames waited for the line (other flows' frames)
  time_ps credit_stall_ps = 0;         ///< senders waited for receive-buffer credits (first hop)
  std::uint64_t max_buffer_bytes = 0;  ///< peak receive-buffer occupancy of flows ending here
  time_ps first_ps = kNever, last_ps = 0;
};

class Qsfp28Link : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<Qsfp28Link> socket;

  /// @param name     SystemC name
  /// @param framing  framing kind, MTU, line rate
  /// @param timing   MAC/PCS latencies and cable
  /// @param from,to  device names (for reports)
  Qsfp28Link(const sc_core::sc_module_name& name, const interconnect::FramingConfig& framing,
             const interconnect::LinkTiming& timing, std::string from, std::string to);

  const interconnect::FramingConfig& framing() const { return framing_; }
  time_ps fixed_latency_ps() const { return latency_ps_; }
  const std::string& from() const { return from_; }
  const std::string& to() const { return to_; }
  LinkStats& stats() { return st_; }
  void set_trace(TraceRecorder* rec, int track) {
    trace_ = rec;
    track_ = track;
  }
  const LinkStats& stats() const { return st_; }

 private:
  void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  interconnect::FramingConfig framing_;
  time_ps latency_ps_;
  std::string from_, to_;
  BusyCalendar line_;  ///< when the line is busy (frames may arrive out of time order)
  LinkStats st_;
  TraceRecorder* trace_ = nullptr;
  int track_ = -1;
};

}  // namespace masesim
