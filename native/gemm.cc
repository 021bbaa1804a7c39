// Batched GEMM, C(Bt, M, N) = A(Bt, M, K) · B(Bt, K, N), after the BLIS scheme (Goto & van de
// Geijn 2008; Van Zee & van de Geijn 2015): blocks of B (KC × NC) and A (MC × KC) are packed into
// contiguous micro-panels, reading any strides, so transposed operands and stride-0 (broadcast)
// batches cost only the packing; an MR × NR register-blocked micro-kernel streams the panels.
// Micro-kernels: AVX-512F and AVX2+FMA (chosen at run time from the CPU's features), and a portable
// one the compiler vectorizes for the baseline instruction set. Threads split the batch and the
// rows/columns of C into independent tiles, each packing its own panels.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"
#include "pool.h"

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

template <typename T, int MR, int NR>
void ukr_portable(int64_t kc, const T* A, const T* B, T* C, int64_t ldc, int acc) {
  T c[MR][NR];
  for (int i = 0; i < MR; i++) {
    for (int j = 0; j < NR; j++) c[i][j] = 0;
  }
  for (int64_t k = 0; k < kc; k++, A += MR, B += NR) {
    NABLA_UNROLL for (int i = 0; i < MR; i++) {
      const T a = A[i];
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

template <int MR, int NV>
TGT_AVX2 void ukr_avx2_f32(int64_t kc, const float* A, const float* B, float* C, int64_t ldc,
                           int acc) {
  __m256 c[MR][NV];
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm256_setzero_ps();
  }
  for (int64_t k = 0; k < kc; k++, A += MR, B += 8 * NV) {
    __m256 b[NV];
    NABLA_UNROLL for (int j = 0; j < NV; j++) b[j] = _mm256_load_ps(B + 8 * j);
    NABLA_UNROLL for (int i = 0; i < MR; i++) {
      const __m256 a = _mm256_broadcast_ss(A + i);
      NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm256_fmadd_ps(a, b[j], c[i][j]);
    }
  }
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    NABLA_UNROLL for (int j = 0; j < NV; j++) {
      float* p = C + i * ldc + 8 * j;
      __m256 v = c[i][j];
      if (acc) v = _mm256_add_ps(v, _mm256_loadu_ps(p));
      _mm256_storeu_ps(p, v);
    }
  }
}

template <int MR, int NV>
TGT_AVX2 void ukr_avx2_f64(int64_t kc, const double* A, const double* B, double* C, int64_t ldc,
                           int acc) {
  __m256d c[MR][NV];
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm256_setzero_pd();
  }
  for (int64_t k = 0; k < kc; k++, A += MR, B += 4 * NV) {
    __m256d b[NV];
    NABLA_UNROLL for (int j = 0; j < NV; j++) b[j] = _mm256_load_pd(B + 4 * j);
    NABLA_UNROLL for (int i = 0; i < MR; i++) {
      const __m256d a = _mm256_broadcast_sd(A + i);
      NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm256_fmadd_pd(a, b[j], c[i][j]);
    }
  }
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    NABLA_UNROLL for (int j = 0; j < NV; j++) {
      double* p = C + i * ldc + 4 * j;
      __m256d v = c[i][j];
      if (acc) v = _mm256_add_pd(v, _mm256_loadu_pd(p));
      _mm256_storeu_pd(p, v);
    }
  }
}

template <int MR, int NV>
TGT_AVX512 void ukr_avx512_f32(int64_t kc, const float* A, const float* B, float* C, int64_t ldc,
                               int acc) {
  __m512 c[MR][NV];
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kc; k++, A += MR, B += 16 * NV) {
    __m512 b[NV];
    NABLA_UNROLL for (int j = 0; j < NV; j++) b[j] = _mm512_load_ps(B + 16 * j);
    NABLA_UNROLL for (int i = 0; i < MR; i++) {
      const __m512 a = _mm512_set1_ps(A[i]);
      NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm512_fmadd_ps(a, b[j], c[i][j]);
    }
  }
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    NABLA_UNROLL for (int j = 0; j < NV; j++) {
      float* p = C + i * ldc + 16 * j;
      __m512 v = c[i][j];
      if (acc) v = _mm512_add_ps(v, _mm512_loadu_ps(p));
      _mm512_storeu_ps(p, v);
    }
  }
}

template <int MR, int NV>
TGT_AVX512 void ukr_avx512_f64(int64_t kc, const double* A, const double* B, double* C,
                               int64_t ldc, int acc) {
  __m512d c[MR][NV];
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm512_setzero_pd();
  }
  for (int64_t k = 0; k < kc; k++, A += MR, B += 8 * NV) {
    __m512d b[NV];
    NABLA_UNROLL for (int j = 0; j < NV; j++) b[j] = _mm512_load_pd(B + 8 * j);
    NABLA_UNROLL for (int i = 0; i < MR; i++) {
      const __m512d a = _mm512_set1_pd(A[i]);
      NABLA_UNROLL for (int j = 0; j < NV; j++) c[i][j] = _mm512_fmadd_pd(a, b[j], c[i][j]);
    }
  }
  NABLA_UNROLL for (int i = 0; i < MR; i++) {
    NABLA_UNROLL for (int j = 0; j < NV; j++) {
      double* p = C + i * ldc + 8 * j;
      __m512d v = c[i][j];
      if (acc) v = _mm512_add_pd(v, _mm512_loadu_pd(p));
      _mm512_storeu_pd(p, v);
    }
  }
}

