// The SystemC side of a shared engine (models/engine_cost.hpp has the cost model).
//
// EngineBlock: one thread runs its jobs (on a host CPU, core.cpu: each job takes its
// cpu_ps on the compute unit, no tiles, no DMA) (graph nodes, a GEMM with its fused vector nodes)
// in their order for inference 0, then 1, ...; each job waits until its inputs are in the
// device memory (TensorSignal), then its tiles go through the LD -> EX -> ST timeline,
// whose loads and stores are TLM-2.0 reads and writes of the device's off-chip memory
// (contending with every other block of the device); the job's output is in memory when
// its last store completed, which it publishes.
// IngressBlock: a stream from a spatial block (or the host, or a link) into the device
// memory: pops every beat, writes the tensor in 4 KiB DMA bursts; the tensor is ready when
// the last burst completed. EgressBlock: the opposite, reading the tensor in bursts once
// it is ready and pushing its beats one per cycle.
// A wait on a TensorSignal is recorded for the deadlock report.
#pragma once
#include <tlm_utils/simple_initiator_socket.h>
#include <systemc>
#include <tlm>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "models/engine_cost.hpp"
#include "models/node_block.hpp"
#include "models/systolic_block.hpp"

namespace masesim {

/// A tensor in a device's memory, per inference: when it is complete there, and (functional
/// mode) its value. One publisher, any number of readers.
class TensorSignal {
 public:
  explicit TensorSignal(std::string name) : name_(std::move(name)) {}
  /// Blocks `who`'s thread until inference `inf` is published; returns its time.
  time_ps wait(std::int64_t inf, Block* who, BeatValue* v = nullptr);
  void publish(std::int64_t inf, time_ps t, BeatValue v);
  const std::string& name() const { return name_; }
  std::int64_t published() const { return static_cast<std::int64_t>(ready_.size()); }

 private:
  std::string name_;
  std::vector<time_ps> ready_;
  std::vector<BeatValue> values_;
  sc_core::sc_event ev_;
};

/// The GEMM cycle model by shape (models/systolic gemm_cycles, equal to the RTL; or a
/// dot-product matrix unit's engine::dot_product_cycles), cached.
class ShapeGemmEngine : public GemmEngine {
 public:
  ShapeGemmEngine(std::int64_t rows, std::int64_t cols, bool weight_stationary,
                  bool dot_product = false)
      : rows_(rows), cols_(cols), ws_(weight_stationary), dot_(dot_product) {}
  std::uint64_t run(std::int64_t m, std::int64_t k, std::int64_t n, std::uint64_t,
                    const std::vector<std::int8_t>*, const std::vector<std::int8_t>*) override;
  std::string impl() const override { return "tlm"; }

 private:
  std::int64_t rows_, cols_;
  bool ws_, dot_;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, std::uint64_t> cache_;
};

/// A job's work at one variant's shapes (LLM mode: the prefill and each decode step).
struct JobShape {
  engine::Lowering low;
  engine::TilePlan plan;
  std::int64_t chunk = 0;
  std::int64_t macs = 0;
  time_ps cpu_ps = 0;
  std::int64_t ideal_cycles = 0;  ///< compute unit, never stalled
};

/// One job of an engine: a node, or a GEMM node with the vector nodes fused into it.
struct EngineJob {
  std::string name;  ///< the node's name
  engine::Lowering low;
  engine::TilePlan plan;
  std::int64_t chunk = 0;
  std::int64_t fused_ops = 0;
  std::int64_t macs = 0;              ///< per inference
  time_ps cpu_ps = 0;                 ///< on a host CPU (core.cpu): the node's time
  std::vector<TensorSignal*> inputs;  ///< per data_in port
  TensorSignal* output = nullptr;     ///< its (last fused node's) output in memory
  std::vector<int> nodes;             ///< graph node indices: the node, then its fused nodes
  std::vector<FunctionalNode> fn;     ///< functional mode: one per entry of `nodes`
  std::vector<BeatValue> first_out;   ///< functional mode: each one's first output
  std::int64_t ideal_cycles = 0;      ///< per inference, never stalled
  int track = -1;                     ///< trace track of its slices (-1: none)
  BlockStats stats;                   ///< counted by the engine while it runs the job
  std::uint64_t tiles = 0;            ///< GEMM tiles or ALU passes
  /// Per variant (EngineBlock::set_schedule), replacing low/plan/chunk/macs/cpu_ps; empty:
  /// every inference has the shapes above.
  std::vector<JobShape> variants;
};

class EngineBlock : public Block {
 public:
  SC_HAS_PROCESS(EngineBlock);
  tlm_utils::simple_initiator_socket<EngineBlock> mem_socket;
  /// `gemm` computes every GEMM tile's cycles (cycle model or RTL; outlives the block).
  EngineBlock(const sc_core::sc_module_name& name, const engine::CoreConfig& core,
              time_ps period_ps, std::vector<EngineJob> jobs, std::int64_t inferences,
              GemmEngine* gemm);
  const std::vector<EngineJob>& jobs() const { return jobs_; }
  std::vector<EngineJob>& jobs() { return jobs_; }
  const engine::CoreCounters& counters() const { return tl_.counters(); }
  const engine::CoreConfig& core() const { return core_; }
  time_ps period_ps() const { return period_; }
  const GemmEngine* gemm() const { return gemm_; }
  void set_functional() { functional_ = true; }
  void set_phases(PhaseMapPtr p) {
    for (auto& j : jobs_) j.stats.act.set_phases(p);
  }
  /// Inference i runs each job's variant s->of(i) (jobs with variants).
  void set_schedule(SchedulePtr s) { schedule_ = std::move(s); }
  /// Trace tracks of the compute, load and store units (-1: none).
  void set_unit_tracks(TraceRecorder* rec, int compute, int load, int store) {
    rec_ = rec;
    unit_track_[0] = compute;
    unit_track_[1] = load;
    unit_track_[2] = store;
  }
  /// The memory's initiator ids of the load and store units (register_initiator).
  const void* load_id() const { return &load_tag_; }
  const void* store_id() const { return &store_tag_; }
  /// Last time any unit was busy.
  time_ps last_active_ps() const { return last_ps_; }

