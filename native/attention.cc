// Fused ("flash") attention, float32 and float64: FlashAttention's tiled forward with an online
// softmax and FlashAttention-2's backward (Dao et al., 2022; Dao, 2023), the same algorithm and
// contract as the reference kernels in src/backend/ref/attention.ts. Scores and probabilities
// exist one tile (up to 128 × 128) at a time, in per-thread scratch: nothing of size L × S is
// ever allocated.
//
// Each tile is a few small matrix products (register-blocked, vectorized over columns): forward
// S = q·kᵀ and acc += P·v; backward S, dP = dO·vᵀ, dV += Pᵀ·dO, dK += dSᵀ·q, dq += dS·k.
// Forward tasks are (batch entry, query block), independent. Backward tasks are batch entries,
// each sweeping key blocks (outer) and query blocks (inner) with a per-thread dq accumulator, so
// no two threads write the same gradient row. The hot loops are compiled twice, portable and
// AVX2+FMA, and chosen at run time.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention.h"
#include "common.h"
#include "pool.h"
#include "vmath.h"

namespace nabla {

namespace {

// Forward tiles: kFQ query rows (whose keys and values are streamed once per block) × kFK keys.
constexpr int64_t kFQ = 128;
constexpr int64_t kFK = 64;
// Backward tiles: kBQ queries × kBK keys (the q, dO and dq rows are streamed once per key block).
constexpr int64_t kBQ = 32;
constexpr int64_t kBK = 128;
constexpr int64_t kMaxTileCols = kFK > kBK ? kFK : kBK;

// The AVX2 copies need GCC/Clang function targets (as gemm.cc); elsewhere only the portable one.
#if !defined(NABLA_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#define ATTN_X86 1
#define TGT_AVX2 __attribute__((target("avx2,fma")))
#endif
#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define ALWAYS_INLINE __forceinline
#else
#define ALWAYS_INLINE inline
#endif

// Element offset of batch entry b of view v (its dims before the last two).
int64_t batch_offset(const View& v, int64_t b) {
  int64_t off = v.offset;
  for (int d = v.ndim - 3; d >= 0; d--) {
    const int64_t n = v.shape[d];
    off += (b % n) * v.strides[d];
    b /= n;
  }
  return off;
}

template <typename T>
struct Tensors {
  const T* q;
  const T* k;
  const T* v;
  const uint8_t* allowed;
  const T* bias;
  T* out;
  T* lse;
  const T* dout;
  T* dq;
  T* dk;
  T* dv;
};

template <typename T>
Tensors<T> tensors(const AttnArgs& a) {
  Tensors<T> t{};
  t.q = static_cast<const T*>(a.q->data);
  t.k = static_cast<const T*>(a.k->data);
  t.v = static_cast<const T*>(a.v->data);
  t.allowed = a.allowed ? static_cast<const uint8_t*>(a.allowed->data) : nullptr;
  t.bias = a.bias ? static_cast<const T*>(a.bias->data) : nullptr;
  t.out = static_cast<T*>(a.out->data);
  t.lse = static_cast<T*>(a.lse->data);
  if (a.dout) {
    t.dout = static_cast<const T*>(a.dout->data);
    t.dq = static_cast<T*>(a.dq->data);
    t.dk = static_cast<T*>(a.dk->data);
    t.dv = static_cast<T*>(a.dv->data);
  }
  return t;
}

template <typename T>
ALWAYS_INLINE T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t e = 0; e < n; e++) s += a[e] * b[e];
  return s;
}

// The masking of one batch entry: score (i, j) is visible iff j <= i + causal and allowed.
template <typename T>
struct Mask {
  const uint8_t* allowed;
  int64_t aRow, aCol;
  const T* bias;
  int64_t bRow, bCol;
  double causal;
};

