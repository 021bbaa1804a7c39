// Batched GEMM, C(Bt, M, N) = A(Bt, M, K) · B(Bt, K, N), after the BLIS scheme (Goto & van de
// Geijn 2008; Van Zee & van de Geijn 2015): blocks of B (KC × NC) and A (MC × KC) are packed into
// contiguous micro-panels, reading any strides, so transposed operands and stride-0 (broadcast)
// batches cost only the packing; an MR × NR register-blocked micro-kernel streams the panels.
// Micro-kernels: AVX-512F and AVX2+FMA (chosen at run time from the CPU's features), and a portable
// one the compiler vectorizes for the baseline instruction set. Threads split the batch and the
// rows/columns of C into independent tiles, each packing its own panels. Products of few rows (a
// recurrent step's h·W or h·Wᵀ) skip the packing of the large operand (see kUnpackedBPanels).
// Every element of C is the same sum in the same order whatever the path and thread count.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"
#include "pool.h"
#include "vmath.h"

#if !defined(NABLA_NO_SIMD) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
#define NABLA_X86_SIMD 1
#include <immintrin.h>
#define TGT_AVX2 __attribute__((target("avx2,fma")))
#define TGT_AVX512 __attribute__((target("avx512f")))
#else
#define NABLA_X86_SIMD 0
#endif

#if defined(__clang__)
#define NABLA_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define NABLA_UNROLL _Pragma("GCC unroll 32")
#else
#define NABLA_UNROLL
#endif

