// Vectorized float32 exp, log, tanh, sigmoid, erf and GELU (forward and backward, exact and tanh),
// with AVX-512F (16 lanes) or AVX2+FMA (8 lanes) chosen at run time; other CPUs use the scalar
// loops of the callers (the functions return false). The math itself is written once
// (vmath-simd.h) and instantiated for both instruction sets, so that both give the same bits.
//
// exp and log follow Cephes' expf/logf (range reduction by powers of two, minimax polynomials on
// the reduced range); tanh uses an odd polynomial fitted for |x| < 0.625 and 1 − 2/(e^{2|x|} + 1)
// above; sigmoid is 1/(1 + e^{−x}) for x ≥ 0 and e^{x}/(1 + e^{x}) below; erf and the exact GELU
// go through a fitted tail ratio of the normal distribution (see normal_tail_ratio). All are
// within a few ulp of the correctly rounded result over the whole float range (NaN, ±Inf,
// denormals included); see test/backend/native-kernels.test.ts and native/vmath-check.cc.
#include "vmath.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#if !defined(NABLA_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#define NABLA_VMATH_X86 1
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 reports the deliberately undefined pass-through operand of the AVX-512 intrinsics
// (_mm512_undefined_ps) as (maybe-)uninitialized, at the header's lines.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#else
#define NABLA_VMATH_X86 0
#endif