template <typename T>
Mask<T> mask_of(const AttnArgs& a, const Tensors<T>& t, int64_t b) {
  Mask<T> m{};
  if (t.allowed) {
    const View& v = *a.allowed;
    m.allowed = t.allowed + batch_offset(v, b);
    m.aRow = v.strides[v.ndim - 2];
    m.aCol = v.strides[v.ndim - 1];
  }
  if (t.bias) {
    const View& v = *a.bias;
    m.bias = t.bias + batch_offset(v, b);
    m.bRow = v.strides[v.ndim - 2];
    m.bCol = v.strides[v.ndim - 1];
  }
  m.causal = a.causal;
  return m;
}

// p[c] = exp(s[c] − shift) for c < n (n <= kMaxTileCols), exactly 0 where s is -inf; p may alias s.
template <typename T>
ALWAYS_INLINE void exp_row(const T* s, T shift, T* p, int64_t n) {
  uint8_t dead[kMaxTileCols];
  for (int64_t c = 0; c < n; c++) {
    dead[c] = s[c] == -std::numeric_limits<T>::infinity();
    p[c] = s[c] - shift;
  }
  bool vec = false;
  if constexpr (sizeof(T) == 4) vec = vmath::exp_f32(p, p, n);
  if (!vec) {
    for (int64_t c = 0; c < n; c++) p[c] = std::exp(p[c]);
  }
  for (int64_t c = 0; c < n; c++) {
    if (dead[c]) p[c] = 0;
  }
}

struct Dims {
  int64_t L, S, E, Ev;
};

Dims dims_of(const AttnArgs& a) {
  const int nd = a.q->ndim;
  return {a.q->shape[nd - 2], a.k->shape[nd - 2], a.q->shape[nd - 1], a.v->shape[nd - 1]};
}

// C (M × N, row stride ldc) += A (M × K, lda) · B (K × N, ldb), all row-major. Register-blocked
// 4 rows × NR columns, the columns vectorized: each loaded row of B feeds four rows of C.
template <typename T>
ALWAYS_INLINE void gemm_acc(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
                            int64_t ldb, T* C, int64_t ldc) {
  constexpr int NR = 64 / sizeof(T);  // two AVX2 vectors
  int64_t i = 0;
  for (; i + 4 <= M; i += 4) {
    const T* a0 = A + i * lda;
    const T* a1 = a0 + lda;
    const T* a2 = a1 + lda;
    const T* a3 = a2 + lda;
    int64_t j = 0;
    for (; j + NR <= N; j += NR) {
      T c0[NR], c1[NR], c2[NR], c3[NR];
      for (int x = 0; x < NR; x++) {
        c0[x] = C[i * ldc + j + x];
        c1[x] = C[(i + 1) * ldc + j + x];
        c2[x] = C[(i + 2) * ldc + j + x];
        c3[x] = C[(i + 3) * ldc + j + x];
      }
      for (int64_t k = 0; k < K; k++) {
        const T* b = B + k * ldb + j;
        const T x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
#pragma omp simd
        for (int x = 0; x < NR; x++) {
          c0[x] += x0 * b[x];
          c1[x] += x1 * b[x];
          c2[x] += x2 * b[x];
          c3[x] += x3 * b[x];
        }
      }
      for (int x = 0; x < NR; x++) {
        C[i * ldc + j + x] = c0[x];
        C[(i + 1) * ldc + j + x] = c1[x];
        C[(i + 2) * ldc + j + x] = c2[x];
        C[(i + 3) * ldc + j + x] = c3[x];
      }
    }
    for (int64_t r = i; r < i + 4; r++) {
      for (int64_t k = 0; k < K; k++) {
        const T x = A[r * lda + k];
        for (int64_t c = j; c < N; c++) C[r * ldc + c] += x * B[k * ldb + c];
      }
    }
  }
  for (; i < M; i++) {
    for (int64_t k = 0; k < K; k++) {
      const T x = A[i * lda + k];
      const T* b = B + k * ldb;
#pragma omp simd
      for (int64_t c = 0; c < N; c++) C[i * ldc + c] += x * b[c];
    }
  }
}

// dst (C × R, row stride ld) = transpose of src (R × C, row stride lds).
template <typename T>
ALWAYS_INLINE void transpose(const T* src, int64_t lds, int64_t R, int64_t C, T* dst, int64_t ld) {
  for (int64_t r = 0; r < R; r++) {
    for (int64_t c = 0; c < C; c++) dst[c * ld + r] = src[r * lds + c];
  }
}