namespace nabla {

namespace {

// ---- Scratch memory: 64-byte aligned, per thread, grown on demand -------------------------------

void* aligned_alloc64(size_t bytes) {
#if defined(_MSC_VER)
  return _aligned_malloc(bytes, 64);
#else
  void* p = nullptr;
  if (posix_memalign(&p, 64, bytes) != 0) return nullptr;
  return p;
#endif
}

void aligned_free64(void* p) {
#if defined(_MSC_VER)
  _aligned_free(p);
#else
  free(p);
#endif
}

struct ScratchBuf {
  void* p = nullptr;
  size_t cap = 0;
  ~ScratchBuf() { aligned_free64(p); }
  void* get(size_t bytes) {
    if (bytes > cap) {
      aligned_free64(p);
      cap = bytes + 4096;
      p = aligned_alloc64(cap);
      if (p == nullptr) std::abort();
    }
    return p;
  }
};

template <typename T>
T* scratch(int which, size_t count) {
  thread_local ScratchBuf bufs[2];
  return static_cast<T*>(bufs[which].get(count * sizeof(T)));
}

// ---- Packing ----------------------------------------------------------------------------------

// Packs an mc × kc block of A (element (i, k) at A[i·sm + k·sk]) into row micro-panels of MR:
// panel p holds rows p·MR.. as [k][r], zero-padded past mc.
template <typename T, int MR>
void pack_a(const T* A, int64_t sm, int64_t sk, int64_t mc, int64_t kc, T* dst) {
  for (int64_t i = 0; i < mc; i += MR, dst += MR * kc) {
    const int64_t rows = std::min<int64_t>(MR, mc - i);
    const T* a = A + i * sm;
    if (rows == MR && sm == 1) {
      for (int64_t k = 0; k < kc; k++) {
        const T* s = a + k * sk;
        NABLA_UNROLL for (int r = 0; r < MR; r++) dst[k * MR + r] = s[r];
      }
    } else if (rows == MR) {
      const T* s[MR];
      for (int r = 0; r < MR; r++) s[r] = a + r * sm;
      if (sk == 1) {
        for (int64_t k = 0; k < kc; k++) {
          NABLA_UNROLL for (int r = 0; r < MR; r++) dst[k * MR + r] = s[r][k];
        }
      } else {
        for (int64_t k = 0; k < kc; k++) {
          NABLA_UNROLL for (int r = 0; r < MR; r++) dst[k * MR + r] = s[r][k * sk];
        }
      }
    } else {
      for (int64_t k = 0; k < kc; k++) {
        for (int r = 0; r < MR; r++) dst[k * MR + r] = r < rows ? a[r * sm + k * sk] : T(0);
      }
    }
  }
}

// Packs a kc × nc block of B (element (k, j) at B[k·sk + j·sn]) into column micro-panels of NR:
// panel q holds columns q·NR.. as [k][c], zero-padded past nc.
template <typename T, int NR>
void pack_b(const T* B, int64_t sk, int64_t sn, int64_t kc, int64_t nc, T* dst) {
  for (int64_t j = 0; j < nc; j += NR, dst += NR * kc) {
    const int64_t cols = std::min<int64_t>(NR, nc - j);
    const T* b = B + j * sn;
    if (cols == NR && sn == 1) {
      for (int64_t k = 0; k < kc; k++) {
        const T* s = b + k * sk;
        NABLA_UNROLL for (int c = 0; c < NR; c++) dst[k * NR + c] = s[c];
      }
    } else if (cols == NR && sk == 1) {
      // Transposed B (stored N × K): gather NR rows of the stored matrix, in blocks of 8 k so that
      // every source line is used before it leaves the cache.
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        for (int c = 0; c < NR; c++) {
          const T* s = b + c * sn + k;
          NABLA_UNROLL for (int q = 0; q < 8; q++) dst[(k + q) * NR + c] = s[q];
        }
      }
      for (; k < kc; k++) {
        for (int c = 0; c < NR; c++) dst[k * NR + c] = b[c * sn + k];
      }
    } else {
      for (int64_t k = 0; k < kc; k++) {
        for (int c = 0; c < NR; c++) dst[k * NR + c] = c < cols ? b[k * sk + c * sn] : T(0);
      }
    }
  }
}

// ---- Micro-kernels: C[MR × NR] (+)= Apanel · Bpanel over kc -----------------------------------
//
// B's row k starts at B + k·ldb (a packed panel: ldb = NR; or, unpacked, a row of a matrix that is
// contiguous along N). A is a packed panel, element (r, k) at A[k·MR + r], or (UA, "unpacked A")
// a block of a matrix that is contiguous along K, element (r, k) at A[r·lda + k]. Either way every
// C element is the same sum in the same order, so that the layout never changes the result.

template <typename T, int MR, int NR, bool UA>
void ukr_portable(int64_t kc, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
                  int acc) {
  T c[MR][NR];
  for (int i = 0; i < MR; i++) {
    for (int j = 0; j < NR; j++) c[i][j] = 0;
  }
  for (int64_t k = 0; k < kc; k++, B += ldb) {
    NABLA_UNROLL for (int i = 0; i < MR; i++) {
      const T a = UA ? A[i * lda + k] : A[k * MR + i];
      NABLA_UNROLL for (int j = 0; j < NR; j++) c[i][j] += a * B[j];
    }
  }
  for (int i = 0; i < MR; i++) {
    T* p = C + i * ldc;
    if (acc) {
      for (int j = 0; j < NR; j++) p[j] += c[i][j];
    } else {
      for (int j = 0; j < NR; j++) p[j] = c[i][j];
    }
  }
}

#if NABLA_X86_SIMD

// One SIMD micro-kernel per (instruction set, element type): VEC the register type, LANES its
// width, ZERO/LOADU/STOREU/ADD/FMA/BCAST its operations.
#define NABLA_UKR(NAME, TGT, T, VEC, LANES, ZERO, LOADU, STOREU, ADD, FMA, BCAST)                 \
  template <int MR, int NV, bool UA>                                                          \
  TGT void NAME(int64_t kc, const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc, \
                int acc) {                                                                    \
    VEC c[MR][NV];                                                                            \
    NABLA_UNROLL for (int i = 0; i < MR; i++) {                                               \
      _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);                  \
      NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = ZERO();                             \
    }                                                                                         \
    if constexpr (UA) {                                                                       \
      const T* a[MR];                                                                         \
      NABLA_UNROLL for (int i = 0; i < MR; i++) a[i] = A + i * lda;                           \
      for (int64_t k = 0; k < kc; k++, B += ldb) {                                            \
        VEC b[NV];                                                                            \
        NABLA_UNROLL for (int j = 0; j < NV; j++) b[j] = LOADU(B + LANES * j);                \
        NABLA_UNROLL for (int i = 0; i < MR; i++) {                                           \
          const VEC x = BCAST(a[i] + k);                                                      \
          NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = FMA(x, b[j], c[i][j]);          \
        }                                                                                     \
      }                                                                                       \
    } else {                                                                                  \
      for (int64_t k = 0; k < kc; k++, A += MR, B += ldb) {                                   \
        VEC b[NV];                                                                            \
        NABLA_UNROLL for (int j = 0; j < NV; j++) b[j] = LOADU(B + LANES * j);                \
        NABLA_UNROLL for (int i = 0; i < MR; i++) {                                           \
          const VEC x = BCAST(A + i);                                                         \
          NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = FMA(x, b[j], c[i][j]);          \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
    NABLA_UNROLL for (int i = 0; i < MR; i++) {                                               \
      NABLA_UNROLL for (int j = 0; j < NV; j++) {                                             \
        T* p = C + i * ldc + LANES * j;                                                       \
        VEC v = c[i][j];                                                                      \
        if (acc) v = ADD(v, LOADU(p));                                                        \
        STOREU(p, v);                                                                         \
      }                                                                                       \
    }                                                                                         \
  }

TGT_AVX2 inline __m256 bcast8f(const float* p) { return _mm256_broadcast_ss(p); }
TGT_AVX2 inline __m256d bcast4d(const double* p) { return _mm256_broadcast_sd(p); }
TGT_AVX512 inline __m512 bcast16f(const float* p) { return _mm512_set1_ps(*p); }
TGT_AVX512 inline __m512d bcast8d(const double* p) { return _mm512_set1_pd(*p); }

NABLA_UKR(ukr_avx2_f32, TGT_AVX2, float, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps,
          _mm256_storeu_ps, _mm256_add_ps, _mm256_fmadd_ps, bcast8f)
NABLA_UKR(ukr_avx2_f64, TGT_AVX2, double, __m256d, 4, _mm256_setzero_pd, _mm256_loadu_pd,
          _mm256_storeu_pd, _mm256_add_pd, _mm256_fmadd_pd, bcast4d)
NABLA_UKR(ukr_avx512_f32, TGT_AVX512, float, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps,
          _mm512_storeu_ps, _mm512_add_ps, _mm512_fmadd_ps, bcast16f)
NABLA_UKR(ukr_avx512_f64, TGT_AVX512, double, __m512d, 8, _mm512_setzero_pd, _mm512_loadu_pd,
          _mm512_storeu_pd, _mm512_add_pd, _mm512_fmadd_pd, bcast8d)
#undef NABLA_UKR

#endif  // NABLA_X86_SIMD

// ---- Configurations ---------------------------------------------------------------------------

template <typename T>
struct Cfg {
  const char* isa;
  int mr, nr;
  int64_t kc, mc, nc;  // block sizes (mc a multiple of mr, nc of nr)
  using Ukr = void (*)(int64_t kc, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                      int64_t ldc, int acc);
  Ukr ukr;     // A packed
  Ukr ukr_ua;  // A unpacked (contiguous along K)
  void (*pack_a)(const T* A, int64_t sm, int64_t sk, int64_t mc, int64_t kc, T* dst);
  void (*pack_b)(const T* B, int64_t sk, int64_t sn, int64_t kc, int64_t nc, T* dst);
};

template <typename T, int MR, int NR>
Cfg<T> make_cfg(const char* isa, int64_t kc, int64_t mc, int64_t nc, typename Cfg<T>::Ukr ukr,
                typename Cfg<T>::Ukr ukr_ua) {
  return Cfg<T>{isa, MR, NR, kc, mc, nc, ukr, ukr_ua, &pack_a<T, MR>, &pack_b<T, NR>};
}

const Cfg<float> kF32Portable =
    make_cfg<float, 4, 8>("scalar", 256, 128, 2048, &ukr_portable<float, 4, 8, false>,
                          &ukr_portable<float, 4, 8, true>);
const Cfg<double> kF64Portable =
    make_cfg<double, 4, 4>("scalar", 256, 128, 2048, &ukr_portable<double, 4, 4, false>,
                           &ukr_portable<double, 4, 4, true>);
#if NABLA_X86_SIMD
const Cfg<float> kF32Avx2 = make_cfg<float, 6, 16>("avx2", 256, 144, 4080, &ukr_avx2_f32<6, 2, false>,
                                                   &ukr_avx2_f32<6, 2, true>);
const Cfg<double> kF64Avx2 = make_cfg<double, 6, 8>("avx2", 256, 72, 4080, &ukr_avx2_f64<6, 2, false>,
                                                    &ukr_avx2_f64<6, 2, true>);
// Block sizes: BLIS' Haswell values for AVX2; for AVX-512 a deeper KC (fewer C round trips)
// measured best on Zen 4 (the B micro-panel then streams from L2, which keeps up at this MR).
const Cfg<float> kF32Avx512 = make_cfg<float, 12, 32>(
    "avx512", 384, 96, 4096, &ukr_avx512_f32<12, 2, false>, &ukr_avx512_f32<12, 2, true>);
const Cfg<double> kF64Avx512 = make_cfg<double, 12, 16>(
    "avx512", 384, 96, 4096, &ukr_avx512_f64<12, 2, false>, &ukr_avx512_f64<12, 2, true>);
#endif

enum class Isa { Scalar, Avx2, Avx512 };

bool cpu_has(Isa isa) {
#if NABLA_X86_SIMD
  __builtin_cpu_init();
  switch (isa) {
    case Isa::Avx512:
      return __builtin_cpu_supports("avx512f") != 0;
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
    case Isa::Scalar:
      return true;
  }
  return false;
#else
  return isa == Isa::Scalar;
#endif
}

Isa best_isa() {
  if (cpu_has(Isa::Avx512)) return Isa::Avx512;
  if (cpu_has(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa parse_isa(const char* s) {
  const std::string n = s ? s : "";
  if (n == "avx512" && cpu_has(Isa::Avx512)) return Isa::Avx512;
  if (n == "avx2" && cpu_has(Isa::Avx2)) return Isa::Avx2;
  if (n == "scalar") return Isa::Scalar;
  return best_isa();
}

Isa g_isa = parse_isa(std::getenv("NABLA_GEMM_ISA"));

template <typename T>
const Cfg<T>& cfg_for(Isa isa);
template <>
const Cfg<float>& cfg_for<float>(Isa isa) {
#if NABLA_X86_SIMD
  if (isa == Isa::Avx512) return kF32Avx512;
  if (isa == Isa::Avx2) return kF32Avx2;
#endif
  (void)isa;
  return kF32Portable;
}
template <>
const Cfg<double>& cfg_for<double>(Isa isa) {
#if NABLA_X86_SIMD
  if (isa == Isa::Avx512) return kF64Avx512;
  if (isa == Isa::Avx2) return kF64Avx2;
#endif
  (void)isa;
  return kF64Portable;
}

// ---- Drivers ----------------------------------------------------------------------------------

template <typename T>
struct Problem {
  int64_t bt, M, N, K;
  const T* A;
  int64_t sab, sam, sak;
  const T* B;
  int64_t sbb, sbk, sbn;
  T* C;
  int64_t sbc, ldc;
  bool ct = false;  // C stored transposed: element (i, j) at C[j·ldc + i]
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t m) { return ceil_div(a, m) * m; }

// Unpacked operands. Packing a panel pays off when many micro-kernel calls reuse it: a B panel is
// reused by every A panel of the tile, an A panel by every B panel. When B's rows are contiguous
// along N and the tile has at most this many A panels, the micro-kernel reads B in place; when A's
// rows are contiguous along K and the tile is one B panel wide, it reads A in place. (For the
// 32-row products of a recurrent step, packing the 1 MB weight was a third of the time.)
constexpr int64_t kUnpackedBPanels = 3;

// C[t][m0:m1, n0:n1] = A[t][m0:m1, :] · B[t][:, n0:n1], on the calling thread.
template <typename T>
void gemm_tile(const Cfg<T>& g, const Problem<T>& p, int64_t t, int64_t m0, int64_t m1, int64_t n0,
               int64_t n1) {
  const T* A = p.A + t * p.sab;
  const T* B = p.B + t * p.sbb;
  T* C = p.C + t * p.sbc;
  const int64_t ldc = p.ldc;
  // Element (i, j) of C is C[i·crs + j·ccs].
  const int64_t crs = p.ct ? 1 : ldc, ccs = p.ct ? ldc : 1;
  if (p.K == 0) {
    for (int64_t i = m0; i < m1; i++) {
      for (int64_t j = n0; j < n1; j++) C[i * crs + j * ccs] = 0;
    }
    return;
  }
  const int MR = g.mr, NR = g.nr;
  const bool ub = p.sbn == 1 && m1 - m0 <= kUnpackedBPanels * MR;
  const bool ua = p.sak == 1 && n1 - n0 <= NR;
  // Even K blocks (a last block of a few k would waste a C round trip).
  const int64_t kblocks = ceil_div(p.K, g.kc);
  const int64_t KC = round_up(ceil_div(p.K, kblocks), 4);
  const int64_t NCmax = std::min(g.nc, round_up(n1 - n0, NR));
  const int64_t MCmax = std::min(g.mc, round_up(m1 - m0, MR));
  T* pb = scratch<T>(0, static_cast<size_t>(KC * NCmax));
  T* pa = scratch<T>(1, static_cast<size_t>(KC * MCmax));
  alignas(64) T tile[16 * 32];
  for (int64_t jc = n0; jc < n1; jc += g.nc) {
    const int64_t nc = std::min(g.nc, n1 - jc);
    // Unpacked: full panels in place, a last partial one packed (zero-padded).
    const int64_t nfull = ub ? nc / NR * NR : 0;
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const int acc = pc > 0;
      const T* Bk = B + pc * p.sbk + jc * p.sbn;
      if (nfull < nc) g.pack_b(Bk + nfull * p.sbn, p.sbk, p.sbn, kc, nc - nfull, pb);
      for (int64_t ic = m0; ic < m1; ic += g.mc) {
        const int64_t mc = std::min(g.mc, m1 - ic);
        const T* Ai = A + ic * p.sam + pc * p.sak;
        const int64_t mfull = ua ? mc / MR * MR : 0;
        if (mfull < mc) g.pack_a(Ai + mfull * p.sam, p.sam, p.sak, mc - mfull, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const bool bu = jr < nfull;
          const T* bp = bu ? Bk + jr : pb + (jr - nfull) * kc;
          const int64_t ldb = bu ? p.sbk : NR;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            const bool au = ir < mfull;
            const T* ap = au ? Ai + ir * p.sam : pa + (ir - mfull) * kc;
            const auto ukr = au ? g.ukr_ua : g.ukr;
            const int64_t lda = au ? p.sam : 0;
            T* c = C + (ic + ir) * crs + (jc + jr) * ccs;
            if (mr == MR && nr == NR && !p.ct) {
              ukr(kc, ap, lda, bp, ldb, c, ldc, acc);
            } else {
              ukr(kc, ap, lda, bp, ldb, tile, NR, 0);
              for (int64_t r = 0; r < mr; r++) {
                for (int64_t q = 0; q < nr; q++) {
                  T& d = c[r * crs + q * ccs];
                  d = (acc ? d : T(0)) + tile[r * NR + q];
                }
              }
            }
          }
        }
      }
    }
  }
}

int64_t gcd(int64_t a, int64_t b) {
  while (b != 0) {
    const int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

template <typename T>
void gemm(const Problem<T>& p) {
  const Cfg<T>& g = cfg_for<T>(g_isa);
  if (p.bt == 0 || p.M == 0 || p.N == 0) return;
  // Cᵀ = Bᵀ·Aᵀ instead (written straight into C, transposed), when that shape suits the
  // micro-kernel better:
  //  - few columns (a classifier head): most of each NR-wide micro-tile would be padding, while N
  //    as the row count is padded only to MR;
  //  - few rows with a transposed B (h·Wᵀ in a recurrent step): Bᵀ = W then has rows contiguous
  //    along K, which the micro-kernel reads in place, instead of packing all of W per call.
  const bool few_cols = 2 * p.N < g.nr && p.M >= 2 * p.N;
  const bool few_rows_bt =
      p.sbk == 1 && p.sbn != 1 && p.M <= g.nr && p.N >= 4 * g.mr && p.N * p.K >= (int64_t{1} << 16);
  if (!p.ct && p.K > 0 && (few_cols || few_rows_bt)) {
    Problem<T> q;
    q.bt = p.bt;
    q.M = p.N;
    q.N = p.M;
    q.K = p.K;
    q.A = p.B;
    q.sab = p.sbb;
    q.sam = p.sbn;
    q.sak = p.sbk;
    q.B = p.A;
    q.sbb = p.sab;
    q.sbk = p.sak;
    q.sbn = p.sam;
    q.C = p.C;
    q.sbc = p.sbc;
    q.ldc = p.ldc;
    q.ct = true;
    gemm<T>(q);
    return;
  }
  const int threads = num_threads();
  const double work = static_cast<double>(p.bt) * p.M * p.N * (p.K > 0 ? p.K : 1);
  if (threads <= 1 || work < 48.0 * 48 * 48) {
    for (int64_t t = 0; t < p.bt; t++) gemm_tile(g, p, t, 0, p.M, 0, p.N);
    return;
  }
  // Split each matrix into gm × gn tiles so that bt·gm·gn tasks spread evenly over the threads:
  // one task per thread for small products; for large ones up to four, so that a thread that
  // falls behind (a busy machine) hands work to the others (each task packs its own panels,
  // which costs little at that size).
  const double per_thread = work / threads;
  const int64_t waves = per_thread >= 4.0 * 256 * 256 * 256 ? 4 : per_thread >= 256.0 * 256 * 256 ? 2 : 1;
  const int64_t target = threads * waves;
  int64_t parts = 1;
  if (p.bt < 8 * target) parts = target / gcd(p.bt, target);
  int64_t best_mch = round_up(p.M, g.mr), best_nch = round_up(p.N, g.nr);
  double best_cost = -1;
  for (int64_t gm = 1; gm <= parts; gm++) {
    if (parts % gm != 0) continue;
    const int64_t gn = parts / gm;
    const int64_t mch = round_up(ceil_div(p.M, gm), g.mr);
    const int64_t nch = round_up(ceil_div(p.N, gn), g.nr);
    // The largest tile's multiply-adds, plus packing (an element packed ≈ 8 multiply-adds).
    const double cost = static_cast<double>(mch) * nch + 8.0 * (mch + nch);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best_mch = mch;
      best_nch = nch;
    }
  }
  const int64_t gm = ceil_div(p.M, best_mch), gn = ceil_div(p.N, best_nch);
  const int64_t per = gm * gn;
  parallel_for(p.bt * per, [&](int64_t task, int) {
    const int64_t t = task / per;
    const int64_t r = task % per;
    const int64_t im = r / gn, in = r % gn;
    const int64_t m0 = im * best_mch, n0 = in * best_nch;
    gemm_tile(g, p, t, m0, std::min(p.M, m0 + best_mch), n0, std::min(p.N, n0 + best_nch));
  });
}

template <typename T>
void run_matmul(const View& a, const View& b, const View& out) {
  Problem<T> p;
  p.bt = out.shape[0];
  p.M = out.shape[1];
  p.N = out.shape[2];
  p.K = a.shape[2];
  p.A = static_cast<const T*>(a.data) + a.offset;
  p.sab = a.shape[0] == 1 ? 0 : a.strides[0];
  p.sam = a.strides[1];
  p.sak = a.strides[2];
  p.B = static_cast<const T*>(b.data) + b.offset;
  p.sbb = b.shape[0] == 1 ? 0 : b.strides[0];
  p.sbk = b.strides[1];
  p.sbn = b.strides[2];
  p.C = static_cast<T*>(out.data) + out.offset;
  p.sbc = out.strides[0];
  p.ldc = out.strides[1];
  gemm<T>(p);
}

std::string g_features;

}  // namespace

bool k_matmul(const View& a, const View& b, const View& out) {
  if (a.ndim != 3 || b.ndim != 3 || out.ndim != 3) return false;
  if (a.dt != b.dt || a.dt != out.dt) return false;
  if (out.strides[2] != 1 && out.shape[2] > 1) return false;
  if (a.dt == DT::F32) {
    run_matmul<float>(a, b, out);
    return true;
  }
  if (a.dt == DT::F64) {
    run_matmul<double>(a, b, out);
    return true;
  }
  return false;
}

const char* gemm_isa() {
  switch (g_isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

const char* set_gemm_isa(const char* name) {
  g_isa = parse_isa(name);
  vmath::set_isa(name);  // the vectorized math follows (for tests of each path)
  return gemm_isa();
}

const char* cpu_features() {
  if (g_features.empty()) {
    std::string s;
#if NABLA_X86_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) s += "sse4.2,";
    if (__builtin_cpu_supports("avx")) s += "avx,";
    if (__builtin_cpu_supports("avx2")) s += "avx2,";
    if (__builtin_cpu_supports("fma")) s += "fma,";
    if (__builtin_cpu_supports("avx512f")) s += "avx512f,";
#endif
    if (!s.empty()) s.pop_back();
    g_features = s.empty() ? "none" : s;
  }
  return g_features.c_str();
}

}  // namespace nabla
