// Vectorized float32 math for contiguous runs (vmath.cc): each returns false when no SIMD
// implementation is available on this CPU (or the scalar path was forced), and the caller falls
// back to its scalar loop. Results do not depend on n or on where a run is split.
#pragma once

#include <cstdint>

namespace nabla {
namespace vmath {

bool exp_f32(const float* x, float* out, int64_t n);
bool log_f32(const float* x, float* out, int64_t n);
bool tanh_f32(const float* x, float* out, int64_t n);
bool sigmoid_f32(const float* x, float* out, int64_t n);
bool erf_f32(const float* x, float* out, int64_t n);
// x·Φ(x) (exact GELU) and its tanh approximation.
bool gelu_f32(const float* x, float* out, int64_t n);
bool gelu_tanh_f32(const float* x, float* out, int64_t n);
// out = g·gelu′(x), g·gelu_tanh′(x).
bool gelu_grad_f32(const float* x, const float* g, float* out, int64_t n);
bool gelu_tanh_grad_f32(const float* x, const float* g, float* out, int64_t n);

// The instruction set in use: "avx512", "avx2" or "scalar" (none).
const char* isa();
// Forces one ("avx512", "avx2", "scalar"; anything else picks the best the CPU has); returns the
// one in use. The default follows $NABLA_GEMM_ISA, as the GEMM does.
const char* set_isa(const char* name);

}  // namespace vmath
}  // namespace nabla
