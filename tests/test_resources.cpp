// Resources as a keyed vector (models/resources.hpp): the arithmetic written once.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "models/resources.hpp"

using namespace masesim;

TEST(Resources, KeyedConstructionLeavesOtherKindsZero) {
  const Resources r{{Res::lut, 120}, {Res::dsp, 2}};
  EXPECT_EQ(r[Res::lut], 120);
  EXPECT_EQ(r[Res::dsp], 2);
  EXPECT_EQ(r[Res::ff], 0);
  EXPECT_EQ(r[Res::bram36], 0);
  EXPECT_EQ(r[Res::uram], 0);
}

TEST(Resources, ArithmeticIsElementWise) {
  const Resources a{{Res::lut, 10}, {Res::ff, 20}, {Res::dsp, 3}, {Res::bram36, 4}, {Res::uram, 1}};
  const Resources b{{Res::lut, 1}, {Res::ff, 2}, {Res::dsp, 5}, {Res::bram36, 0.5}};
  const Resources s = a + b, d = a - b, m = a * 2.5, x = Resources::max(a, b);
  EXPECT_EQ(s[Res::lut], 11);
  EXPECT_EQ(s[Res::dsp], 8);
  EXPECT_EQ(s[Res::uram], 1);
  EXPECT_EQ(d[Res::ff], 18);
  EXPECT_EQ(d[Res::dsp], -2);
  EXPECT_EQ(d[Res::bram36], 3.5);
  EXPECT_EQ(m[Res::lut], 25);
  EXPECT_EQ(m[Res::uram], 2.5);
  EXPECT_EQ((2.5 * a), m);
  EXPECT_EQ(x[Res::lut], 10);
  EXPECT_EQ(x[Res::dsp], 5);
  EXPECT_EQ(x[Res::bram36], 4);
  EXPECT_NE(a, b);
}

TEST(Resources, FitsAndOverflowsNameTheKindsOverCapacity) {
  const Resources cap{{Res::lut, 100}, {Res::ff, 200}, {Res::dsp, 10}, {Res::bram36, 4}};
  const Resources ok{{Res::lut, 100}, {Res::ff, 50}, {Res::dsp, 10}};
  EXPECT_TRUE(ok.fits(cap));  // equal is within
  EXPECT_TRUE(ok.overflows(cap).empty());
  const Resources over{{Res::lut, 101}, {Res::dsp, 3}, {Res::uram, 1}};
  EXPECT_FALSE(over.fits(cap));
  const auto o = over.overflows(cap);
  ASSERT_EQ(o.size(), 2u);  // in table order: lut, then uram (the cap has no URAM)
  EXPECT_EQ(o[0], Res::lut);
  EXPECT_EQ(o[1], Res::uram);
}

TEST(Resources, MaxUtilisationSkipsKindsWithoutCapacity) {
  const Resources cap{{Res::lut, 100}, {Res::dsp, 10}};
  const Resources u{{Res::lut, 50}, {Res::dsp, 8}, {Res::uram, 7}};
  EXPECT_DOUBLE_EQ(u.max_utilisation(cap), 0.8);
  EXPECT_DOUBLE_EQ(u.max_utilisation(cap, {Res::lut}), 0.5);
  EXPECT_DOUBLE_EQ(Resources{}.max_utilisation(cap), 0);
}

TEST(Resources, KindTableNamesEveryKindOnce) {
  std::set<std::string> names;
  for (const auto& k : kResourceKinds) {
    names.insert(k.name);
    Res back = Res::uram;
    ASSERT_TRUE(resource_kind_by_name(k.name, back)) << k.name;
    EXPECT_EQ(back, k.kind);
  }
  EXPECT_EQ(names.size(), kResourceKindCount);
  EXPECT_EQ(names, (std::set<std::string>{"lut", "ff", "dsp", "bram36", "uram"}));
  Res r = Res::lut;
  EXPECT_FALSE(resource_kind_by_name("lutram", r));
}