#endif  // NABLA_X86_SIMD

// ---- Configurations ---------------------------------------------------------------------------

template <typename T>
struct Cfg {
  const char* isa;
  int mr, nr;
  int64_t kc, mc, nc;  // block sizes (mc a multiple of mr, nc of nr)
  void (*ukr)(int64_t kc, const T* A, const T* B, T* C, int64_t ldc, int acc);
  void (*pack_a)(const T* A, int64_t sm, int64_t sk, int64_t mc, int64_t kc, T* dst);
  void (*pack_b)(const T* B, int64_t sk, int64_t sn, int64_t kc, int64_t nc, T* dst);
};

template <typename T, int MR, int NR>
Cfg<T> make_cfg(const char* isa, int64_t kc, int64_t mc, int64_t nc,
                void (*ukr)(int64_t, const T*, const T*, T*, int64_t, int)) {
  return Cfg<T>{isa, MR, NR, kc, mc, nc, ukr, &pack_a<T, MR>, &pack_b<T, NR>};
}

const Cfg<float> kF32Portable = make_cfg<float, 4, 8>("scalar", 256, 128, 2048,
                                                      &ukr_portable<float, 4, 8>);
const Cfg<double> kF64Portable = make_cfg<double, 4, 4>("scalar", 256, 128, 2048,
                                                        &ukr_portable<double, 4, 4>);
#if NABLA_X86_SIMD
const Cfg<float> kF32Avx2 = make_cfg<float, 6, 16>("avx2", 256, 144, 4080, &ukr_avx2_f32<6, 2>);
const Cfg<double> kF64Avx2 = make_cfg<double, 6, 8>("avx2", 256, 72, 4080, &ukr_avx2_f64<6, 2>);
// Block sizes: BLIS' Haswell values for AVX2; for AVX-512 a deeper KC (fewer C round trips)
// measured best on Zen 4 (the B micro-panel then streams from L2, which keeps up at this MR).
const Cfg<float> kF32Avx512 =
    make_cfg<float, 12, 32>("avx512", 384, 96, 4096, &ukr_avx512_f32<12, 2>);
const Cfg<double> kF64Avx512 =
    make_cfg<double, 12, 16>("avx512", 384, 96, 4096, &ukr_avx512_f64<12, 2>);
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
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t m) { return ceil_div(a, m) * m; }

// C[t][m0:m1, n0:n1] = A[t][m0:m1, :] · B[t][:, n0:n1], on the calling thread.
template <typename T>
void gemm_tile(const Cfg<T>& g, const Problem<T>& p, int64_t t, int64_t m0, int64_t m1, int64_t n0,
               int64_t n1) {
  const T* A = p.A + t * p.sab;
  const T* B = p.B + t * p.sbb;
  T* C = p.C + t * p.sbc;
  const int64_t ldc = p.ldc;
  if (p.K == 0) {
    for (int64_t i = m0; i < m1; i++) {
      for (int64_t j = n0; j < n1; j++) C[i * ldc + j] = 0;
    }
    return;
  }
  const int MR = g.mr, NR = g.nr;
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
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const int acc = pc > 0;
      g.pack_b(B + pc * p.sbk + jc * p.sbn, p.sbk, p.sbn, kc, nc, pb);
      for (int64_t ic = m0; ic < m1; ic += g.mc) {
        const int64_t mc = std::min(g.mc, m1 - ic);
        g.pack_a(A + ic * p.sam + pc * p.sak, p.sam, p.sak, mc, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const T* bp = pb + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            const T* ap = pa + ir * kc;
            T* c = C + (ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              g.ukr(kc, ap, bp, c, ldc, acc);
            } else {
              g.ukr(kc, ap, bp, tile, NR, 0);
              for (int64_t r = 0; r < mr; r++) {
                for (int64_t q = 0; q < nr; q++) {
                  c[r * ldc + q] = (acc ? c[r * ldc + q] : T(0)) + tile[r * NR + q];
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
  if (2 * p.N < g.nr && p.M >= 2 * p.N && p.K > 0) {
    // Few columns (a classifier head): most of each NR-wide micro-tile would be padding. Compute
    // Cᵀ = Bᵀ·Aᵀ instead, where N becomes the row count (padded only to MR), into a scratch
    // buffer, and transpose it into C.
    std::vector<T> ct(static_cast<size_t>(p.bt * p.N * p.M));
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
    q.C = ct.data();
    q.sbc = p.N * p.M;
    q.ldc = p.M;
    gemm<T>(q);
    for (int64_t t = 0; t < p.bt; t++) {
      const T* src = ct.data() + t * q.sbc;
      T* dst = p.C + t * p.sbc;
      for (int64_t i = 0; i < p.M; i++) {
        for (int64_t j = 0; j < p.N; j++) dst[i * p.ldc + j] = src[j * p.M + i];
      }
    }
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
