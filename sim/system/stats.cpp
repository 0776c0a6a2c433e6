#include "sim/system/stats.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "workloads/error.hpp"

namespace masesim {

StatsTree::Entry& StatsTree::slot(const std::string& key) {
  for (auto& e : entries_)
    if (e.key == key) return e;
  entries_.push_back(Entry{});
  entries_.back().key = key;
  return entries_.back();
}

StatsTree& StatsTree::child(const std::string& name) {
  Entry& e = slot(name);
  if (e.kind != Entry::Kind::Tree || !e.tree) {
    e.kind = Entry::Kind::Tree;
    e.tree = std::make_unique<StatsTree>();
  }
  return *e.tree;
}

void StatsTree::set(const std::string& key, std::int64_t v) {
  Entry& e = slot(key);
  e.kind = Entry::Kind::Int;
  e.i = v;
}
void StatsTree::set(const std::string& key, double v) {
  Entry& e = slot(key);
  e.kind = Entry::Kind::Double;
  e.d = v;
}
void StatsTree::set(const std::string& key, const std::string& v) {
  Entry& e = slot(key);
  e.kind = Entry::Kind::String;
  e.s = v;
}
void StatsTree::set_bool(const std::string& key, bool v) {
  Entry& e = slot(key);
  e.kind = Entry::Kind::Bool;
  e.i = v;
}

std::vector<std::string> StatsTree::child_names() const {
  std::vector<std::string> v;
  for (const auto& e : entries_)
    if (e.kind == Entry::Kind::Tree) v.push_back(e.key);
  return v;
}

const StatsTree* StatsTree::find_child(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.key == name && e.kind == Entry::Kind::Tree) return e.tree.get();
  return nullptr;
}

std::string StatsTree::get(const std::string& dotted) const {
  // Keys may themselves contain dots (node names); try the longest matching key first.
  for (const auto& e : entries_) {
    if (dotted == e.key) {
      switch (e.kind) {
        case Entry::Kind::Int:
          return std::to_string(e.i);
        case Entry::Kind::Double:
          return format_double(e.d);
        case Entry::Kind::String:
          return e.s;
        case Entry::Kind::Bool:
          return e.i ? "true" : "false";
        case Entry::Kind::Tree:
          return "{}";
      }
    }
    if (e.kind == Entry::Kind::Tree && dotted.size() > e.key.size() &&
        dotted.compare(0, e.key.size(), e.key) == 0 && dotted[e.key.size()] == '.') {
      const std::string r = e.tree->get(dotted.substr(e.key.size() + 1));
      if (!r.empty()) return r;
    }
  }
  return "";
}

std::string json_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '"':
        r += "\\\"";
        break;
      case '\\':
        r += "\\\\";
        break;
      case '\n':
        r += "\\n";
        break;
      case '\t':
        r += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          r += buf;
        } else {
          r += c;
        }
    }
  }
  return r;
}

std::string format_double(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

void StatsTree::write_json(std::ostream& os, int indent) const {
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  os << "{";
  bool first = true;
  for (const auto& e : entries_) {
    os << (first ? "\n" : ",\n") << pad << '"' << json_escape(e.key) << "\": ";
    first = false;
    switch (e.kind) {
      case Entry::Kind::Int:
        os << e.i;
        break;
      case Entry::Kind::Double:
        os << format_double(e.d);
        break;
      case Entry::Kind::String:
        os << '"' << json_escape(e.s) << '"';
        break;
      case Entry::Kind::Bool:
        os << (e.i ? "true" : "false");
        break;
      case Entry::Kind::Tree:
        e.tree->write_json(os, indent + 2);
        break;
    }
  }
  if (!first) os << "\n" << std::string(static_cast<std::size_t>(indent), ' ');
  os << "}";
}

void StatsTree::write_csv(std::ostream& os, const std::string& prefix) const {
  for (const auto& e : entries_) {
    const std::string k = prefix.empty() ? e.key : prefix + "." + e.key;
    switch (e.kind) {
      case Entry::Kind::Int:
        os << k << "," << e.i << "\n";
        break;
      case Entry::Kind::Double:
        os << k << "," << format_double(e.d) << "\n";
        break;
      case Entry::Kind::String:
        os << k << ",\"" << e.s << "\"\n";
        break;
      case Entry::Kind::Bool:
        os << k << "," << (e.i ? "true" : "false") << "\n";
        break;
      case Entry::Kind::Tree:
        e.tree->write_csv(os, k);
        break;
    }
  }
}

void write_files_atomically(const std::string& dir,
                            const std::vector<std::pair<std::string, std::string>>& files) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw InputError("--out " + dir + ": exists and is not a directory");
  } else if (mkdir(dir.c_str(), 0777) != 0) {
    throw InputError("--out " + dir + ": cannot create directory: " + std::strerror(errno));
  }
  std::vector<std::string> tmps;
  for (const auto& [name, text] : files) {
    const std::string tmp = dir + "/." + name + ".tmp." + std::to_string(getpid());
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    f.close();
    if (!f) {
      for (const auto& t : tmps) std::remove(t.c_str());
      std::remove(tmp.c_str());
      throw InputError("--out " + dir + ": cannot write " + name + " (directory not writable?)");
    }
    tmps.push_back(tmp);
  }
  for (std::size_t i = 0; i < files.size(); ++i)
    if (std::rename(tmps[i].c_str(), (dir + "/" + files[i].first).c_str()) != 0)
      throw InputError("--out " + dir + ": cannot rename " + files[i].first + ": " +
                       std::strerror(errno));
}

void set_amounts(StatsTree& t, const Resources& r) {
  for (const auto& k : kResourceKinds) t.set(k.name, r[k.kind]);
}

void set_utilisation(StatsTree& t, const Resources& used, const Resources& available) {
  for (const auto& k : kResourceKinds) {
    auto& x = t.child(k.name);
    const double u = used[k.kind], a = available[k.kind];
    x.set("used", std::ceil(u));
    x.set("available", a);
    x.set("utilisation", a > 0 ? u / a : 0.0);
  }
}

}  // namespace masesim
