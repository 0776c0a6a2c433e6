#include "models/stream.hpp"

#include <algorithm>

namespace masesim {

Stream::Stream(std::string name, std::size_t depth)
    : name_(std::move(name)), ring_(std::max<std::size_t>(1, depth)) {}

std::string Block::waiting_on() const {
  if (!wait_stream_) return wait_other_;
  return std::string(wait_push_ ? "push to full stream '" : "pop from empty stream '") +
         wait_stream_->name() + "'";
}

time_ps Stream::wait_for_slot(time_ps t, Block* who) {
  const std::size_t d = ring_.size();
  while (pushed_ - popped_ >= d) {
    if (who) who->set_waiting(this, true);
    producer_waits_ = true;
    sc_core::wait(popped_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
  // The slot held beat (pushed_ - d), popped at pop_t (free from pop_t + credit delay).
  const time_ps accepted =
      std::max(t, pushed_ >= d ? ring_[pushed_ % d].pop_t + credit_delay_ps_ : 0);
  full_ps_ += accepted - t;
  return accepted;
}

void Stream::commit(time_ps visible, BeatValue v) {
  Slot& slot = ring_[pushed_ % ring_.size()];
  slot.push_t = visible;
  slot.value = std::move(v);
  ++pushed_;
  if (consumer_waits_) {
    consumer_waits_ = false;
    pushed_ev_.notify(sc_core::SC_ZERO_TIME);
  }
}

time_ps Stream::push(time_ps t, Block* who, BeatValue v) {
  const time_ps accepted = wait_for_slot(t, who);
  commit(accepted, std::move(v));
  return accepted;
}

std::uint64_t Stream::visible_occupancy(time_ps t) const {
  std::uint64_t n = 0;
  for (std::uint64_t i = popped_; i < pushed_; ++i)
    if (ring_[i % ring_.size()].push_t <= t) ++n;
  return n;
}

time_ps Stream::pop(time_ps t, Block* who, BeatValue* v) {
  while (popped_ == pushed_) {
    if (who) who->set_waiting(this, false);
    consumer_waits_ = true;
    sc_core::wait(pushed_ev_);
    if (who) who->set_waiting(nullptr, false);
  }
  Slot& s = ring_[popped_ % ring_.size()];
  const time_ps taken = std::max(t, s.push_t);
  empty_ps_ += taken - t;
  s.pop_t = taken;
  if (v) *v = s.value;
  s.value.reset();
  ++popped_;
  if (producer_waits_) {
    producer_waits_ = false;
    popped_ev_.notify(sc_core::SC_ZERO_TIME);
  }
  return taken;
}

}  // namespace masesim
