#include "models/stream.hpp"

#include <algorithm>

namespace masesim {

Stream::Stream(std::string name, std::size_t depth)
    : name_(std::move(name)), ring_(std::max<std::size_t>(1, depth)) {}

time_ps Stream::push(time_ps t, Block* who) {
  const std::size_t d = ring_.size();
  while (pushed_ - popped_ >= d) {
    if (who) who->set_waiting("push to full stream '" + name_ + "'");
    producer_waits_ = true;
    sc_core::wait(popped_ev_);
    if (who) who->set_waiting("");
  }
  Slot& s = ring_[pushed_ % d];
  // The slot held beat (pushed_ - d), popped at s.pop_t (0 for a never-used slot).
  const time_ps accepted = std::max(t, pushed_ >= d ? s.pop_t : 0);
  full_ps_ += accepted - t;
  s.push_t = accepted;
  ++pushed_;
  if (consumer_waits_) {
    consumer_waits_ = false;
    pushed_ev_.notify(sc_core::SC_ZERO_TIME);
  }
  return accepted;
}

time_ps Stream::pop(time_ps t, Block* who) {
  while (popped_ == pushed_) {
    if (who) who->set_waiting("pop from empty stream '" + name_ + "'");
    consumer_waits_ = true;
    sc_core::wait(pushed_ev_);
    if (who) who->set_waiting("");
  }
  Slot& s = ring_[popped_ % ring_.size()];
  const time_ps taken = std::max(t, s.push_t);
  empty_ps_ += taken - t;
  s.pop_t = taken;
  ++popped_;
  if (producer_waits_) {
    producer_waits_ = false;
    popped_ev_.notify(sc_core::SC_ZERO_TIME);
  }
  return taken;
}

}  // namespace masesim