// Scores tile s (nr × nc, row stride ld) = qs rows [i0, i0+nr) · kt (E × ld), then the masks:
// -inf where invisible, + bias elsewhere.
template <typename T>
ALWAYS_INLINE void score_tile(const T* qs, int64_t E, const T* kt, int64_t i0, int64_t nr,
                              int64_t j0, int64_t nc, const Mask<T>& m, T* s, int64_t ld) {
  const T ninf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < nr; r++) {
    for (int64_t c = 0; c < nc; c++) s[r * ld + c] = 0;
  }
  gemm_acc(nr, nc, E, qs, E, kt, ld, s, ld);
  const bool causalFree = static_cast<double>(j0 + nc - 1) <= static_cast<double>(i0) + m.causal;
  if (causalFree && !m.allowed && !m.bias) return;
  for (int64_t r = 0; r < nr; r++) {
    const int64_t i = i0 + r;
    T* sr = s + r * ld;
    for (int64_t c = 0; c < nc; c++) {
      const int64_t j = j0 + c;
      if ((!causalFree && static_cast<double>(j) > static_cast<double>(i) + m.causal) ||
          (m.allowed && m.allowed[i * m.aRow + j * m.aCol] == 0)) {
        sr[c] = ninf;
      } else if (m.bias) {
        sr[c] += m.bias[i * m.bRow + j * m.bCol];
      }
    }
  }
}

// Packs rows [j0, j0+nc) of a (·, E) matrix with row stride ld, transposed, into t (E × ldt).
template <typename T>
ALWAYS_INLINE void pack_t(const T* X, int64_t ld, int64_t j0, int64_t nc, int64_t E, T* t,
                          int64_t ldt) {
  for (int64_t c = 0; c < nc; c++) {
    const T* x = X + (j0 + c) * ld;
    for (int64_t e = 0; e < E; e++) t[e * ldt + c] = x[e];
  }
}

// One forward task: batch entry b, query rows [i0, i1).
template <typename T>
ALWAYS_INLINE void forward_task(const AttnArgs& a, const Tensors<T>& t, const Dims& d, int64_t b,
                                int64_t i0, T* scratch) {
  const int64_t i1 = std::min(d.L, i0 + kFQ);
  const int64_t nr = i1 - i0;
  const int nd = a.q->ndim;
  const T* Q = t.q + batch_offset(*a.q, b);
  const T* K = t.k + batch_offset(*a.k, b);
  const T* V = t.v + batch_offset(*a.v, b);
  const int64_t qRow = a.q->strides[nd - 2], kRow = a.k->strides[nd - 2],
                vRow = a.v->strides[nd - 2];
  const Mask<T> m = mask_of(a, t, b);
  T* qs = scratch;          // kFQ × E, scaled query rows
  T* acc = qs + kFQ * d.E;  // kFQ × Ev
  T* kt = acc + kFQ * d.Ev; // E × kFK
  T* s = kt + d.E * kFK;    // kFQ × kFK
  T* rowMax = s + kFQ * kFK;  // kFQ
  T* rowSum = rowMax + kFQ;   // kFQ
  const T scale = static_cast<T>(a.scale);
  const T ninf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < nr; r++) {
    const T* src = Q + (i0 + r) * qRow;
    for (int64_t e = 0; e < d.E; e++) qs[r * d.E + e] = src[e] * scale;
    for (int64_t c = 0; c < d.Ev; c++) acc[r * d.Ev + c] = 0;
    rowMax[r] = ninf;
    rowSum[r] = 0;
  }
  for (int64_t j0 = 0; j0 < d.S; j0 += kFK) {
    if (static_cast<double>(j0) > static_cast<double>(i1 - 1) + m.causal) break;
    const int64_t nc = std::min(d.S, j0 + kFK) - j0;
    pack_t(K, kRow, j0, nc, d.E, kt, kFK);
    score_tile(qs, d.E, kt, i0, nr, j0, nc, m, s, kFK);
    for (int64_t r = 0; r < nr; r++) {
      T* sr = s + r * kFK;
      T mb = ninf;
      for (int64_t c = 0; c < nc; c++) mb = std::max(mb, sr[c]);
      if (mb == ninf) {  // nothing visible in this tile: contributes nothing
        for (int64_t c = 0; c < nc; c++) sr[c] = 0;
        continue;
      }
      // Online softmax: rescale what was accumulated under the old maximum.
      const T mOld = rowMax[r];
      const T mNew = std::max(mb, mOld);
      if (mNew != mOld) {
        const T alpha = std::exp(mOld - mNew);  // 0 when mOld = -inf
        rowSum[r] *= alpha;
        T* ar = acc + r * d.Ev;
        for (int64_t c = 0; c < d.Ev; c++) ar[c] *= alpha;
        rowMax[r] = mNew;
      }
      exp_row(sr, mNew, sr, nc);
      T l = 0;
      for (int64_t c = 0; c < nc; c++) l += sr[c];
      rowSum[r] += l;
    }
    gemm_acc(nr, d.Ev, nc, s, kFK, V + j0 * vRow, vRow, acc, d.Ev);
  }
  T* O = t.out + b * d.L * d.Ev;
  T* lse = t.lse + b * d.L;
  for (int64_t r = 0; r < nr; r++) {
    const int64_t i = i0 + r;
    const T l = rowSum[r];
    if (l == 0) {
      for (int64_t c = 0; c < d.Ev; c++) O[i * d.Ev + c] = 0;
      lse[i] = ninf;
    } else {
      const T inv = 1 / l;
      for (int64_t c = 0; c < d.Ev; c++) O[i * d.Ev + c] = acc[r * d.Ev + c] * inv;
      lse[i] = rowMax[r] + std::log(l);
    }
  }
}

