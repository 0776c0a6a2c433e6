#include "workloads/tensor_file.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "workloads/error.hpp"

namespace masesim {
namespace {

[[noreturn]] void bad(const std::string& label, const std::string& msg) {
  throw InputError(label + ": " + msg);
}

std::uint64_t le(const std::string& b, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

/// Value of key `key` in the header dict text (a Python literal), as raw text.
std::string header_value(const std::string& h, const std::string& key, const std::string& label) {
  for (const char q : {'\'', '"'}) {
    const std::string k = std::string(1, q) + key + q;
    const auto p = h.find(k);
    if (p == std::string::npos) continue;
    auto c = h.find(':', p + k.size());
    if (c == std::string::npos) break;
    ++c;
    while (c < h.size() && h[c] == ' ') ++c;
    if (c >= h.size()) break;
    if (h[c] == '(') {
      const auto e = h.find(')', c);
      if (e == std::string::npos) bad(label, "malformed .npy header: unterminated shape tuple");
      return h.substr(c, e - c + 1);
    }
    if (h[c] == '\'' || h[c] == '"') {
      const auto e = h.find(h[c], c + 1);
      if (e == std::string::npos) bad(label, "malformed .npy header: unterminated string");
      return h.substr(c + 1, e - c - 1);
    }
    auto e = h.find_first_of(",}", c);
    if (e == std::string::npos) e = h.size();
    auto s = h.substr(c, e - c);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  }
  bad(label, "malformed .npy header: no '" + key + "' in " + h);
}

Shape parse_shape(const std::string& t, const std::string& label) {
  Shape s;
  std::string body = t.substr(1, t.size() - 2);
  std::stringstream ss(body);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::size_t a = item.find_first_not_of(" ");
    if (a == std::string::npos) continue;
    item = item.substr(a);
    while (!item.empty() && (item.back() == ' ' || item.back() == 'L')) item.pop_back();
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0) bad(label, "malformed .npy shape " + t);
    s.push_back(v);
  }
  return s;
}

struct Dtype {
  char kind;  // f i u b
  int size;
};

Dtype parse_descr(const std::string& d, const std::string& label) {
  static const char* ok = "<f8 <f4 <i8 <i4 <i2 <i1 |i1 <u1 |u1 |b1";
  const std::string supported = std::string(" (supported: ") + ok + ")";
  if (d.size() != 3) bad(label, "unsupported .npy dtype '" + d + "'" + supported);
  if (d[0] == '>') bad(label, "big-endian .npy dtype '" + d + "' is not supported" + supported);
  const Dtype t{d[1], d[2] - '0'};
  const bool one = t.size == 1;
  const bool order_ok = d[0] == '<' || (d[0] == '|' && one) || (d[0] == '=' && !one);
  const bool kind_ok =
      (t.kind == 'f' && (t.size == 4 || t.size == 8)) ||
      (t.kind == 'i' && (t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8)) ||
      (t.kind == 'u' && one) || (t.kind == 'b' && one);
  if (!order_ok || !kind_ok) bad(label, "unsupported .npy dtype '" + d + "'" + supported);
  return t;
}

double element(const std::string& b, std::size_t at, Dtype t, const std::string& label) {
  switch (t.kind) {
    case 'f':
      if (t.size == 8) {
        const std::uint64_t u = le(b, at, 8);
        double d;
        std::memcpy(&d, &u, 8);
        return d;
      } else {
        const auto u = static_cast<std::uint32_t>(le(b, at, 4));
        float f;
        std::memcpy(&f, &u, 4);
        return f;
      }
    case 'i': {
      const std::uint64_t u = le(b, at, t.size);
      const int sh = 64 - 8 * t.size;
      const std::int64_t v = static_cast<std::int64_t>(u << sh) >> sh;
      if (v > (std::int64_t{1} << 53) || v < -(std::int64_t{1} << 53))
        bad(label, "integer " + std::to_string(v) + " is not exact as a double");
      return static_cast<double>(v);
    }
    default:
      return static_cast<double>(static_cast<unsigned char>(b[at]));
  }
}

}  // namespace

