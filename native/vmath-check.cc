// Accuracy check of the vectorized float32 math (vmath.cc) against double-precision libm, over a
// dense sweep of all float bit patterns (every STEP-th), for each instruction set the CPU has.
// Not part of the addon; run by hand:
//   g++ -O2 -std=c++17 native/vmath-check.cc native/vmath.cc -o /tmp/vmath-check && /tmp/vmath-check
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "vmath.h"

namespace {

// Error in units of the float ulp at the expected value; denormal results count against the
// smallest normal's ulp (their absolute error is what matters there).
// `scale` (when larger than |want|) sets the ulp instead: for a function that is a sum of terms,
// the largest term's magnitude (near a zero crossing, an error relative to the value itself means
// nothing).
double ulps(float got, double want, double scale = 0) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(want) || std::isinf(got)) return got == static_cast<float>(want) ? 0 : INFINITY;
  const float w = std::fmax(std::fmax(std::fabs(static_cast<float>(want)), static_cast<float>(scale)),
                            1.17549435e-38f);
  const float next = std::nextafter(w, INFINITY);
  const double ulp = static_cast<double>(next) - static_cast<double>(w);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

double no_scale(double) { return 0; }

// The worst error over the sweep, and over the inputs x ≥ lo.
template <typename V, typename R, typename S = double (*)(double)>
void check(const char* name, V vec, R ref, S scale = no_scale, double lo = -INFINITY) {
  constexpr uint32_t STEP = 97;
  const size_t block = 1 << 16;
  std::vector<float> in(block), out(block);
  double worst = 0, worstLo = 0;
  float worstX = 0, worstXLo = 0;
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
      const double x = in[i];
      const double u = ulps(out[i], ref(x), scale(x));
      if (u > worst) {
        worst = u;
        worstX = in[i];
      }
      if (x >= lo && u > worstLo) {
        worstLo = u;
        worstXLo = in[i];
      }
    }
    count += n;
    if (n < block) break;
  }
  std::printf("%-14s max error %.2f ulp (at x = %.9g) over %llu inputs", name, worst, worstX,
              static_cast<unsigned long long>(count));
  if (lo > -INFINITY) std::printf("; %.2f ulp (at x = %.9g) for x >= %g", worstLo, worstXLo, lo);
  std::printf("\n");
}

// The double references (the limits at ±∞ as the kernels define them).
double gelu(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  return 0.5 * x * std::erfc(-x * M_SQRT1_2);
}
double phi_cdf(double x) { return 0.5 * std::erfc(-x * M_SQRT1_2); }
double gelu_grad(double x) {
  if (std::isinf(x)) return x > 0 ? 1 : 0;
  return 0.5 * std::erfc(-x * M_SQRT1_2) + x * 0.398942280401432678 * std::exp(-0.5 * x * x);
}
double sigma(double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); }
double gelu_tanh(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  return x * sigma(2 * 0.7978845608028654 * (x + 0.044715 * x * x * x));
}
double gelu_tanh_grad(double x) {
  if (std::isinf(x)) return x > 0 ? 1 : 0;
  if (std::fabs(x) > 1e3) return x > 0 ? 1 : 0;
  const double z = 2 * 0.7978845608028654 * (x + 0.044715 * x * x * x);
  const double s = sigma(z), sm = sigma(-z);
  return s + x * s * sm * 2 * 0.7978845608028654 * (1 + 3 * 0.044715 * x * x);
}

// The gradient kernels with g = 1.
bool gelu_grad_1(const float* x, float* out, int64_t n) {
  std::vector<float> one(static_cast<size_t>(n), 1.0f);
  return nabla::vmath::gelu_grad_f32(x, one.data(), out, n);
}
bool gelu_tanh_grad_1(const float* x, float* out, int64_t n) {
  std::vector<float> one(static_cast<size_t>(n), 1.0f);
  return nabla::vmath::gelu_tanh_grad_f32(x, one.data(), out, n);
}

}  // namespace

int main() {
  using namespace nabla::vmath;
  for (const char* want : {"avx512", "avx2"}) {
    if (std::strcmp(set_isa(want), want) != 0) continue;
    std::printf("-- %s\n", want);
    check("exp", exp_f32, [](double x) { return std::exp(x); });
    check("log", log_f32, [](double x) { return std::log(x); });
    check("tanh", tanh_f32, [](double x) { return std::tanh(x); });
    check("sigmoid", sigmoid_f32, sigma);
    check("erf", erf_f32, [](double x) { return std::erf(x); });
    check("gelu", gelu_f32, gelu);
    // The gradients cross zero near x = −0.75: errors there are in ulps of the larger term (Φ, σ).
    check("gelu_grad", gelu_grad_1, gelu_grad, phi_cdf);
    check("gelu_tanh", gelu_tanh_f32, gelu_tanh);
    check("gelu_tanh_grad", gelu_tanh_grad_1, gelu_tanh_grad,
          [](double x) { return sigma(2 * 0.7978845608028654 * (x + 0.044715 * x * x * x)); });
    // Special values.
    const float sp[] = {NAN,     INFINITY, -INFINITY, 0.0f,  -0.0f,  1e-45f, -1e-45f,
                        88.72f,  88.73f,   -87.4f,    -103.9f, -104.5f, -14.6f, 14.6f};
    constexpr int kN = sizeof(sp) / sizeof(sp[0]);
    float o[kN];
    for (auto f : {exp_f32, log_f32, tanh_f32, sigmoid_f32, erf_f32, gelu_f32, gelu_tanh_f32,
                   gelu_grad_1, gelu_tanh_grad_1}) {
      f(sp, o, kN);
      for (float v : o) std::printf("%g ", v);
      std::printf("\n");
    }
  }
  return 0;
}
