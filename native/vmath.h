// Vectorized float32 math for contiguous runs (vmath.cc): each returns false when no SIMD
// implementation is available on this CPU, and the caller falls back to the scalar libm loop.
#pragma once

#include <cstdint>

namespace nabla {
namespace vmath {

bool exp_f32(const float* x, float* out, int64_t n);
bool log_f32(const float* x, float* out, int64_t n);
bool tanh_f32(const float* x, float* out, int64_t n);
bool sigmoid_f32(const float* x, float* out, int64_t n);

}  // namespace vmath
}  // namespace nabla
