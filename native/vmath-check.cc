// Accuracy check of the vectorized float32 math (vmath.cc) against double-precision libm, over a
// dense sweep of all float bit patterns (every STEP-th). Not part of the addon; run by hand:
//   g++ -O2 -std=c++17 native/vmath-check.cc native/vmath.cc -o /tmp/vmath-check && /tmp/vmath-check
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "vmath.h"

namespace {

double ulps(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(want) || std::isinf(got)) return got == static_cast<float>(want) ? 0 : INFINITY;
  const float w = static_cast<float>(want);
  const float next = std::nextafter(std::fabs(w), INFINITY);
  const double ulp = static_cast<double>(next) - std::fabs(static_cast<double>(w));
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

template <typename V, typename R>
void check(const char* name, V vec, R ref) {
  constexpr uint32_t STEP = 97;
  const size_t block = 1 << 16;
  std::vector<float> in(block), out(block);
  double worst = 0;
  float worstX = 0;
  uint64_t count = 0;
  uint32_t bits = 0;
  for (;;) {
    size_t n = 0;
    for (; n < block; n++) {
      std::memcpy(&in[n], &bits, 4);
      if (bits > UINT32_MAX - STEP) break;
      bits += STEP;
    }
    if (!vec(in.data(), out.data(), static_cast<int64_t>(n))) {
      std::printf("%s: no SIMD implementation on this CPU\n", name);
      return;
    }
    for (size_t i = 0; i < n; i++) {
      const double u = ulps(out[i], ref(static_cast<double>(in[i])));
      if (u > worst) {
        worst = u;
        worstX = in[i];
      }
    }
    count += n;
    if (n < block) break;
  }
  std::printf("%-8s max error %.2f ulp (at x = %.9g) over %llu inputs\n", name, worst, worstX,
              static_cast<unsigned long long>(count));
}

}  // namespace

int main() {
  using namespace nabla::vmath;
  check("exp", exp_f32, [](double x) { return std::exp(x); });
  check("log", log_f32, [](double x) { return std::log(x); });
  check("tanh", tanh_f32, [](double x) { return std::tanh(x); });
  check("sigmoid", sigmoid_f32, [](double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); });
  // Special values.
  const float sp[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-45f, 88.7228394f, 88.73f, -87.4f, -103.9f, -104.5f};
  float o[12];
  for (auto f : {exp_f32, log_f32, tanh_f32, sigmoid_f32}) {
    f(sp, o, 12);
    for (float v : o) std::printf("%g ", v);
    std::printf("\n");
  }
  return 0;
}