// Scratch elements of one forward task.
int64_t forward_scratch(const Dims& d) {
  return kFQ * d.E + kFQ * d.Ev + d.E * kFK + kFQ * kFK + 2 * kFQ;
}

// One backward task: every gradient of batch entry b, tile by tile (FlashAttention-2).
template <typename T>
ALWAYS_INLINE void backward_task(const AttnArgs& a, const Tensors<T>& t, const Dims& d, int64_t b,
                                 T* scratch) {
  const int nd = a.q->ndim;
  const T* Q = t.q + batch_offset(*a.q, b);
  const T* K = t.k + batch_offset(*a.k, b);
  const T* V = t.v + batch_offset(*a.v, b);
  const T* O = t.out + batch_offset(*a.out, b);
  const T* G = t.dout + batch_offset(*a.dout, b);
  const int64_t qRow = a.q->strides[nd - 2], kRow = a.k->strides[nd - 2],
                vRow = a.v->strides[nd - 2], oRow = a.out->strides[nd - 2],
                gRow = a.dout->strides[nd - 2];
  const T* lse = t.lse + b * d.L;
  const Mask<T> m = mask_of(a, t, b);
  T* qs = scratch;            // L × E, scaled query rows
  T* dqa = qs + d.L * d.E;    // L × E, dq / scale
  T* Di = dqa + d.L * d.E;    // L
  T* kt = Di + d.L;           // E × kBK
  T* vt = kt + d.E * kBK;     // Ev × kBK
  T* p = vt + d.Ev * kBK;     // kBQ × kBK: probabilities
  T* ds = p + kBQ * kBK;      // kBQ × kBK: dP, then dS
  T* tr = ds + kBQ * kBK;     // kBK × kBQ: a transposed tile
  const T scale = static_cast<T>(a.scale);
  const T ninf = -std::numeric_limits<T>::infinity();
  T* dK = t.dk + b * d.S * d.E;
  T* dV = t.dv + b * d.S * d.Ev;
  for (int64_t i = 0; i < d.L; i++) {
    for (int64_t e = 0; e < d.E; e++) {
      qs[i * d.E + e] = Q[i * qRow + e] * scale;
      dqa[i * d.E + e] = 0;
    }
    // D_i = rowsum(dO ∘ O), the softmax backward's correction term.
    Di[i] = dot(G + i * gRow, O + i * oRow, d.Ev);
  }
  for (int64_t j = 0; j < d.S * d.E; j++) dK[j] = 0;
  for (int64_t j = 0; j < d.S * d.Ev; j++) dV[j] = 0;
  for (int64_t j0 = 0; j0 < d.S; j0 += kBK) {
    const int64_t nc = std::min(d.S, j0 + kBK) - j0;
    // Queries that can see this key block: i >= j0 − causal.
    int64_t iStart = 0;
    if (m.causal != std::numeric_limits<double>::infinity()) {
      const double lo = std::ceil(static_cast<double>(j0) - m.causal);
      iStart = lo > 0 ? std::min<int64_t>(d.L, static_cast<int64_t>(lo)) : 0;
    }
    if (iStart >= d.L) continue;
    pack_t(K, kRow, j0, nc, d.E, kt, kBK);
    pack_t(V, vRow, j0, nc, d.Ev, vt, kBK);
    for (int64_t i0 = iStart / kBQ * kBQ; i0 < d.L; i0 += kBQ) {
      const int64_t nr = std::min(d.L, i0 + kBQ) - i0;
      score_tile(qs + i0 * d.E, d.E, kt, i0, nr, j0, nc, m, p, kBK);
      bool any = false;
      for (int64_t r = 0; r < nr; r++) {
        T* pr = p + r * kBK;
        const T li = lse[i0 + r];
        if (li == ninf) {  // fully masked row: no gradient
          for (int64_t c = 0; c < nc; c++) pr[c] = 0;
          continue;
        }
        exp_row(pr, li, pr, nc);
        any = true;
      }
      if (!any) continue;
      // dP = dO · Vᵀ, then dS = P ∘ (dP − D).
      for (int64_t r = 0; r < nr; r++) {
        for (int64_t c = 0; c < nc; c++) ds[r * kBK + c] = 0;
      }
      gemm_acc(nr, nc, d.Ev, G + i0 * gRow, gRow, vt, kBK, ds, kBK);
      for (int64_t r = 0; r < nr; r++) {
        const T di = Di[i0 + r];
        for (int64_t c = 0; c < nc; c++) ds[r * kBK + c] = p[r * kBK + c] * (ds[r * kBK + c] - di);
      }
      // dV += Pᵀ · dO;  dK += dSᵀ · (q·scale);  dq/scale += dS · K.
      transpose(p, kBK, nr, nc, tr, kBQ);
      gemm_acc(nc, d.Ev, nr, tr, kBQ, G + i0 * gRow, gRow, dV + j0 * d.Ev, d.Ev);
      transpose(ds, kBK, nr, nc, tr, kBQ);
      gemm_acc(nc, d.E, nr, tr, kBQ, qs + i0 * d.E, d.E, dK + j0 * d.E, d.E);
      gemm_acc(nr, d.E, nc, ds, kBK, K + j0 * kRow, kRow, dqa + i0 * d.E, d.E);
    }
  }
  T* dQ = t.dq + b * d.L * d.E;
  for (int64_t j = 0; j < d.L * d.E; j++) dQ[j] = dqa[j] * scale;
}