 private:
  void run();
  engine::CoreConfig core_;
  time_ps period_;
  std::vector<EngineJob> jobs_;
  std::int64_t inferences_;
  GemmEngine* gemm_;
  SchedulePtr schedule_;
  engine::CoreTimeline tl_;
  bool functional_ = false;
  TraceRecorder* rec_ = nullptr;
  int unit_track_[3] = {-1, -1, -1};
  char load_tag_ = 0, store_tag_ = 0;  ///< the memory's initiator ids of the two DMA units
  std::uint64_t tiles_run_ = 0;
  time_ps last_ps_ = 0;
};

class IngressBlock : public Block {
 public:
  SC_HAS_PROCESS(IngressBlock);
  tlm_utils::simple_initiator_socket<IngressBlock> mem_socket;
  IngressBlock(const sc_core::sc_module_name& name, time_ps period_ps, Stream* in,
               std::int64_t beats, std::int64_t bytes, std::int64_t inferences, TensorSignal* out,
               std::uint64_t addr);
  const BlockStats& stats() const { return st_; }
  /// Inference i moves beats[s->of(i)] beats of bytes[s->of(i)] bytes (LLM mode).
  void set_variants(std::vector<std::int64_t> beats, std::vector<std::int64_t> bytes,
                    SchedulePtr s) {
    var_beats_ = std::move(beats);
    var_bytes_ = std::move(bytes);
    schedule_ = std::move(s);
  }

 private:
  void run();
  time_ps period_;
  Stream* in_;
  std::int64_t beats_, bytes_, inferences_;
  std::vector<std::int64_t> var_beats_, var_bytes_;
  SchedulePtr schedule_;
  TensorSignal* out_;
  std::uint64_t addr_;
  BlockStats st_;
};

class EgressBlock : public Block {
 public:
  SC_HAS_PROCESS(EgressBlock);
  tlm_utils::simple_initiator_socket<EgressBlock> mem_socket;
  EgressBlock(const sc_core::sc_module_name& name, time_ps period_ps, TensorSignal* in, Stream* out,
              std::int64_t beats, std::int64_t bytes, std::int64_t inferences, std::uint64_t addr);
  const BlockStats& stats() const { return st_; }
  /// Inference i moves beats[s->of(i)] beats of bytes[s->of(i)] bytes (LLM mode).
  void set_variants(std::vector<std::int64_t> beats, std::vector<std::int64_t> bytes,
                    SchedulePtr s) {
    var_beats_ = std::move(beats);
    var_bytes_ = std::move(bytes);
    schedule_ = std::move(s);
  }
  /// The read of inference i starts no earlier than gate(i, ready, this), ready being when
  /// the tensor is in memory (a layer-reuse region: the region free, the layer's weights in).
  using Gate = std::function<time_ps(std::int64_t inf, time_ps ready, Block* who)>;
  void set_gate(Gate g) { gate_ = std::move(g); }

 private:
  void run();
  Gate gate_;
  time_ps period_;
  TensorSignal* in_;
  Stream* out_;
  std::int64_t beats_, bytes_, inferences_;
  std::vector<std::int64_t> var_beats_, var_bytes_;
  SchedulePtr schedule_;
  std::uint64_t addr_;
  BlockStats st_;
};

/// A layer-reuse region's parameter fetch (sim/mapping/layer_reuse.hpp): for each (inference,
/// layer) pair q = inference x layers + layer in order, once the buffers it fills are free —
/// done(q - buffers), when the pair that last used them has written its output (0 for the
/// first `buffers` pairs) — every block with parameters reads its `bytes[b]` of the layer
/// from the device memory over its own port of `port_bytes_per_cycle` (kDmaBurstBytes
/// bursts issued back to back; a port serves one fetch at a time), and pair q's parameters
/// are in when the last block's are. With buffers >= layers every layer is fetched once
/// (for inference 0) and stays resident.
class LayerFetchBlock : public Block {
 public:
  SC_HAS_PROCESS(LayerFetchBlock);
  tlm_utils::simple_initiator_socket<LayerFetchBlock> mem_socket;
  using DoneFn = std::function<time_ps(std::int64_t pair, Block* who)>;
  LayerFetchBlock(const sc_core::sc_module_name& name, time_ps period_ps, std::int64_t inferences,
                  int layers, std::int64_t buffers, std::vector<std::int64_t> bytes,
                  std::int64_t port_bytes_per_cycle, std::uint64_t addr, DoneFn done,
                  TensorSignal* out);
  std::uint64_t fetches() const { return fetches_; }
  std::uint64_t bytes_fetched() const { return bytes_fetched_; }
  /// Time some block's fetch was under way (the union over blocks, per pair).
  time_ps busy_ps() const { return busy_ps_; }

 private:
  void run();
  time_ps period_;
  std::int64_t inferences_;
  int layers_;
  std::int64_t buffers_;
  std::vector<std::int64_t> bytes_;
  std::int64_t port_;
  std::uint64_t addr_;
  DoneFn done_;
  TensorSignal* out_;
  std::uint64_t fetches_ = 0, bytes_fetched_ = 0;
  time_ps busy_ps_ = 0;
};

/// DMA burst of the ingress and egress blocks.
constexpr std::int64_t kDmaBurstBytes = 4096;

}  // namespace masesim
