// Shared definitions for nabla's native kernels: dtypes, view descriptors, casts with the
// reference backend's semantics (src/backend/ref), and the strided row iterator.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace nabla {

// Element types, as the typed arrays behind a RefStorage hold them (bool is one byte, 0 or 1).
enum class DT : int { F32 = 0, F64 = 1, I32 = 2, U8 = 3 };

constexpr int kMaxDims = 32;

// A strided window on a typed array: element (i0, i1, ...) lives at offset + Σ i_d·strides[d].
struct View {
  void* data = nullptr;
  DT dt = DT::F32;
  int ndim = 0;
  int64_t offset = 0;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
  }
};

// ---- Casts (the reference backend's storeCast) --------------------------------------------------

// JavaScript's ToInt32 of Math.trunc(x), with non-finite values giving 0 (what an Int32Array
// store of the reference backend's cast produces).
inline int32_t to_int32(double x) {
  if (!std::isfinite(x)) return 0;
  double t = std::trunc(x);
  if (t >= -2147483648.0 && t <= 2147483647.0) return static_cast<int32_t>(t);
  double m = std::fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}

template <typename U>
struct Store {
  template <typename V>
  static inline U cast(V v) {
    return static_cast<U>(v);
  }
};
template <>
struct Store<int32_t> {
  static inline int32_t cast(int32_t v) { return v; }
  static inline int32_t cast(uint8_t v) { return v; }
  static inline int32_t cast(float v) { return to_int32(v); }
  static inline int32_t cast(double v) { return to_int32(v); }
};
template <>
struct Store<uint8_t> {
  // NaN is truthy, as in PyTorch (x != 0 holds for NaN).
  template <typename V>
  static inline uint8_t cast(V v) {
    return v != 0 ? 1 : 0;
  }
};

// ---- Coalesced strided iteration ----------------------------------------------------------------

// The iteration space of K operands sharing one shape, with size-1 dims dropped and dims that are
// adjacent in memory for every operand merged (as the reference backend's coalesce()).
template <int K>
struct Plan {
  int nd = 0;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];
  bool empty = false;

  int64_t rows() const {
    int64_t r = 1;
    for (int d = 0; d < nd - 1; d++) r *= shape[d];
    return r;
  }
  int64_t inner() const { return shape[nd - 1]; }
};

template <int K>
Plan<K> make_plan(int ndim, const int64_t* shape, const int64_t* const strides[K]) {
  Plan<K> p;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0) p.empty = true;
  }
  for (int d = 0; d < ndim; d++) {
    const int64_t n = shape[d];
    if (n == 1) continue;
    const int last = p.nd - 1;
    if (last >= 0) {
      bool merge = true;
      for (int k = 0; k < K; k++) {
        if (p.strides[k][last] != strides[k][d] * n) {
          merge = false;
          break;
        }
      }
      if (merge) {
        p.shape[last] *= n;
        for (int k = 0; k < K; k++) p.strides[k][last] = strides[k][d];
        continue;
      }
    }
    p.shape[p.nd] = n;
    for (int k = 0; k < K; k++) p.strides[k][p.nd] = strides[k][d];
    p.nd++;
  }
  if (p.nd == 0) {
    p.shape[0] = 1;
    for (int k = 0; k < K; k++) p.strides[k][0] = 1;
    p.nd = 1;
  }
  return p;
}

// Offsets of every operand at the start of outer row `r` (row-major over the outer dims).
template <int K>
inline void row_offsets(const Plan<K>& p, const int64_t* base, int64_t r, int64_t* offs) {
  for (int k = 0; k < K; k++) offs[k] = base[k];
  for (int d = p.nd - 2; d >= 0; d--) {
    const int64_t i = r % p.shape[d];
    r /= p.shape[d];
    for (int k = 0; k < K; k++) offs[k] += i * p.strides[k][d];
  }
}

// Calls f(offs, n, inner) for the part [e0, e1) of the flattened iteration space, split at row
// boundaries: offs[k] is operand k's offset of the first element of each piece, inner[k] its
// stride along the innermost dim.
template <int K, typename F>
void for_range(const Plan<K>& p, const int64_t* base, int64_t e0, int64_t e1, F&& f) {
  if (p.empty || e0 >= e1) return;
  const int nd = p.nd;
  const int64_t n = p.shape[nd - 1];
  int64_t inner[K];
  for (int k = 0; k < K; k++) inner[k] = p.strides[k][nd - 1];
  int64_t r = e0 / n;
  int64_t j = e0 % n;
  int64_t idx[kMaxDims];
  {
    int64_t rr = r;
    for (int d = nd - 2; d >= 0; d--) {
      idx[d] = rr % p.shape[d];
      rr /= p.shape[d];
    }
  }
  int64_t rowoff[K];
  for (int k = 0; k < K; k++) {
    int64_t o = base[k];
    for (int d = 0; d < nd - 1; d++) o += idx[d] * p.strides[k][d];
    rowoff[k] = o;
  }
  int64_t e = e0;
  while (e < e1) {
    const int64_t len = (n - j < e1 - e) ? n - j : e1 - e;
    int64_t offs[K];
    for (int k = 0; k < K; k++) offs[k] = rowoff[k] + j * inner[k];
    f(offs, len, inner);
    e += len;
    j = 0;
    if (e >= e1) break;
    // Odometer over the outer dims.
    for (int d = nd - 2; d >= 0; d--) {
      idx[d]++;
      for (int k = 0; k < K; k++) rowoff[k] += p.strides[k][d];
      if (idx[d] < p.shape[d]) break;
      for (int k = 0; k < K; k++) rowoff[k] -= idx[d] * p.strides[k][d];
      idx[d] = 0;
    }
  }
}

}  // namespace nabla
