#include "models/trace.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <sstream>

namespace masesim {

std::uint32_t TraceRecorder::intern(const std::string& s) {
  const auto it = name_ids_.find(s);
  if (it != name_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(names_.size());
  names_.push_back(s);
  name_ids_.emplace(s, id);
  return id;
}

int TraceRecorder::pid_of(const std::string& group) {
  for (std::size_t i = 0; i < groups_.size(); ++i)
    if (groups_[i] == group) return static_cast<int>(i);
  groups_.push_back(group);
  return static_cast<int>(groups_.size()) - 1;
}

int TraceRecorder::track(const std::string& group, const std::string& name) {
  tracks_.push_back({group, name, pid_of(group)});
  return static_cast<int>(tracks_.size()) - 1;
}

void TraceRecorder::merge(int track, const std::string& kind, time_ps gap_ps) {
  if (track >= 0) merge_gap_[{track, intern(kind)}] = gap_ps;
}

int TraceRecorder::counter(const std::string& group, const std::string& name, double scale) {
  counters_.push_back({group, name, pid_of(group), scale, {}});
  return static_cast<int>(counters_.size()) - 1;
}

void TraceRecorder::count_busy(int track, int counter) {
  if (track >= 0) tracks_[static_cast<std::size_t>(track)].busy_counter = counter;
}

// Counters get a quarter of the event budget, at most 1000 samples each; a counter that
// would get fewer than 2 is not recorded.
std::size_t TraceRecorder::counter_cap() {
  if (cap_ == 0 && !counters_.empty()) {
    const std::uint64_t per = max_ / 4 / counters_.size();
    cap_ = per < 2 ? 1 : static_cast<std::size_t>(std::min<std::uint64_t>(per, 1000));
  }
  return cap_ < 2 ? 0 : cap_;
}

void TraceRecorder::grow_buckets(std::size_t need) {
  while (need >= cap_) {  // double the bucket: merge pairs in every counter
    bucket_ps_ *= 2;
    for (auto& c : counters_) {
      std::vector<double> merged((c.bucket.size() + 1) / 2, 0.0);
      for (std::size_t i = 0; i < c.bucket.size(); ++i) merged[i / 2] += c.bucket[i];
      c.bucket = std::move(merged);
    }
    need /= 2;
  }
}

void TraceRecorder::add_clipped(Counter& c, time_ps b, time_ps e, double amount) {
  const std::size_t last = static_cast<std::size_t>((e > b ? e - 1 : b) / bucket_ps_);
  if (last >= cap_) grow_buckets(last);
  const time_ps w = bucket_ps_;
  const std::size_t first = static_cast<std::size_t>(b / w);
  const std::size_t end_idx = static_cast<std::size_t>((e > b ? e - 1 : b) / w);
  if (c.bucket.size() <= end_idx) c.bucket.resize(end_idx + 1, 0.0);
  if (e <= b) {
    c.bucket[first] += amount;
    return;
  }
  const double per_ps = amount / static_cast<double>(e - b);
  for (std::size_t k = first; k <= end_idx; ++k) {
    const time_ps lo = std::max<time_ps>(b, static_cast<time_ps>(k) * w);
    const time_ps hi = std::min<time_ps>(e, static_cast<time_ps>(k + 1) * w);
    c.bucket[k] += per_ps * static_cast<double>(hi - lo);
  }
}

void TraceRecorder::add(int counter, time_ps begin, time_ps end, double amount) {
  if (counter < 0 || !recording_ || counter_cap() == 0) return;
  const bool point = end <= begin;
  if (point ? (begin < begin_ || begin >= end_) : (end <= begin_ || begin >= end_)) return;
  if (!point) {
    const double whole = static_cast<double>(end - begin);
    const time_ps b = std::max(begin, begin_), e = std::min(end, end_);
    amount *= static_cast<double>(e - b) / whole;
    begin = b, end = e;
  }
  // Buckets count from the window's start, so that a late window keeps its resolution.
  add_clipped(counters_[static_cast<std::size_t>(counter)], begin - begin_, end - begin_, amount);
}

bool TraceRecorder::by_begin(const Event& a, const Event& b) {
  return a.begin < b.begin;
}

void TraceRecorder::insert(const Event& e) {
  if (e.begin >= cut_) {
    ++dropped_[e.name];
    ++dropped_total_;
    return;
  }
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), by_begin);
  const std::uint64_t reserve = counter_cap() * counters_.size();
  const std::uint64_t cap = max_ > reserve ? max_ - reserve : 0;
  if (heap_.size() <= cap) return;
  // Over budget: drop every event that starts at or after the latest start.
  cut_ = heap_.front().begin;
  while (!heap_.empty() && heap_.front().begin >= cut_) {
    ++dropped_[heap_.front().name];
    ++dropped_total_;
    std::pop_heap(heap_.begin(), heap_.end(), by_begin);
    heap_.pop_back();
  }
}

