// A PCIe link between an accelerator card and its host's memory, as a TLM-2.0 bridge
// (SystemC; the cost is interconnect/pcie.hpp).
// Contract: every initiator of the card that reaches host memory (a shared engine's load
// and store units, its ingress and egress blocks) binds to `socket`; `host_memory` binds to
// the host's OffChipMemory. A READ carries host-to-card data, a WRITE card-to-host data;
// each direction is one BusyCalendar. A transfer issued at t (RequestTime) occupies its
// direction from the first idle gap at or after t for serialize_ps(bytes), is served by the
// host memory from t (the request, forwarded unchanged), and completes at
// max(link end, memory done) + latency (the latency once per request: not on parts that say
// `more`). The delay returned makes sc_time_stamp() + delay that completion.
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <string>

#include "interconnect/pcie.hpp"
#include "models/calendar.hpp"
#include "models/time.hpp"

namespace masesim {

struct PcieStats {
  std::uint64_t h2d_bytes = 0, d2h_bytes = 0;  ///< payload bytes host->card, card->host
  std::uint64_t transfers = 0;
  time_ps h2d_busy_ps = 0, d2h_busy_ps = 0;
  time_ps wait_ps = 0;  ///< transfers waited for their direction (other transfers)
};

class PcieLink : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<PcieLink> socket;
  tlm_utils::simple_initiator_socket<PcieLink> host_memory;

  /// @param name   SystemC name
  /// @param p      generation, lanes, payload, latency
  /// @param host, card  device names (for reports)
  PcieLink(const sc_core::sc_module_name& name, const interconnect::PcieParams& p, std::string host,
           std::string card);
  const interconnect::PcieParams& params() const { return p_; }
  const PcieStats& stats() const { return st_; }
  const std::string& host() const { return host_; }
  const std::string& card() const { return card_; }

 private:
  void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  interconnect::PcieParams p_;
  std::string host_, card_;
  BusyCalendar h2d_, d2h_;
  PcieStats st_;
};

}  // namespace masesim