namespace nabla {
namespace vmath {

#if NABLA_VMATH_X86

// ---- AVX2 + FMA: 8 lanes ------------------------------------------------------------------------

namespace avx2 {
#define VM_TGT __attribute__((target("avx2,fma")))
using V = __m256;
using M = __m256;
using I = __m256i;
constexpr int W = 8;
VM_TGT inline V set1(float v) { return _mm256_set1_ps(v); }
VM_TGT inline V load(const float* p) { return _mm256_loadu_ps(p); }
VM_TGT inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
VM_TGT inline V add(V a, V b) { return _mm256_add_ps(a, b); }
VM_TGT inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
VM_TGT inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
VM_TGT inline V div(V a, V b) { return _mm256_div_ps(a, b); }
// min/max return the second operand when either is NaN (as minps/maxps).
VM_TGT inline V vmin(V a, V b) { return _mm256_min_ps(a, b); }
VM_TGT inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
VM_TGT inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
VM_TGT inline V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
VM_TGT inline V fmsub(V a, V b, V c) { return _mm256_fmsub_ps(a, b, c); }
VM_TGT inline V vabs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
VM_TGT inline V sign_bits(V a) { return _mm256_and_ps(a, _mm256_set1_ps(-0.0f)); }
VM_TGT inline V or_bits(V a, V b) { return _mm256_or_ps(a, b); }
VM_TGT inline V xor_bits(V a, V b) { return _mm256_xor_ps(a, b); }
VM_TGT inline V round_near(V a) {
  return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
VM_TGT inline I cvt_i(V a) { return _mm256_cvtps_epi32(a); }
VM_TGT inline V cvt_f(I a) { return _mm256_cvtepi32_ps(a); }
VM_TGT inline V as_f(I a) { return _mm256_castsi256_ps(a); }
VM_TGT inline I as_i(V a) { return _mm256_castps_si256(a); }
VM_TGT inline I add_i(I a, I b) { return _mm256_add_epi32(a, b); }
VM_TGT inline I sub_i(I a, I b) { return _mm256_sub_epi32(a, b); }
template <int N>
VM_TGT inline I srai_i(I a) {
  return _mm256_srai_epi32(a, N);
}
template <int N>
VM_TGT inline I slli_i(I a) {
  return _mm256_slli_epi32(a, N);
}
template <int N>
VM_TGT inline I srli_i(I a) {
  return _mm256_srli_epi32(a, N);
}
VM_TGT inline I and_i(I a, I b) { return _mm256_and_si256(a, b); }
VM_TGT inline I or_i(I a, I b) { return _mm256_or_si256(a, b); }
VM_TGT inline I set1_i(int v) { return _mm256_set1_epi32(v); }
VM_TGT inline M lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
VM_TGT inline M le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
VM_TGT inline M ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
VM_TGT inline M eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
VM_TGT inline M nan_mask(V a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
VM_TGT inline V sel(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
#include "vmath-simd.h"
#undef VM_TGT
}  // namespace avx2

// ---- AVX-512F: 16 lanes -------------------------------------------------------------------------

namespace avx512 {
#define VM_TGT __attribute__((target("avx512f")))
using V = __m512;
using M = __mmask16;
using I = __m512i;
constexpr int W = 16;
VM_TGT inline V set1(float v) { return _mm512_set1_ps(v); }
VM_TGT inline V load(const float* p) { return _mm512_loadu_ps(p); }
VM_TGT inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
VM_TGT inline V add(V a, V b) { return _mm512_add_ps(a, b); }
VM_TGT inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
VM_TGT inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
VM_TGT inline V div(V a, V b) { return _mm512_div_ps(a, b); }
VM_TGT inline V vmin(V a, V b) { return _mm512_min_ps(a, b); }
VM_TGT inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
VM_TGT inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
VM_TGT inline V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
VM_TGT inline V fmsub(V a, V b, V c) { return _mm512_fmsub_ps(a, b, c); }
VM_TGT inline V as_f(__m512i a) { return _mm512_castsi512_ps(a); }
VM_TGT inline __m512i as_i(V a) { return _mm512_castps_si512(a); }
// Bitwise float ops through the integer unit (the float forms need AVX-512DQ).
VM_TGT inline V vabs(V a) {
  return as_f(_mm512_and_si512(as_i(a), _mm512_set1_epi32(0x7fffffff)));
}
VM_TGT inline V sign_bits(V a) {
  return as_f(_mm512_and_si512(as_i(a), _mm512_set1_epi32(static_cast<int>(0x80000000u))));
}
VM_TGT inline V or_bits(V a, V b) { return as_f(_mm512_or_si512(as_i(a), as_i(b))); }
VM_TGT inline V xor_bits(V a, V b) { return as_f(_mm512_xor_si512(as_i(a), as_i(b))); }
VM_TGT inline V round_near(V a) {
  return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
VM_TGT inline I cvt_i(V a) { return _mm512_cvtps_epi32(a); }
VM_TGT inline V cvt_f(I a) { return _mm512_cvtepi32_ps(a); }
VM_TGT inline I add_i(I a, I b) { return _mm512_add_epi32(a, b); }
VM_TGT inline I sub_i(I a, I b) { return _mm512_sub_epi32(a, b); }
template <int N>
VM_TGT inline I srai_i(I a) {
  return _mm512_srai_epi32(a, N);
}
template <int N>
VM_TGT inline I slli_i(I a) {
  return _mm512_slli_epi32(a, N);
}
template <int N>
VM_TGT inline I srli_i(I a) {
  return _mm512_srli_epi32(a, N);
}
VM_TGT inline I and_i(I a, I b) { return _mm512_and_si512(a, b); }
VM_TGT inline I or_i(I a, I b) { return _mm512_or_si512(a, b); }
VM_TGT inline I set1_i(int v) { return _mm512_set1_epi32(v); }
VM_TGT inline M lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
VM_TGT inline M le(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
VM_TGT inline M ge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
VM_TGT inline M eq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
VM_TGT inline M nan_mask(V a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
VM_TGT inline V sel(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
#include "vmath-simd.h"
#undef VM_TGT
}  // namespace avx512

namespace {

enum Level { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

int best_level() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kAvx2;
  return kScalar;
}

int parse_level(const char* s) {
  const std::string n = s ? s : "";
  const int best = best_level();
  if (n == "avx512" && best >= kAvx512) return kAvx512;
  if (n == "avx2" && best >= kAvx2) return kAvx2;
  if (n == "scalar") return kScalar;
  return best;
}

int g_level = parse_level(std::getenv("NABLA_GEMM_ISA"));

}  // namespace

#define NABLA_VMATH_UNARY(NAME, FN)                                \
  bool NAME(const float* x, float* out, int64_t n) {               \
    if (g_level == kAvx512) {                                      \
      avx512::apply<avx512::FN>(x, out, n);                        \
      return true;                                                 \
    }                                                              \
    if (g_level == kAvx2) {                                        \
      avx2::apply<avx2::FN>(x, out, n);                            \
      return true;                                                 \
    }                                                              \
    return false;                                                  \
  }
#define NABLA_VMATH_SCALED(NAME, FN)                                            \
  bool NAME(const float* x, const float* g, float* out, int64_t n) {            \
    if (g_level == kAvx512) {                                                   \
      avx512::apply_scaled<avx512::FN>(x, g, out, n);                           \
      return true;                                                              \
    }                                                                           \
    if (g_level == kAvx2) {                                                     \
      avx2::apply_scaled<avx2::FN>(x, g, out, n);                               \
      return true;                                                              \
    }                                                                           \
    return false;                                                               \
  }

NABLA_VMATH_UNARY(exp_f32, exp_v)
NABLA_VMATH_UNARY(log_f32, log_v)
NABLA_VMATH_UNARY(tanh_f32, tanh_v)
NABLA_VMATH_UNARY(sigmoid_f32, sigmoid_v)
NABLA_VMATH_UNARY(erf_f32, erf_v)
NABLA_VMATH_UNARY(gelu_f32, gelu_v)
NABLA_VMATH_UNARY(gelu_tanh_f32, gelu_tanh_v)
NABLA_VMATH_SCALED(gelu_grad_f32, gelu_grad_v)
NABLA_VMATH_SCALED(gelu_tanh_grad_f32, gelu_tanh_grad_v)
#undef NABLA_VMATH_UNARY
#undef NABLA_VMATH_SCALED

const char* isa() { return g_level == kAvx512 ? "avx512" : g_level == kAvx2 ? "avx2" : "scalar"; }

const char* set_isa(const char* name) {
  g_level = parse_level(name);
  return isa();
}

#else

bool exp_f32(const float*, float*, int64_t) { return false; }
bool log_f32(const float*, float*, int64_t) { return false; }
bool tanh_f32(const float*, float*, int64_t) { return false; }
bool sigmoid_f32(const float*, float*, int64_t) { return false; }
bool erf_f32(const float*, float*, int64_t) { return false; }
bool gelu_f32(const float*, float*, int64_t) { return false; }
bool gelu_tanh_f32(const float*, float*, int64_t) { return false; }
bool gelu_grad_f32(const float*, const float*, float*, int64_t) { return false; }
bool gelu_tanh_grad_f32(const float*, const float*, float*, int64_t) { return false; }
const char* isa() { return "scalar"; }
const char* set_isa(const char*) { return "scalar"; }

#endif

}  // namespace vmath
}  // namespace nabla