// Scratch elements of one backward task.
int64_t backward_scratch(const Dims& d) {
  return 2 * d.L * d.E + d.L + (d.E + d.Ev) * kBK + 3 * kBQ * kBK;
}

// The task bodies, compiled portable and AVX2+FMA.
template <typename T>
void fwd_plain(const AttnArgs& a, const Tensors<T>& t, const Dims& d, int64_t b, int64_t i0,
               T* s) {
  forward_task<T>(a, t, d, b, i0, s);
}
template <typename T>
void bwd_plain(const AttnArgs& a, const Tensors<T>& t, const Dims& d, int64_t b, T* s) {
  backward_task<T>(a, t, d, b, s);
}
#ifdef ATTN_X86
template <typename T>
TGT_AVX2 void fwd_avx2(const AttnArgs& a, const Tensors<T>& t, const Dims& d, int64_t b,
                       int64_t i0, T* s) {
  forward_task<T>(a, t, d, b, i0, s);
}
template <typename T>
TGT_AVX2 void bwd_avx2(const AttnArgs& a, const Tensors<T>& t, const Dims& d, int64_t b, T* s) {
  backward_task<T>(a, t, d, b, s);
}
#endif

bool use_avx2() {
#ifdef ATTN_X86
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  }();
  return ok;
#else
  return false;