void TraceRecorder::complete(int track, const char* name, time_ps begin, time_ps end,
                             std::int64_t arg) {
  if (track < 0) return;
  end = std::max(begin, end);
  if (observer_) observer_(track, name, end, arg);
  if (!recording_) return;
  const Track& t = tracks_[static_cast<std::size_t>(track)];
  if (t.busy_counter >= 0) add(t.busy_counter, begin, end, static_cast<double>(end - begin));
  if (end < begin_ || begin >= end_) return;
  begin = std::max(begin, begin_);
  end = std::min(end, end_);
  const std::uint32_t id = intern(name);
  Event e{begin, end, arg, 1, arg >= 0 ? arg : 0, end - begin, track, id};
  const auto key = std::make_pair(track, id);
  const auto gap = merge_gap_.find(key);
  if (gap == merge_gap_.end()) {
    insert(e);
    return;
  }
  const auto open = open_.find(key);
  if (open != open_.end()) {
    Event& o = open->second;
    if (begin >= o.end && begin - o.end <= gap->second && begin < cut_) {
      o.end = end;
      ++o.n;
      o.sum += e.sum;
      o.busy += e.busy;
      ++merged_;
      return;
    }
    insert(o);
    open->second = e;
  } else {
    open_.emplace(key, e);
  }
}

void TraceRecorder::instant(int track, const std::string& name, time_ps at) {
  if (track < 0 || !recording_ || at < begin_ || at >= end_) return;
  insert(Event{at, at, -1, 0, 0, 0, track, intern(name)});
}

void TraceRecorder::finish(time_ps end_ps) {
  for (const auto& [key, e] : open_) insert(e);
  open_.clear();
  sim_end_ = end_ps;
}

std::uint64_t TraceRecorder::counter_samples() const {
  if (cap_ < 2) return 0;
  const time_ps limit = std::min({cut_, end_, sim_end_});
  std::uint64_t n = 0;
  for (const auto& c : counters_) {
    double prev = -1;
    for (std::size_t k = 0; k < c.bucket.size(); ++k) {
      const time_ps lo = begin_ + static_cast<time_ps>(k) * bucket_ps_;
      if (lo >= limit) break;
      if (c.bucket[k] != prev) ++n;
      prev = c.bucket[k];
    }
    if (prev > 0) ++n;  // back to zero at the end
  }
  return n;
}

std::uint64_t TraceRecorder::kept() const {
  std::uint64_t n = heap_.size() + open_.size();
  return n + counter_samples();
}

std::string TraceRecorder::drop_summary() const {
  if (dropped_total_ == 0) return "";
  // Group names that differ only in numbers ("inference 12 out" -> "inference N out").
  std::map<std::string, std::uint64_t> kinds;
  for (const auto& [id, n] : dropped_) {
    std::string k;
    for (char c : names_[id]) {
      if (std::isdigit(static_cast<unsigned char>(c))) {
        if (k.empty() || k.back() != 'N') k += 'N';
      } else {
        k += c;
      }
    }
    kinds[k] += n;
  }
  std::vector<std::pair<std::uint64_t, std::string>> order;
  for (const auto& [k, n] : kinds) order.emplace_back(n, k);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::ostringstream o;
  char t[48];
  std::snprintf(t, sizeof t, "%.3f", static_cast<double>(cut_) / 1e6);
  o << dropped_total_ << " events starting at or after " << t << " us (";
  for (std::size_t i = 0; i < order.size(); ++i)
    o << (i ? ", " : "") << order[i].second << " " << order[i].first;
  o << ")";
  return o.str();
}

namespace {
std::string esc(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      r += '\\';
      r += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      r += b;
    } else {
      r += c;
    }
  }
  return r;
}
std::string us(time_ps t) {
  char b[48];
  std::snprintf(b, sizeof b, "%llu.%06llu", static_cast<unsigned long long>(t / 1000000),
                static_cast<unsigned long long>(t % 1000000));
  return b;
}
bool primary(const std::string& kind) {
  return kind == "inference" || kind == "frame" || kind == "gemm";
}
}  // namespace

std::vector<TraceRecorder::ThreadName> TraceRecorder::assign_threads(
    const std::vector<Event>& all, std::vector<int>& tid_of) const {
  std::vector<ThreadName> threads;
  std::vector<int> next_tid(groups_.size(), 0);
  tid_of.assign(all.size(), -1);
  std::size_t i = 0;
  for (std::size_t tr = 0; tr < tracks_.size(); ++tr) {
    const Track& t = tracks_[tr];
    const std::size_t lo = i;
    while (i < all.size() && static_cast<std::size_t>(all[i].track) == tr) ++i;
    std::vector<std::uint32_t> kinds;
    for (std::size_t k = lo; k < i; ++k)
      if (all[k].n > 0 && std::find(kinds.begin(), kinds.end(), all[k].name) == kinds.end())
        kinds.push_back(all[k].name);
    std::sort(kinds.begin(), kinds.end(), [&](std::uint32_t a, std::uint32_t b) {
      const bool pa = primary(names_[a]), pb = primary(names_[b]);
      return pa != pb ? pa : names_[a] < names_[b];
    });
    const int base = next_tid[static_cast<std::size_t>(t.pid)]++;
    const std::size_t base_thread = threads.size();
    threads.push_back({t.pid, base, t.name});
    bool base_used = false;
    for (std::uint32_t kind : kinds) {
      const std::string label =
          primary(names_[kind]) && !base_used ? t.name : t.name + ": " + names_[kind];
      std::vector<time_ps> slot_end;
      std::vector<int> slot_tid;
      for (std::size_t k = lo; k < i; ++k) {
        if (all[k].n == 0 || all[k].name != kind) continue;
        std::size_t s = 0;
        while (s < slot_end.size() && slot_end[s] > all[k].begin) ++s;
        if (s == slot_end.size()) {
          slot_end.push_back(0);
          if (s == 0 && !base_used) {
            threads[base_thread].name = label;
            slot_tid.push_back(base);
            base_used = true;
          } else {
            const int tid = next_tid[static_cast<std::size_t>(t.pid)]++;
            slot_tid.push_back(tid);
            threads.push_back(
                {t.pid, tid, label + (s > 0 ? " [slot " + std::to_string(s + 1) + "]" : "")});
          }
        }
        slot_end[s] = all[k].end;
        tid_of[k] = slot_tid[s];
      }
      base_used = true;
    }
    for (std::size_t k = lo; k < i; ++k)
      if (all[k].n == 0) tid_of[k] = base;  // instants on the track's first thread
  }
  return threads;
}

