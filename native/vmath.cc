// Vectorized float32 exp, log, tanh and sigmoid with AVX2+FMA, chosen at run time; other CPUs use
// the scalar libm loops (the functions return false).
//
// exp and log follow Cephes' expf/logf (range reduction by powers of two, minimax polynomials on
// the reduced range); tanh uses an odd polynomial fitted for |x| < 0.625 and 1 − 2/(e^{2|x|} + 1)
// above; sigmoid is 1/(1 + e^{−x}) for x ≥ 0 and e^{x}/(1 + e^{x}) below. All are within a few ulp
// of the correctly rounded result over the whole float range (NaN, ±Inf, denormals included); see
// test/backend/native-kernels.test.ts and native/vmath-check.cc.
#include "vmath.h"

#include <cmath>
#include <cstring>

#if !defined(NABLA_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#define NABLA_VMATH_X86 1
#include <immintrin.h>
#define TGT __attribute__((target("avx2,fma")))
#else
#define NABLA_VMATH_X86 0
#endif

namespace nabla {
namespace vmath {

#if NABLA_VMATH_X86

namespace {

bool has_avx2() {
  static const int ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
  }();
  return ok != 0;
}

TGT inline __m256 set1(float v) { return _mm256_set1_ps(v); }

// e^x for 8 lanes.
TGT inline __m256 exp8(__m256 x) {
  // Clamp so that 2^n stays representable in two factors; results over/underflow naturally.
  __m256 xc = _mm256_min_ps(_mm256_max_ps(x, set1(-104.0f)), set1(89.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, set1(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, set1(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, set1(-2.12194440e-4f), r);
  __m256 p = set1(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, set1(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, set1(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, set1(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, set1(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, set1(5.0000001201e-1f));
  __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, set1(1.0f)));
  // y · 2^n, as 2^(n/2) · 2^(n − n/2) so that denormal results and 2^128 scale correctly.
  const __m256i k = _mm256_cvtps_epi32(n);
  const __m256i k1 = _mm256_srai_epi32(k, 1);
  const __m256i k2 = _mm256_sub_epi32(k, k1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
  y = _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
}

// ln x for 8 lanes.
TGT inline __m256 log8(__m256 x) {
  const __m256 zero = _mm256_setzero_ps();
  // Denormals: scale into the normal range first.
  const __m256 tiny = _mm256_cmp_ps(x, set1(1.17549435e-38f), _CMP_LT_OQ);
  __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, set1(8388608.0f)), tiny);  // · 2^23
  __m256 e = _mm256_blendv_ps(zero, set1(-23.0f), tiny);
  const __m256i bits = _mm256_castps_si256(xs);
  e = _mm256_add_ps(e, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23),
                                                           _mm256_set1_epi32(126))));
  // Mantissa in [0.5, 1).
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
      _mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
  const __m256 lt = _mm256_cmp_ps(m, set1(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(set1(1.0f), lt));
  m = _mm256_add_ps(_mm256_sub_ps(m, set1(1.0f)), _mm256_and_ps(m, lt));  // 2m − 1 or m − 1
  const __m256 z = _mm256_mul_ps(m, m);
  __m256 y = set1(7.0376836292e-2f);
  y = _mm256_fmadd_ps(y, m, set1(-1.1514610310e-1f));
  y = _mm256_fmadd_ps(y, m, set1(1.1676998740e-1f));
  y = _mm256_fmadd_ps(y, m, set1(-1.2420140846e-1f));
  y = _mm256_fmadd_ps(y, m, set1(1.4249322787e-1f));
  y = _mm256_fmadd_ps(y, m, set1(-1.6668057665e-1f));
  y = _mm256_fmadd_ps(y, m, set1(2.0000714765e-1f));
  y = _mm256_fmadd_ps(y, m, set1(-2.4999993993e-1f));
  y = _mm256_fmadd_ps(y, m, set1(3.3333331174e-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
  y = _mm256_fmadd_ps(e, set1(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(z, set1(0.5f), y);
  __m256 r = _mm256_add_ps(m, y);
  r = _mm256_fmadd_ps(e, set1(0.693359375f), r);
  // Special values: log 0 = −Inf, log(x < 0) = NaN, log(+Inf) = +Inf, NaN stays NaN.
  r = _mm256_blendv_ps(r, set1(-INFINITY), _mm256_cmp_ps(x, zero, _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, set1(NAN), _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
  r = _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, set1(INFINITY), _CMP_EQ_OQ));
  return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

TGT inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  // |x| < 0.625: x + x³·P(x²) (least-squares fit on the relative error, < 1 ulp).
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = set1(0.00215359078720212f);
  p = _mm256_fmadd_ps(p, x2, set1(-0.008189946413040161f));
  p = _mm256_fmadd_ps(p, x2, set1(0.021706251427531242f));
  p = _mm256_fmadd_ps(p, x2, set1(-0.05394788831472397f));
  p = _mm256_fmadd_ps(p, x2, set1(0.13333216309547424f));
  p = _mm256_fmadd_ps(p, x2, set1(-0.3333333134651184f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(ax, x2), p, ax);
  // Otherwise 1 − 2/(e^{2|x|} + 1).
  const __m256 e = exp8(_mm256_add_ps(ax, ax));
  const __m256 large =
      _mm256_sub_ps(set1(1.0f), _mm256_div_ps(set1(2.0f), _mm256_add_ps(e, set1(1.0f))));
  // tanh is odd: x's sign on |tanh x| (which keeps tanh(−0) = −0).
  const __m256 mag = _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, set1(0.625f), _CMP_LT_OQ));
  return _mm256_or_ps(mag, _mm256_and_ps(x, sign));
}

TGT inline __m256 sigmoid8(__m256 x) {
  const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), ax));
  const __m256 num =
      _mm256_blendv_ps(set1(1.0f), e, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return _mm256_div_ps(num, _mm256_add_ps(set1(1.0f), e));
}

// Applies F to x[0..n) in blocks of 8; the tail goes through a padded block, so every element
// takes the same path.
template <__m256 (*F)(__m256)>
TGT void apply(const float* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, F(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    _mm256_storeu_ps(buf, F(_mm256_loadu_ps(buf)));
    std::memcpy(out + i, buf, (n - i) * sizeof(float));
  }
}

}  // namespace

bool exp_f32(const float* x, float* out, int64_t n) {
  if (!has_avx2()) return false;
  apply<exp8>(x, out, n);
  return true;
}
bool log_f32(const float* x, float* out, int64_t n) {
  if (!has_avx2()) return false;
  apply<log8>(x, out, n);
  return true;
}
bool tanh_f32(const float* x, float* out, int64_t n) {
  if (!has_avx2()) return false;
  apply<tanh8>(x, out, n);
  return true;
}
bool sigmoid_f32(const float* x, float* out, int64_t n) {
  if (!has_avx2()) return false;
  apply<sigmoid8>(x, out, n);
  return true;
}

#else

bool exp_f32(const float*, float*, int64_t) { return false; }
bool log_f32(const float*, float*, int64_t) { return false; }
bool tanh_f32(const float*, float*, int64_t) { return false; }
bool sigmoid_f32(const float*, float*, int64_t) { return false; }

#endif

}  // namespace vmath
}  // namespace nabla