TensorData parse_npy(const std::string& b, const std::string& label) {
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0)
    bad(label, "not a .npy file (missing the \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(b[6]);
  if (major < 1 || major > 3)
    bad(label, ".npy format version " + std::to_string(major) + " is not supported (1, 2 or 3)");
  const int lenbytes = major == 1 ? 2 : 4;
  const std::size_t hstart = 8 + static_cast<std::size_t>(lenbytes);
  if (b.size() < hstart) bad(label, "truncated .npy header");
  const std::size_t hlen = le(b, 8, lenbytes);
  if (b.size() < hstart + hlen)
    bad(label, "truncated .npy header (" + std::to_string(hlen) + " bytes announced)");
  const std::string h = b.substr(hstart, hlen);
  if (h.find('{') == std::string::npos) bad(label, "malformed .npy header: " + h);
  const Dtype t = parse_descr(header_value(h, "descr", label), label);
  const std::string fo = header_value(h, "fortran_order", label);
  if (fo == "True") bad(label, "Fortran-order .npy arrays are not supported (save in C order)");
  if (fo != "False") bad(label, "malformed .npy header: fortran_order = " + fo);
  const std::string st = header_value(h, "shape", label);
  if (st.empty() || st.front() != '(') bad(label, "malformed .npy header: shape = " + st);
  TensorData out;
  out.shape = parse_shape(st, label);
  const auto n = static_cast<std::size_t>(shape_numel(out.shape, label + " shape"));
  const std::size_t data = hstart + hlen;
  const std::size_t need = n * static_cast<std::size_t>(t.size);
  if (b.size() - data < need)
    bad(label, "truncated .npy data: " + std::to_string(b.size() - data) + " bytes for shape " +
                   shape_to_string(out.shape) + " (" + std::to_string(need) + " expected)");
  if (b.size() - data > need)
    bad(label, ".npy file has " + std::to_string(b.size() - data - need) +
                   " trailing bytes after the data");
  out.v.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.v[i] = element(b, data + i * t.size, t, label);
  return out;
}

TensorData read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path + ": cannot open tensor file");
  std::ostringstream s;
  s << f.rdbuf();
  return parse_npy(s.str(), path);
}

std::string npy_bytes(const TensorData& t) {
  std::string shape = "(";
  for (std::size_t i = 0; i < t.shape.size(); ++i)
    shape += std::to_string(t.shape[i]) +
             (t.shape.size() == 1 ? "," : (i + 1 < t.shape.size() ? ", " : ""));
  shape += ")";
  std::string h = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  out += h;
  for (double d : t.v) {
    std::uint64_t u;
    std::memcpy(&u, &d, 8);
    for (int i = 0; i < 8; ++i) out += static_cast<char>((u >> (8 * i)) & 0xff);
  }
  return out;
}

void write_npy(const std::string& path, const TensorData& t) {
  if (static_cast<std::int64_t>(t.v.size()) != shape_numel(t.shape, path))
    throw InputError(path + ": " + std::to_string(t.v.size()) + " values for shape " +
                     shape_to_string(t.shape));
  std::ofstream f(path, std::ios::binary);
  if (!f) throw InputError(path + ": cannot write tensor file");
  const std::string b = npy_bytes(t);
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
  if (!f) throw InputError(path + ": write failed");
}

TensorData read_npy_shaped(const std::string& path, const Shape& expected,
                           const std::string& what) {
  TensorData t = read_npy(path);
  if (t.shape != expected)
    throw InputError(path + ": " + what + " has shape " + shape_to_string(t.shape) + ", expected " +
                     shape_to_string(expected));
  return t;
}

std::string default_data_dir(const std::string& graph_path) {
  std::string base = graph_path;
  for (const char* ext : {".json", ".yaml", ".yml"}) {
    const std::string e = ext;
    if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0) {
      base.resize(base.size() - e.size());
      break;
    }
  }
  return base + ".data";
}

std::string param_file(const std::string& dir, const std::string& node, const std::string& param) {
  return dir + "/params/" + node + "." + param + ".npy";
}
std::string input_file(const std::string& dir, const std::string& input) {
  return dir + "/inputs/" + input + ".npy";
}
std::string reference_file(const std::string& dir, const std::string& node) {
  return dir + "/reference/" + node + ".npy";
}
bool file_exists(const std::string& path) {
  return static_cast<bool>(std::ifstream(path));
}

namespace {
TensorData read_input_file(const std::string& dir, const GraphInput& in, std::int64_t* count) {
  const std::string path = input_file(dir, in.name);
  TensorData t = read_npy(path);
  const Shape& s = in.tensor.shape;
  if (t.shape == s) {
    *count = 1;
    return t;
  }
  if (t.shape.size() == s.size() + 1 && std::equal(s.begin(), s.end(), t.shape.begin() + 1)) {
    *count = t.shape[0];
    return t;
  }
  throw InputError(path + ": input '" + in.name + "' has shape " + shape_to_string(t.shape) +
                   ", expected " + shape_to_string(s) + " or [inferences, " +
                   shape_to_string(s).substr(1));
}
}  // namespace

std::int64_t input_inferences(const std::string& dir, const GraphInput& in) {
  std::int64_t n = 0;
  read_input_file(dir, in, &n);
  return n;
}

TensorData read_input(const std::string& dir, const GraphInput& in, std::int64_t inference) {
  std::int64_t n = 0;
  TensorData t = read_input_file(dir, in, &n);
  if (inference < 0 || inference >= n)
    throw InputError(input_file(dir, in.name) + ": inference " + std::to_string(inference) +
                     " requested, the file holds " + std::to_string(n));
  if (t.shape == in.tensor.shape) return t;
  const auto per = static_cast<std::size_t>(shape_numel(in.tensor.shape));
  TensorData one;
  one.shape = in.tensor.shape;
  one.v.assign(t.v.begin() + static_cast<std::ptrdiff_t>(per * inference),
               t.v.begin() + static_cast<std::ptrdiff_t>(per * (inference + 1)));
  return one;
}

}  // namespace masesim