void TraceRecorder::write_counters(std::ostream& os, const std::function<void()>& sep) const {
  if (cap_ < 2) return;
  const time_ps limit = std::min({cut_, end_, sim_end_});
  for (const auto& c : counters_) {
    double prev = -1;
    const std::string head = "{\"ph\": \"C\", \"name\": \"" + esc(c.name) +
                             "\", \"pid\": " + std::to_string(c.pid) + ", \"ts\": ";
    for (std::size_t k = 0; k < c.bucket.size(); ++k) {
      const time_ps lo = begin_ + static_cast<time_ps>(k) * bucket_ps_;
      if (lo >= limit) break;
      const time_ps hi = std::min<time_ps>(limit, lo + bucket_ps_);
      if (c.bucket[k] == prev) continue;
      prev = c.bucket[k];
      char v[48];
      std::snprintf(v, sizeof v, "%.4g", c.bucket[k] * c.scale / static_cast<double>(hi - lo));
      sep();
      os << head << us(lo) << ", \"args\": {\"value\": " << v << "}}";
    }
    if (prev > 0) {
      const time_ps hi =
          std::min<time_ps>(limit, begin_ + static_cast<time_ps>(c.bucket.size()) * bucket_ps_);
      sep();
      os << head << us(hi) << ", \"args\": {\"value\": 0}}";
    }
  }
}

void TraceRecorder::write(std::ostream& os) const {
  std::vector<Event> all(heap_.begin(), heap_.end());
  for (const auto& [key, e] : open_) all.push_back(e);
  std::sort(all.begin(), all.end(), [](const Event& a, const Event& b) {
    if (a.track != b.track) return a.track < b.track;
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  // Viewer threads: per track, per kind of slice, per slot of overlapping slices.
  std::vector<int> tid_of;
  const std::vector<ThreadName> threads = assign_threads(all, tid_of);
  os << "{\"displayTimeUnit\": \"ns\", \"otherData\": {\"dropped_events\": " << dropped_total_
     << ", \"merged_slices\": " << merged_;
  if (dropped_total_ > 0) os << ", \"dropped\": \"" << esc(drop_summary()) << "\"";
  os << "},\n\"traceEvents\": [\n";
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
  for (const auto& t : threads) {
    sep();
    os << "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": " << t.pid << ", \"tid\": " << t.tid
       << ", \"args\": {\"name\": \"" << esc(t.name) << "\"}}";
    sep();
    os << "{\"ph\": \"M\", \"name\": \"thread_sort_index\", \"pid\": " << t.pid
       << ", \"tid\": " << t.tid << ", \"args\": {\"sort_index\": " << t.tid << "}}";
  }
  for (std::size_t k = 0; k < all.size(); ++k) {
    const Event& e = all[k];
    const int pid = tracks_[static_cast<std::size_t>(e.track)].pid;
    sep();
    if (e.n == 0) {
      os << "{\"ph\": \"i\", \"s\": \"t\", \"name\": \"" << esc(names_[e.name])
         << "\", \"pid\": " << pid << ", \"tid\": " << tid_of[k] << ", \"ts\": " << us(e.begin)
         << "}";
      continue;
    }
    os << "{\"ph\": \"X\", \"name\": \"" << esc(names_[e.name]) << "\", \"pid\": " << pid
       << ", \"tid\": " << tid_of[k] << ", \"ts\": " << us(e.begin)
       << ", \"dur\": " << us(e.end - e.begin);
    if (e.n > 1) {
      os << ", \"args\": {\"merged\": " << e.n << ", \"busy_us\": " << us(e.busy);
      if (e.arg >= 0) os << ", \"sum\": " << e.sum;
      os << "}";
    } else if (e.arg >= 0) {
      os << ", \"args\": {\"n\": " << e.arg << "}";
    }
    os << "}";
  }
  write_counters(os, sep);
  os << "\n]}\n";
}

}  // namespace masesim
