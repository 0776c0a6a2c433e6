#include "models/stream.hpp"

#include <algorithm>

namespace masesim {

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
    if (who) who->set_waiting(this, true);
    producer_waits_ = true;
    sc_core::wait(popped_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
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
    if (who) who->set_waiting(this, false);
    consumer_waits_ = true;
    sc_core::wait(pushed_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
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

}  // namespace masesim