#endif
}

int64_t batch_count(const View& v) {
  int64_t n = 1;
  for (int d = 0; d < v.ndim - 2; d++) n *= v.shape[d];
  return n;
}

template <typename T>
void forward(const AttnArgs& a) {
  const Tensors<T> t = tensors<T>(a);
  const Dims d = dims_of(a);
  const int64_t B = batch_count(*a.q);
  const int64_t blocks = (d.L + kFQ - 1) / kFQ;
  const int threads = num_threads();
  const int64_t per = forward_scratch(d);
  std::vector<T> scratch(static_cast<size_t>(per) * threads);
  const bool avx2 = use_avx2();
  parallel_for(B * blocks, [&](int64_t task, int th) {
    T* s = scratch.data() + per * th;
    const int64_t b = task / blocks, i0 = (task % blocks) * kFQ;
#ifdef ATTN_X86
    if (avx2) return fwd_avx2<T>(a, t, d, b, i0, s);
#endif
    (void)avx2;
    fwd_plain<T>(a, t, d, b, i0, s);
  });
}

template <typename T>
void backward(const AttnArgs& a) {
  const Tensors<T> t = tensors<T>(a);
  const Dims d = dims_of(a);
  const int64_t B = batch_count(*a.q);
  const int threads = num_threads();
  const int64_t per = backward_scratch(d);
  std::vector<T> scratch(static_cast<size_t>(per) * threads);
  const bool avx2 = use_avx2();
  parallel_for(B, [&](int64_t b, int th) {
    T* s = scratch.data() + per * th;
#ifdef ATTN_X86
    if (avx2) return bwd_avx2<T>(a, t, d, b, s);
#endif
    (void)avx2;
    bwd_plain<T>(a, t, d, b, s);
  });
}

// Row-major from element 0 (size-1 dims may have any stride).
bool dense(const View& v) {
  if (v.offset != 0) return false;
  int64_t expected = 1;
  for (int d = v.ndim - 1; d >= 0; d--) {
    if (v.shape[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

// Inner (feature) dims must be contiguous and the outputs dense; masks and batch dims may have
// any strides (stride 0 for broadcasting). Other layouts go to the reference kernel.
bool supported(const AttnArgs& a) {
  const DT dt = a.q->dt;
  if (dt != DT::F32 && dt != DT::F64) return false;
  const View* same[] = {a.k, a.v, a.out, a.lse, a.dout, a.dq, a.dk, a.dv, a.bias};
  for (const View* v : same) {
    if (v && v->dt != dt) return false;
  }
  if (a.allowed && a.allowed->dt != DT::U8) return false;
  const View* rows[] = {a.q, a.k, a.v, a.out, a.dout};
  for (const View* v : rows) {
    if (v && v->shape[v->ndim - 1] > 1 && v->strides[v->ndim - 1] != 1) return false;
  }
  // The kernels write the outputs as dense row-major arrays from element 0.
  const View* outs[] = {a.out, a.lse, a.dq, a.dk, a.dv};
  for (const View* v : outs) {
    if (v && !dense(*v)) return false;
  }
  return true;
}

}  // namespace

bool k_attention_forward(const AttnArgs& a) {
  if (!supported(a)) return false;
  if (a.q->dt == DT::F32) {
    forward<float>(a);
  } else {
    forward<double>(a);
  }
  return true;
}

bool k_attention_backward(const AttnArgs& a) {
  if (!supported(a)) return false;
  if (a.q->dt == DT::F32) {
    backward<float>(a);
  } else {
    backward<double>(a);
  }
  return true;
}

}  // namespace nabla
