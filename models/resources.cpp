#include "models/resources.hpp"

#include <algorithm>

namespace masesim {

bool resource_kind_by_name(const std::string& name, Res& kind) {
  for (const auto& k : kResourceKinds)
    if (name == k.name) {
      kind = k.kind;
      return true;
    }
  return false;
}

Resources::Resources(std::initializer_list<std::pair<Res, double>> amounts) {
  for (const auto& [k, a] : amounts) (*this)[k] = a;
}

Resources& Resources::operator+=(const Resources& o) {
  for (std::size_t k = 0; k < kResourceKindCount; ++k) v_[k] += o.v_[k];
  return *this;
}

Resources& Resources::operator-=(const Resources& o) {
  for (std::size_t k = 0; k < kResourceKindCount; ++k) v_[k] -= o.v_[k];
  return *this;
}

Resources& Resources::operator*=(double f) {
  for (double& x : v_) x *= f;
  return *this;
}

bool Resources::fits(const Resources& cap) const {
  for (std::size_t k = 0; k < kResourceKindCount; ++k)
    if (v_[k] > cap.v_[k]) return false;
  return true;
}

std::vector<Res> Resources::overflows(const Resources& cap) const {
  std::vector<Res> over;
  for (const auto& k : kResourceKinds)
    if ((*this)[k.kind] > cap[k.kind]) over.push_back(k.kind);
  return over;
}

Resources Resources::max(const Resources& a, const Resources& b) {
  Resources r;
  for (std::size_t k = 0; k < kResourceKindCount; ++k) r.v_[k] = std::max(a.v_[k], b.v_[k]);
  return r;
}

double Resources::max_utilisation(const Resources& cap, std::initializer_list<Res> kinds) const {
  double u = 0;
  for (Res k : kinds)
    if (cap[k] > 0) u = std::max(u, (*this)[k] / cap[k]);
  return u;
}

double Resources::max_utilisation(const Resources& cap) const {
  double u = 0;
  for (const auto& k : kResourceKinds)
    if (cap[k.kind] > 0) u = std::max(u, (*this)[k.kind] / cap[k.kind]);
  return u;
}

}  // namespace masesim
