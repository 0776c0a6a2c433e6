#include "models/trace.hpp"

#include <algorithm>
#include <cstdio>

namespace masesim {

int TraceRecorder::track(const std::string& group, const std::string& name) {
  int pid = -1;
  for (std::size_t i = 0; i < groups_.size(); ++i)
    if (groups_[i] == group) pid = static_cast<int>(i);
  if (pid < 0) {
    pid = static_cast<int>(groups_.size());
    groups_.push_back(group);
  }
  int tid = 0;
  for (const auto& t : tracks_) tid += t.pid == pid ? 1 : 0;
  tracks_.push_back({group, name, pid, tid});
  return static_cast<int>(tracks_.size()) - 1;
}

bool TraceRecorder::keep(time_ps b, time_ps e) {
  if (e < begin_ || b >= end_) return false;
  if (events_.size() >= max_) {
    ++dropped_;
    return false;
  }
  return true;
}

void TraceRecorder::complete(int track, const char* name, time_ps begin, time_ps end,
                             std::int64_t arg) {
  if (track < 0 || !keep(begin, end)) return;
  events_.push_back({track, name, begin, std::max(begin, end), arg, false});
}

void TraceRecorder::instant(int track, const std::string& name, time_ps at) {
  if (track < 0 || !keep(at, at)) return;
  events_.push_back({track, name, at, at, -1, true});
}

namespace {
std::string esc(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}
std::string us(time_ps t) {
  char b[48];
  std::snprintf(b, sizeof b, "%llu.%06llu", static_cast<unsigned long long>(t / 1000000),
                static_cast<unsigned long long>(t % 1000000));
  return b;
}
}  // namespace

void TraceRecorder::write(std::ostream& os) const {
  std::vector<const Event*> order;
  for (const auto& e : events_) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Event* a, const Event* b) {
    return a->track != b->track ? a->track < b->track : a->begin < b->begin;
  });
  os << "{\"displayTimeUnit\": \"ns\", \"otherData\": {\"dropped_events\": " << dropped_
     << "},\n\"traceEvents\": [\n";
  bool first = true;
  auto sep = [&]() {
    os << (first ? "" : ",\n");
    first = false;
  };
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    sep();
    os << "{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": " << g
       << ", \"args\": {\"name\": \"" << esc(groups_[g]) << "\"}}";
  }
  for (const auto& t : tracks_) {
    sep();
    os << "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": " << t.pid << ", \"tid\": " << t.tid
       << ", \"args\": {\"name\": \"" << esc(t.name) << "\"}}";
  }
  for (const Event* e : order) {
    const Track& t = tracks_[static_cast<std::size_t>(e->track)];
    sep();
    if (e->instant) {
      os << "{\"ph\": \"i\", \"s\": \"p\", \"name\": \"" << esc(e->name) << "\", \"pid\": " << t.pid
         << ", \"tid\": " << t.tid << ", \"ts\": " << us(e->begin) << "}";
    } else {
      os << "{\"ph\": \"X\", \"name\": \"" << esc(e->name) << "\", \"pid\": " << t.pid
         << ", \"tid\": " << t.tid << ", \"ts\": " << us(e->begin)
         << ", \"dur\": " << us(e->end - e->begin);
      if (e->arg >= 0) os << ", \"args\": {\"n\": " << e->arg << "}";
      os << "}";
    }
  }
  os << "\n]}\n";
}

}  // namespace masesim
