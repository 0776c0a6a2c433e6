#include "models/stream.hpp"

#include <algorithm>

namespace masesim {

namespace {
/// Deepest FIFO whose steady state is checked (a period is `depth` beats; deeper FIFOs,
/// such as whole-tensor fork legs, are solved beat by beat in the tight loop).
constexpr std::size_t kMaxPeriodBeats = 64;
}  // namespace

Granularity& stream_granularity() {
  static Granularity g = Granularity::Beat;
  return g;
}

Stream::Stream(std::string name, std::size_t depth)
    : name_(std::move(name)), depth_(std::max<std::size_t>(1, depth)) {}

void Block::set_finished() {
  finished_ = true;
  static sc_core::sc_event* const never = new sc_core::sc_event;  // never notified or freed
  sc_core::wait(*never);
}

std::string Block::waiting_on() const {
  if (!wait_stream_) return wait_other_;
  return std::string(wait_push_ ? "push to full stream '" : "pop from empty stream '") +
         wait_stream_->name() + "'";
}

time_ps Stream::wait_for_slot(time_ps t, Block* who) {
  while (pushed_ - popped_ >= depth_) {
    if (claw_.left) {  // the consumer's registered run takes the beats that are there
      resolve();
      continue;
    }
    if (who) who->set_waiting(this, true);
    producer_waits_ = true;
    sc_core::wait(popped_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
  return accept_now(t);
}

time_ps Stream::accept_now(time_ps t) {
  // Beats are offered in order: a producer cannot offer beat i before beat i - 1.
  const time_ps offer = std::max(t, last_offer_);
  last_offer_ = offer;
  // The slot held beat (pushed_ - depth_), popped at its pop time (free from then plus the
  // credit delay); a beat dropped from times_ was popped early enough not to delay this offer.
  time_ps accepted = offer;
  if (pushed_ >= depth_) {
    const std::uint64_t freed = pushed_ - depth_;
    if (freed >= base_) accepted = std::max(accepted, times_[freed] + credit_delay_ps_);
    base_ = std::max(base_, freed + 1);  // popped (occupancy < depth), never needed again
  }
  full_ps_ += accepted - t;
  forget_popped();
  return accepted;
}

void Stream::forget_popped() {
  while (base_ < popped_ && times_[base_] + credit_delay_ps_ <= last_offer_) ++base_;
}

void Stream::commit(time_ps visible, BeatValue v) {
  times_.make_room(base_, pushed_);
  times_[pushed_] = visible;
  if (v && !has_values_) {
    has_values_ = true;
    values_from_ = pushed_;
  }
  if (has_values_) {
    values_.make_room(std::max(popped_, values_from_), pushed_);
    values_[pushed_] = std::move(v);
  }
  ++pushed_;
  if (consumer_waits_) {
    consumer_waits_ = false;
    pushed_ev_.notify(sc_core::SC_ZERO_TIME);
  }
}

time_ps Stream::push(time_ps t, Block* who, BeatValue v) {
  const time_ps accepted = wait_for_slot(t, who);
  commit(accepted + latency_ps_, std::move(v));
  if (claw_.left) resolve();
  return accepted;
}

std::uint64_t Stream::visible_occupancy(time_ps t) const {
  std::uint64_t n = 0;
  for (std::uint64_t i = popped_; i < pushed_; ++i)
    if (times_[i] <= t) ++n;
  return n;
}

time_ps Stream::pop(time_ps t, Block* who, BeatValue* v) {
  while (popped_ == pushed_) {
    if (plaw_.left) {  // the producer's registered run supplies the next beat
      resolve();
      continue;
    }
    if (who) who->set_waiting(this, false);
    consumer_waits_ = true;
    sc_core::wait(pushed_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
  const time_ps taken = take_now(t, v);
  if (plaw_.left) resolve();
  return taken;
}

time_ps Stream::take_now(time_ps t, BeatValue* v) {
  time_ps& entry = times_[popped_];
  const time_ps taken = std::max(t, entry);
  empty_ps_ += taken - t;
  if (trace_ && taken > entry)
    trace_->add(counter_, entry, taken, static_cast<double>(taken - entry));
  entry = taken;  // from now on the beat's pop time
  if (has_values_ && popped_ >= values_from_) {
    if (v)
      *v = std::move(values_[popped_]);
    else
      values_[popped_].reset();
  } else if (v) {
    v->reset();
  }
  ++popped_;
  forget_popped();
  if (producer_waits_) {
    producer_waits_ = false;
    popped_ev_.notify(sc_core::SC_ZERO_TIME);
  }
  return taken;
}

// ---------------------------------------------------------------------------------------
// Runs

namespace {
void record(RunResult& r, time_ps at, time_ps asked) {
  if (r.beats == 0) r.first = at;
  r.last = at;
  r.stall_ps += at - asked;
  ++r.beats;
}
}  // namespace

void Stream::law_push_one() {
  const time_ps o = plaw_.ready ? std::max(plaw_.next, plaw_.ready[plaw_.r.beats]) : plaw_.next;
  if (o > plaw_.limit) {  // the producer stops before this beat
    plaw_.r.over = o;
    plaw_.left = 0;
    return;
  }
  const time_ps a = accept_now(o);
  commit(a + latency_ps_, nullptr);
  record(plaw_.r, a, o);
  plaw_.next = a + plaw_.interval;
  --plaw_.left;
}

void Stream::law_pop_one() {
  const time_ps w = claw_.next;
  const time_ps p = take_now(w, nullptr);
  if (claw_.times) claw_.times[claw_.r.beats] = p;
  record(claw_.r, p, w);
  claw_.next = p + claw_.interval;
  --claw_.left;
  if (claw_.pass && !claw_.pass->taken(p)) claw_.left = 0;
  if (plaw_.left && jcur_.size() <= depth_) jcur_.push_back(p);
}

void Stream::resolve() {
  for (;;) {
    bool progress = false;
    while (plaw_.left && pushed_ - popped_ < depth_) {
      law_push_one();
      progress = true;
    }
    while (claw_.left && popped_ < pushed_) {
      law_pop_one();
      progress = true;
    }
    if (!progress) break;
    if (plaw_.left && claw_.left && pushed_ == popped_ && !claw_.pass) steady_check();
  }
  if (plaw_.left == 0 && plaw_.waits) {
    plaw_.waits = false;
    popped_ev_.notify(sc_core::SC_ZERO_TIME);
  }
  if (claw_.left == 0 && claw_.waits) {
    claw_.waits = false;
    pushed_ev_.notify(sc_core::SC_ZERO_TIME);
  }
}

// With laws at both ends and the FIFO drained, the next `depth` beats are pushed (each
// accepted at max(offer, pop of the beat depth earlier + credit)) and then popped (each at
// max(want, visible)): the FIFO's max-plus recurrence is time-invariant and homogeneous, so
// its state — the last period's pop times and the laws' next offer and want — determines
// every later period. When that state equals the previous period's shifted by a constant
// L, every later period repeats it L later: K whole periods are added in closed form
// (times + K L, stall sums + K times one period's), keeping at least one period for the
// loop so the runs' ends are solved beat by beat.
void Stream::steady_check() {
  const std::size_t d = depth_;
  if (std::min(plaw_.left, claw_.left) < 2 * d) {  // no whole period left to extrapolate
    jcur_.clear();
    jprev_.clear();
    return;
  }
  const bool full_period = d <= kMaxPeriodBeats && jcur_.size() == d;
  bool steady = full_period && jprev_.size() == d;
  time_ps shift = 0;
  if (steady) {
    shift = plaw_.next - prev_pnext_;
    steady = shift > 0 && claw_.next - prev_cnext_ == shift;
    for (std::size_t i = 0; steady && i < d; ++i) steady = jcur_[i] - jprev_[i] == shift;
  }
  if (steady) {
    std::uint64_t periods = std::min(plaw_.left, claw_.left) / d;
    periods = periods > 0 ? periods - 1 : 0;
    // Every extrapolated offer is at most the last extrapolated accept: keep it in limit.
    const time_ps last_accept = plaw_.r.last;
    if (plaw_.limit != kNever)
      periods = std::min<std::uint64_t>(
          periods, plaw_.limit >= last_accept ? (plaw_.limit - last_accept) / shift : 0);
    // A producer's readiness must repeat too: beat k's L later than beat k - depth's.
    if (plaw_.ready && periods > 0) {
      const time_ps* ready = plaw_.ready + plaw_.r.beats;
      std::uint64_t k = 0;
      const auto back = static_cast<std::ptrdiff_t>(d);
      while (k < periods * d && ready[static_cast<std::ptrdiff_t>(k) - back] + shift == ready[k])
        ++k;
      periods = k / d;
    }
    if (periods > 0) {
      const std::uint64_t beats = periods * d;
      const time_ps dt = periods * shift;
      if (claw_.times)
        for (std::uint64_t q = 0; q < periods; ++q)
          for (std::size_t i = 0; i < d; ++i)
            claw_.times[claw_.r.beats + q * d + i] = jcur_[i] + (q + 1) * shift;
      plaw_.r.stall_ps += periods * (plaw_.r.stall_ps - prev_pstall_);
      claw_.r.stall_ps += periods * (claw_.r.stall_ps - prev_cstall_);
      full_ps_ += periods * (full_ps_ - prev_full_);
      empty_ps_ += periods * (empty_ps_ - prev_empty_);
      plaw_.r.last += dt;
      claw_.r.last += dt;
      plaw_.r.beats += beats;
      claw_.r.beats += beats;
      plaw_.left -= beats;
      claw_.left -= beats;
      plaw_.next += dt;
      claw_.next += dt;
      last_offer_ += dt;
      pushed_ += beats;
      popped_ = pushed_;
      base_ = pushed_ - d;
      times_.make_room(base_, pushed_ - 1);
      for (std::size_t i = 0; i < d; ++i) jcur_[i] += dt;
      for (std::size_t i = 0; i < d; ++i) times_[base_ + i] = jcur_[i];
      forget_popped();
      closed_form_beats_ += beats;
    }
  }
  if (full_period) {
    jprev_.swap(jcur_);
    prev_pnext_ = plaw_.next;
    prev_cnext_ = claw_.next;
    prev_pstall_ = plaw_.r.stall_ps;
    prev_cstall_ = claw_.r.stall_ps;
    prev_full_ = full_ps_;
    prev_empty_ = empty_ps_;
  } else {
    jprev_.clear();
  }
  jcur_.clear();
}

RunResult Stream::push_run(std::uint64_t n, time_ps offer, time_ps interval, Block* who,
                           time_ps limit, const BeatValue& v, const time_ps* ready) {
  if (!runs_ok() || v) {
    RunResult r;
    time_ps o = offer;
    for (std::uint64_t k = 0; k < n; ++k) {
      if (ready) o = std::max(o, ready[k]);
      if (o > limit) {
        r.over = o;
        break;
      }
      const time_ps a = push(o, who, v);
      record(r, a, o);
      o = a + interval;
    }
    return r;
  }
  plaw_ = Law{n, offer, interval, limit, false, ready, nullptr, nullptr, {}};
  jcur_.clear();
  jprev_.clear();
  resolve();
  while (plaw_.left) {
    if (who) who->set_waiting(this, true);
    plaw_.waits = true;
    sc_core::wait(popped_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
  return plaw_.r;
}

RunResult Stream::pop_run(std::uint64_t n, time_ps want, time_ps interval, Block* who, BeatValue* v,
                          time_ps* times, RunListener* pass) {
  if (!runs_ok()) {
    RunResult r;
    time_ps w = want;
    for (std::uint64_t k = 0; k < n; ++k) {
      BeatValue got;
      const time_ps p = pop(w, who, v ? &got : nullptr);
      if (got && !*v) *v = std::move(got);
      if (times) times[k] = p;
      record(r, p, w);
      if (pass && !pass->taken(p)) break;
      w = p + interval;
    }
    return r;
  }
  claw_ = Law{n, want, interval, kNever, false, nullptr, times, pass, {}};
  jcur_.clear();
  jprev_.clear();
  resolve();
  while (claw_.left) {
    if (who) who->set_waiting(this, false);
    claw_.waits = true;
    sc_core::wait(pushed_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
  return claw_.r;
}

}  // namespace masesim
