// Fused training kernels, float32 and float64 (the native twins of src/backend/ref/fused-*.ts;
// see the Kernels interface in src/backend/backend.ts for each contract):
//   layer norm forward/backward (llm.c's layernorm_forward/backward: mean and 1/σ saved per row,
//     the weight and bias gradients accumulated per fixed block of rows and summed in block order,
//     so that they do not depend on the thread count),
//   softmax-cross-entropy forward/backward (log-sum-exp saved per row, label smoothing),
//   LSTM and GRU cell pointwise math forward/backward (PyTorch's gate orders i,f,g,o and r,z,n),
//   the Adam/AdamW update (torch.optim.adam._single_tensor_adam's order of operations).
// Rows run in parallel on the pool; float32 transcendentals use the vectorized vmath routines on a
// contiguous row. Views may have any strides (rows contiguous everywhere take loops the compiler
// vectorizes); every shape is checked here, so that a bad call is an error and never a stray
// memory access. Every result is the same for any thread count.
#include "fused.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "pool.h"
#include "vmath.h"

namespace nabla {
namespace {

// ---- Element access and row math ----------------------------------------------------------------

template <typename T>
inline T* ptr(const View& v) {
  return static_cast<T*>(v.data);
}
inline int64_t at1(const View& v, int64_t i) { return v.offset + i * v.strides[0]; }
inline int64_t at2(const View& v, int64_t r, int64_t c) {
  return v.offset + r * v.strides[0] + c * v.strides[1];
}
inline int64_t at3(const View& v, int64_t k, int64_t r, int64_t c) {
  return v.offset + k * v.strides[0] + r * v.strides[1] + c * v.strides[2];
}

inline void exp_row(float* x, int64_t n) {
  if (!vmath::exp_f32(x, x, n))
    for (int64_t i = 0; i < n; i++) x[i] = std::exp(x[i]);
}
inline void exp_row(double* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = std::exp(x[i]);
}
inline void tanh_row(float* x, int64_t n) {
  if (!vmath::tanh_f32(x, x, n))
    for (int64_t i = 0; i < n; i++) x[i] = std::tanh(x[i]);
}
inline void tanh_row(double* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = std::tanh(x[i]);
}
inline void sigmoid_row(float* x, int64_t n) {
  if (!vmath::sigmoid_f32(x, x, n))
    for (int64_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + std::exp(-x[i]));
}
inline void sigmoid_row(double* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = 1.0 / (1.0 + std::exp(-x[i]));
}

// Rows [0, R) in parallel chunks of at least ~16k elements of work (per row: `work`).
template <typename F>
void rows_parallel(int64_t R, int64_t work, F&& f) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(work, 1));
  parallel_chunks(R, grain, f);
}

// ---- Argument checks ----------------------------------------------------------------------------

struct Check {
  const char** err;
  bool ok = true;
  void fail(const char* msg) {
    if (ok) *err = msg;
    ok = false;
  }
  void shape(const View& v, std::initializer_list<int64_t> want, const char* msg) {
    if (v.ndim != static_cast<int>(want.size())) return fail(msg);
    int d = 0;
    for (int64_t w : want)
      if (v.shape[d++] != w) return fail(msg);
  }
};

bool same_float(const View* v, int nv, const bool* skip, DT* dt) {
  DT first = DT::I32;
  bool have = false;
  for (int i = 0; i < nv; i++) {
    if (skip && skip[i]) continue;
    if (!have) {
      first = v[i].dt;
      have = true;
    } else if (v[i].dt != first) {
      return false;
    }
  }
  *dt = first;
  return have && (first == DT::F32 || first == DT::F64);
}

// ---- Layer norm ---------------------------------------------------------------------------------

#if defined(_OPENMP) || defined(__GNUC__) || defined(__clang__)
#define NABLA_PRAGMA(x) _Pragma(#x)
#define NABLA_SIMD_SUM(v) NABLA_PRAGMA(omp simd reduction(+ : v))
#define NABLA_SIMD NABLA_PRAGMA(omp simd)
#else
#define NABLA_SIMD_SUM(v)
#define NABLA_SIMD
#endif

// Whether a view's last dim is contiguous (or a 1-D view is; a missing optional view counts).
inline bool unit(const View* v) { return v == nullptr || v->shape[v->ndim - 1] <= 1 || v->strides[v->ndim - 1] == 1; }

template <typename T>
void ln_forward(const View& x, const View* w, const View* b, double eps, const View& y,
                const View& mean, const View& rstd) {
  const int64_t R = x.shape[0], N = x.shape[1];
  // Rows contiguous in x, y, weight and bias: loops the compiler vectorizes.
  const bool fast = unit(&x) && unit(&y) && unit(w) && unit(b);
  rows_parallel(R, 3 * N, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; r++) {
      const T* xr = ptr<T>(x) + at2(x, r, 0);
      T* yr = ptr<T>(y) + at2(y, r, 0);
      const int64_t s = x.strides[1];
      double mu, rs;
      if (fast) {
        double sum = 0;
        NABLA_SIMD_SUM(sum)
        for (int64_t i = 0; i < N; i++) sum += xr[i];
        mu = sum / N;
        double var = 0;
        NABLA_SIMD_SUM(var)
        for (int64_t i = 0; i < N; i++) {
          const double d = xr[i] - mu;
          var += d * d;
        }
        rs = 1.0 / std::sqrt(var / N + eps);
      } else {
        double sum = 0;
        for (int64_t i = 0; i < N; i++) sum += xr[i * s];
        mu = sum / N;
        double var = 0;
        for (int64_t i = 0; i < N; i++) {
          const double d = xr[i * s] - mu;
          var += d * d;
        }
        rs = 1.0 / std::sqrt(var / N + eps);
      }
      ptr<T>(mean)[at1(mean, r)] = static_cast<T>(mu);
      ptr<T>(rstd)[at1(rstd, r)] = static_cast<T>(rs);
      const T m = static_cast<T>(mu), q = static_cast<T>(rs);
      if (fast) {
        const T* wr = w ? ptr<T>(*w) + w->offset : nullptr;
        const T* br = b ? ptr<T>(*b) + b->offset : nullptr;
        if (wr && br) {
          NABLA_SIMD
          for (int64_t i = 0; i < N; i++) {
            T t = (xr[i] - m) * q;
            t *= wr[i];
            yr[i] = t + br[i];
          }
        } else if (wr) {
          NABLA_SIMD
          for (int64_t i = 0; i < N; i++) yr[i] = (xr[i] - m) * q * wr[i];
        } else if (br) {
          NABLA_SIMD
          for (int64_t i = 0; i < N; i++) yr[i] = (xr[i] - m) * q + br[i];
        } else {
          NABLA_SIMD
          for (int64_t i = 0; i < N; i++) yr[i] = (xr[i] - m) * q;
        }
        continue;
      }
      for (int64_t i = 0; i < N; i++) {
        T t = (xr[i * s] - m) * q;
        if (w) t *= ptr<T>(*w)[at1(*w, i)];
        if (b) t += ptr<T>(*b)[at1(*b, i)];
        yr[i * y.strides[1]] = t;
      }
    }
  });
}

template <typename T>
void ln_backward(const View& x, const View* w, const View& mean, const View& rstd, const View& gy,
                 const View& gx, const View* gw, const View* gb) {
  const int64_t R = x.shape[0], N = x.shape[1];
  const bool fast = unit(&x) && unit(w) && unit(&gy) && unit(&gx);
  // The weight and bias gradients are sums over rows: each block of `chunk` rows (a size that does
  // not depend on the thread count) sums into its own partials, which are added in block order,
  // so that the result is the same for any number of threads.
  const int64_t chunk = std::max<int64_t>(1, 32768 / std::max<int64_t>(8 * N, 1));
  const int64_t chunks = (R + chunk - 1) / chunk;
  std::vector<double> partial((gw || gb) ? static_cast<size_t>(chunks) * 2 * N : 0, 0.0);
  const int threads = 8 * R * N >= 2 * 16384 ? 0 : 1;  // small: on the calling thread
  parallel_for(chunks, [&](int64_t ci, int) {
    const int64_t r0 = ci * chunk, r1 = std::min(R, r0 + chunk);
    thread_local std::vector<T> xhat, d;
    xhat.resize(static_cast<size_t>(N));
    d.resize(static_cast<size_t>(N));
    double* pw = partial.empty() ? nullptr : partial.data() + static_cast<size_t>(ci) * 2 * N;
    const T* wr = w ? ptr<T>(*w) + w->offset : nullptr;
    for (int64_t r = r0; r < r1; r++) {
      const T mu = ptr<T>(mean)[at1(mean, r)];
      const T rs = ptr<T>(rstd)[at1(rstd, r)];
      const T* xr = ptr<T>(x) + at2(x, r, 0);
      const T* gr = ptr<T>(gy) + at2(gy, r, 0);
      T* orow = ptr<T>(gx) + at2(gx, r, 0);
      double sumD = 0, sumDX = 0;
      if (fast) {
        T* xh = xhat.data();
        T* dd = d.data();
        NABLA_SIMD
        for (int64_t i = 0; i < N; i++) {
          xh[i] = (xr[i] - mu) * rs;
          dd[i] = wr ? gr[i] * wr[i] : gr[i];
        }
        NABLA_SIMD_SUM(sumD)
        for (int64_t i = 0; i < N; i++) sumD += dd[i];
        NABLA_SIMD_SUM(sumDX)
        for (int64_t i = 0; i < N; i++) sumDX += static_cast<double>(dd[i]) * xh[i];
        if (pw) {
          double* pb = pw + N;
          NABLA_SIMD
          for (int64_t i = 0; i < N; i++) {
            pw[i] += static_cast<double>(gr[i]) * xh[i];
            pb[i] += gr[i];
          }
        }
        const T meanD = static_cast<T>(sumD / N), meanDX = static_cast<T>(sumDX / N);
        NABLA_SIMD
        for (int64_t i = 0; i < N; i++) orow[i] = rs * (dd[i] - meanD - xh[i] * meanDX);
        continue;
      }
      const int64_t xs = x.strides[1], gs = gy.strides[1];
      for (int64_t i = 0; i < N; i++) {
        const T xh = (xr[i * xs] - mu) * rs;
        const T g = gr[i * gs];
        const T di = w ? g * ptr<T>(*w)[at1(*w, i)] : g;
        xhat[i] = xh;
        d[i] = di;
        sumD += di;
        sumDX += static_cast<double>(di) * xh;
        if (pw) {
          pw[i] += static_cast<double>(g) * xh;
          pw[N + i] += g;
        }
      }
      const T meanD = static_cast<T>(sumD / N), meanDX = static_cast<T>(sumDX / N);
      for (int64_t i = 0; i < N; i++) orow[i * gx.strides[1]] = rs * (d[i] - meanD - xhat[i] * meanDX);
    }
  }, threads);
  for (int k = 0; k < 2; k++) {
    const View* out = k == 0 ? gw : gb;
    if (!out) continue;
    for (int64_t i = 0; i < N; i++) {
      double acc = 0;
      for (int64_t c = 0; c < chunks; c++) acc += partial[static_cast<size_t>(c) * 2 * N + k * N + i];
      ptr<T>(*out)[at1(*out, i)] = static_cast<T>(acc);
    }
  }
}

// ---- Softmax-cross-entropy ----------------------------------------------------------------------

template <typename T>
void ce_forward(const View& x, const View& t, int64_t ignore, double eps, const View& loss,
                const View& lse) {
  const int64_t R = x.shape[0], C = x.shape[1];
  rows_parallel(R, 4 * C, [&](int64_t r0, int64_t r1, int) {
    std::vector<T> e(C);
    for (int64_t r = r0; r < r1; r++) {
      const T* xr = ptr<T>(x) + at2(x, r, 0);
      const int64_t s = x.strides[1];
      T mx = -INFINITY;
      double sumX = 0;
      for (int64_t c = 0; c < C; c++) {
        const T v = xr[c * s];
        if (v > mx) mx = v;
        sumX += v;
      }
      const T shift = std::isfinite(mx) ? mx : T(0);
      for (int64_t c = 0; c < C; c++) e[c] = xr[c * s] - shift;
      exp_row(e.data(), C);
      double se = 0;
      for (int64_t c = 0; c < C; c++) se += e[c];
      const double l = shift + std::log(se);
      ptr<T>(lse)[at1(lse, r)] = static_cast<T>(l);
      const int32_t tr = ptr<int32_t>(t)[at1(t, r)];
      double value = 0;
      if (tr != ignore) {
        value = (1 - eps) * (l - xr[tr * s]);
        if (eps != 0) value += eps * (l - sumX / C);
      }
      ptr<T>(loss)[at1(loss, r)] = static_cast<T>(value);
    }
  });
}

template <typename T>
void ce_backward(const View& x, const View& t, const View& lse, const View& gl, int64_t ignore,
                 double eps, const View& gx) {
  const int64_t R = x.shape[0], C = x.shape[1];
  const T off = static_cast<T>(eps / C), hit = static_cast<T>(1 - eps);
  rows_parallel(R, 3 * C, [&](int64_t r0, int64_t r1, int) {
    std::vector<T> e(C);
    for (int64_t r = r0; r < r1; r++) {
      const int32_t tr = ptr<int32_t>(t)[at1(t, r)];
      T* orow = ptr<T>(gx) + at2(gx, r, 0);
      const int64_t os = gx.strides[1];
      if (tr == ignore) {
        for (int64_t c = 0; c < C; c++) orow[c * os] = 0;
        continue;
      }
      const T g = ptr<T>(gl)[at1(gl, r)];
      const T l = ptr<T>(lse)[at1(lse, r)];
      const T* xr = ptr<T>(x) + at2(x, r, 0);
      for (int64_t c = 0; c < C; c++) e[c] = xr[c * x.strides[1]] - l;
      exp_row(e.data(), C);
      for (int64_t c = 0; c < C; c++) orow[c * os] = g * (e[c] - off);
      orow[tr * os] -= g * hit;
    }
  });
}

// ---- LSTM and GRU cells -------------------------------------------------------------------------

template <typename T>
void lstm_forward(const View& gi, const View& gh, const View* bias, const View& c, const View& out,
                  const View& gates) {
  const int64_t B = c.shape[0], H = c.shape[1];
  // Rows contiguous everywhere: the pre-activations are summed into the gates row itself and the
  // activations run there in place (the same operations, in the same order, as the general path).
  const bool fast = unit(&gi) && unit(&gh) && unit(bias) && unit(&c) && unit(&out) && unit(&gates);
  rows_parallel(B, 16 * H, [&](int64_t b0, int64_t b1, int) {
    std::vector<T> u(fast ? H : 5 * H);
    for (int64_t b = b0; b < b1; b++) {
      const T* ir = ptr<T>(gi) + at2(gi, b, 0);
      const T* hr = ptr<T>(gh) + at2(gh, b, 0);
      if (fast) {
        T* g = ptr<T>(gates) + at2(gates, b, 0);
        const T* br = bias ? ptr<T>(*bias) + bias->offset : nullptr;
        NABLA_SIMD
        for (int64_t k = 0; k < 4 * H; k++) g[k] = ir[k] + hr[k];
        if (br) {
          NABLA_SIMD
          for (int64_t k = 0; k < 4 * H; k++) g[k] += br[k];
        }
        sigmoid_row(g, 2 * H);      // i, f
        tanh_row(g + 2 * H, H);     // g
        sigmoid_row(g + 3 * H, H);  // o
        const T* cr = ptr<T>(c) + at2(c, b, 0);
        T* h2 = ptr<T>(out) + at3(out, 0, b, 0);
        T* c2 = ptr<T>(out) + at3(out, 1, b, 0);
        T* t = u.data();
        NABLA_SIMD
        for (int64_t j = 0; j < H; j++) t[j] = c2[j] = g[H + j] * cr[j] + g[j] * g[2 * H + j];
        tanh_row(t, H);
        NABLA_SIMD
        for (int64_t j = 0; j < H; j++) h2[j] = g[3 * H + j] * t[j];
        continue;
      }
      const int64_t is = gi.strides[1], hs = gh.strides[1];
      for (int64_t k = 0; k < 4 * H; k++) u[k] = ir[k * is] + hr[k * hs];
      if (bias)
        for (int64_t k = 0; k < 4 * H; k++) u[k] += ptr<T>(*bias)[at1(*bias, k)];
      sigmoid_row(u.data(), 2 * H);      // i, f
      tanh_row(u.data() + 2 * H, H);     // g
      sigmoid_row(u.data() + 3 * H, H);  // o
      T* c2 = u.data() + 4 * H;
      for (int64_t j = 0; j < H; j++) {
        c2[j] = u[H + j] * ptr<T>(c)[at2(c, b, j)] + u[j] * u[2 * H + j];
        ptr<T>(out)[at3(out, 1, b, j)] = c2[j];
      }
      tanh_row(c2, H);
      T* gr = ptr<T>(gates) + at2(gates, b, 0);
      for (int64_t k = 0; k < 4 * H; k++) gr[k * gates.strides[1]] = u[k];
      for (int64_t j = 0; j < H; j++) ptr<T>(out)[at3(out, 0, b, j)] = u[3 * H + j] * c2[j];
    }
  });
}

template <typename T>
void lstm_backward(const View& gates, const View& c, const View& out, const View* gH,
                   const View* gC, const View& dgates, const View& dc) {
  const int64_t B = c.shape[0], H = c.shape[1];
  const bool fast = unit(&gates) && unit(&c) && unit(&out) && unit(gH) && unit(gC) &&
                    unit(&dgates) && unit(&dc);
  rows_parallel(B, 16 * H, [&](int64_t b0, int64_t b1, int) {
    std::vector<T> tc(H);
    for (int64_t b = b0; b < b1; b++) {
      if (fast) {
        const T* c2 = ptr<T>(out) + at3(out, 1, b, 0);
        T* t = tc.data();
        NABLA_SIMD
        for (int64_t j = 0; j < H; j++) t[j] = c2[j];
        tanh_row(t, H);
        const T* g4 = ptr<T>(gates) + at2(gates, b, 0);
        T* d4 = ptr<T>(dgates) + at2(dgates, b, 0);
        const T* cr = ptr<T>(c) + at2(c, b, 0);
        const T* ghr = gH ? ptr<T>(*gH) + at2(*gH, b, 0) : nullptr;
        const T* gcr = gC ? ptr<T>(*gC) + at2(*gC, b, 0) : nullptr;
        T* dcr = ptr<T>(dc) + at2(dc, b, 0);
        NABLA_SIMD
        for (int64_t j = 0; j < H; j++) {
          const T i = g4[j], f = g4[H + j], g = g4[2 * H + j], o = g4[3 * H + j];
          const T tj = t[j];
          const T gh2 = ghr ? ghr[j] : T(0);
          const T gc2 = gcr ? gcr[j] : T(0);
          const T dct = gc2 + gh2 * o * (1 - tj * tj);
          d4[j] = dct * g * i * (1 - i);
          d4[H + j] = dct * cr[j] * f * (1 - f);
          d4[2 * H + j] = dct * i * (1 - g * g);
          d4[3 * H + j] = gh2 * tj * o * (1 - o);
          dcr[j] = dct * f;
        }
        continue;
      }
      for (int64_t j = 0; j < H; j++) tc[j] = ptr<T>(out)[at3(out, 1, b, j)];
      tanh_row(tc.data(), H);
      const T* g4 = ptr<T>(gates) + at2(gates, b, 0);
      T* d4 = ptr<T>(dgates) + at2(dgates, b, 0);
      const int64_t gs = gates.strides[1], ds = dgates.strides[1];
      for (int64_t j = 0; j < H; j++) {
        const T i = g4[j * gs], f = g4[(H + j) * gs], g = g4[(2 * H + j) * gs],
                o = g4[(3 * H + j) * gs];
        const T t = tc[j];
        const T gh2 = gH ? ptr<T>(*gH)[at2(*gH, b, j)] : T(0);
        const T gc2 = gC ? ptr<T>(*gC)[at2(*gC, b, j)] : T(0);
        const T dct = gc2 + gh2 * o * (1 - t * t);
        d4[j * ds] = dct * g * i * (1 - i);
        d4[(H + j) * ds] = dct * ptr<T>(c)[at2(c, b, j)] * f * (1 - f);
        d4[(2 * H + j) * ds] = dct * i * (1 - g * g);
        d4[(3 * H + j) * ds] = gh2 * t * o * (1 - o);
        ptr<T>(dc)[at2(dc, b, j)] = dct * f;
      }
    }
  });
}

template <typename T>
void gru_forward(const View& gi, const View& gh, const View* bias, const View& h, const View& out,
                 const View& saved) {
  const int64_t B = h.shape[0], H = h.shape[1];
  rows_parallel(B, 12 * H, [&](int64_t b0, int64_t b1, int) {
    std::vector<T> u(4 * H);  // r, z, n pre-activations, then gh_n + b_n
    for (int64_t b = b0; b < b1; b++) {
      const T* ir = ptr<T>(gi) + at2(gi, b, 0);
      const T* hr = ptr<T>(gh) + at2(gh, b, 0);
      const int64_t is = gi.strides[1], hs = gh.strides[1];
      for (int64_t k = 0; k < 3 * H; k++) {
        const T hk = hr[k * hs] + (bias ? ptr<T>(*bias)[at1(*bias, k)] : T(0));
        if (k < 2 * H) {
          u[k] = ir[k * is] + hk;
        } else {
          u[H + k] = hk;  // gh_n + b_n at [3H, 4H)
        }
      }
      sigmoid_row(u.data(), 2 * H);
      for (int64_t j = 0; j < H; j++) u[2 * H + j] = ir[(2 * H + j) * is] + u[j] * u[3 * H + j];
      tanh_row(u.data() + 2 * H, H);
      T* sr = ptr<T>(saved) + at2(saved, b, 0);
      for (int64_t k = 0; k < 4 * H; k++) sr[k * saved.strides[1]] = u[k];
      for (int64_t j = 0; j < H; j++) {
        const T n = u[2 * H + j], z = u[H + j];
        ptr<T>(out)[at2(out, b, j)] = n + z * (ptr<T>(h)[at2(h, b, j)] - n);
      }
    }
  });
}

template <typename T>
void gru_backward(const View& saved, const View& h, const View& gout, const View& dgi,
                  const View& dgh, const View& dh) {
  const int64_t B = h.shape[0], H = h.shape[1];
  rows_parallel(B, 12 * H, [&](int64_t b0, int64_t b1, int) {
    for (int64_t b = b0; b < b1; b++) {
      const T* s4 = ptr<T>(saved) + at2(saved, b, 0);
      const int64_t ss = saved.strides[1];
      T* di = ptr<T>(dgi) + at2(dgi, b, 0);
      T* dhh = ptr<T>(dgh) + at2(dgh, b, 0);
      const int64_t is = dgi.strides[1], hs = dgh.strides[1];
      for (int64_t j = 0; j < H; j++) {
        const T r = s4[j * ss], z = s4[(H + j) * ss], n = s4[(2 * H + j) * ss],
                ghn = s4[(3 * H + j) * ss];
        const T g = ptr<T>(gout)[at2(gout, b, j)];
        const T hp = ptr<T>(h)[at2(h, b, j)];
        const T an = g * (1 - z) * (1 - n * n);
        const T ar = an * ghn * r * (1 - r);
        const T az = g * (hp - n) * z * (1 - z);
        di[j * is] = ar;
        di[(H + j) * is] = az;
        di[(2 * H + j) * is] = an;
        dhh[j * hs] = ar;
        dhh[(H + j) * hs] = az;
        dhh[(2 * H + j) * hs] = an * r;
        ptr<T>(dh)[at2(dh, b, j)] = g * z;
      }
    }
  });
}

// ---- Adam -----------------------------------------------------------------------------------------

bool contiguous(const View& v) {
  int64_t expected = 1;
  for (int d = v.ndim - 1; d >= 0; d--) {
    if (v.shape[d] != 1 && v.strides[d] != expected) return false;
    expected *= v.shape[d];
  }
  return true;
}

// Scalars are rounded to T where PyTorch's CPU kernels take them as the tensor's type.
template <typename T>
void adam(const View& p, const View& g, const View& m, const View& v, const View* vmax,
          const double* s) {
  const double lr = s[0], b1 = s[1], b2 = s[2], eps = s[3], wd = s[4], step = s[5];
  const bool decoupled = s[6] != 0, maximize = s[7] != 0;
  const T stepSize = static_cast<T>(lr / (1 - std::pow(b1, step)));
  const T bc2Sqrt = static_cast<T>(std::sqrt(1 - std::pow(b2, step)));
  const T decay = static_cast<T>(1 - lr * wd), wdT = static_cast<T>(wd);
  const T w1 = static_cast<T>(1 - b1), b2T = static_cast<T>(b2), w2 = static_cast<T>(1 - b2);
  const T epsT = static_cast<T>(eps);
  const bool lerpLow = std::abs(1 - b1) < 0.5;
  T* pp = ptr<T>(p) + p.offset;
  const T* gp = ptr<T>(g) + g.offset;
  T* mp = ptr<T>(m) + m.offset;
  T* vp = ptr<T>(v) + v.offset;
  T* xp = vmax ? ptr<T>(*vmax) + vmax->offset : nullptr;
  // The flags are fixed per call: one loop per combination (branch-free, so that the compiler
  // vectorizes it; sqrt and division are exact in SIMD, so the bits are the scalar loop's).
  auto run = [&](auto wdMode, auto lerp, auto amsgrad, int64_t i0, int64_t i1) {
    constexpr int kWd = decltype(wdMode)::value;  // 0: none, 1: decoupled, 2: L2 (into the gradient)
    constexpr bool kLerpLow = decltype(lerp)::value, kMax = decltype(amsgrad)::value;
    NABLA_SIMD
    for (int64_t i = i0; i < i1; i++) {
      T gr = maximize ? -gp[i] : gp[i];
      if (kWd == 1) pp[i] *= decay;
      if (kWd == 2) gr += wdT * pp[i];
      // torch.lerp(m, g, 1 − β1)
      const T mi = kLerpLow ? mp[i] + w1 * (gr - mp[i]) : gr - (gr - mp[i]) * (1 - w1);
      mp[i] = mi;
      const T vi = vp[i] * b2T + w2 * gr * gr;
      vp[i] = vi;
      T second = vi;
      if (kMax) second = xp[i] = std::max(xp[i], second);
      pp[i] += -stepSize * mi / (std::sqrt(second) / bc2Sqrt + epsT);
    }
  };
  const int wdMode = wd == 0 ? 0 : decoupled ? 1 : 2;
  parallel_chunks(p.numel(), 32768, [&](int64_t i0, int64_t i1, int) {
    auto with = [&](auto w) {
      if (lerpLow) {
        if (xp) run(w, std::true_type{}, std::true_type{}, i0, i1);
        else run(w, std::true_type{}, std::false_type{}, i0, i1);
      } else {
        if (xp) run(w, std::false_type{}, std::true_type{}, i0, i1);
        else run(w, std::false_type{}, std::false_type{}, i0, i1);
      }
    };
    if (wdMode == 0) with(std::integral_constant<int, 0>{});
    else if (wdMode == 1) with(std::integral_constant<int, 1>{});
    else with(std::integral_constant<int, 2>{});
  });
}

}  // namespace

// ---- Dispatch -------------------------------------------------------------------------------------

#define NABLA_FUSED_CALL(FN, ...) \
  (dt == DT::F32 ? FN<float>(__VA_ARGS__) : FN<double>(__VA_ARGS__))

int k_fused(int id, const double* s, int ns, const View* v, int nv, const char** err) {
  Check ck{err};
  auto need = [&](int scalars, int views) {
    if (ns < scalars || nv < views) ck.fail("nabla native: fused kernel: too few arguments");
    return ck.ok;
  };
  DT dt;
  switch (id) {
    case 0: {  // layerNormForward: [eps, hasW, hasB]; x, w, b, y, mean, rstd
      if (!need(3, 6)) return -1;
      const bool hw = s[1] != 0, hb = s[2] != 0;
      const bool skip[6] = {false, !hw, !hb, false, false, false};
      if (!same_float(v, 6, skip, &dt)) return 0;
      if (v[0].ndim != 2) return ck.fail("nabla native: layerNorm: x must be 2-D"), -1;
      const int64_t R = v[0].shape[0], N = v[0].shape[1];
      if (hw) ck.shape(v[1], {N}, "nabla native: layerNorm: weight shape");
      if (hb) ck.shape(v[2], {N}, "nabla native: layerNorm: bias shape");
      ck.shape(v[3], {R, N}, "nabla native: layerNorm: y shape");
      ck.shape(v[4], {R}, "nabla native: layerNorm: mean shape");
      ck.shape(v[5], {R}, "nabla native: layerNorm: rstd shape");
      if (!ck.ok) return -1;
      NABLA_FUSED_CALL(ln_forward, v[0], hw ? &v[1] : nullptr, hb ? &v[2] : nullptr, s[0], v[3],
                       v[4], v[5]);
      return 1;
    }
    case 1: {  // layerNormBackward: [hasW, hasGW, hasGB]; x, w, mean, rstd, gy, gx, gw, gb
      if (!need(3, 8)) return -1;
      const bool hw = s[0] != 0, hgw = s[1] != 0, hgb = s[2] != 0;
      const bool skip[8] = {false, !hw, false, false, false, false, !hgw, !hgb};
      if (!same_float(v, 8, skip, &dt)) return 0;
      if (v[0].ndim != 2) return ck.fail("nabla native: layerNorm: x must be 2-D"), -1;
      const int64_t R = v[0].shape[0], N = v[0].shape[1];
      if (hw) ck.shape(v[1], {N}, "nabla native: layerNorm: weight shape");
      ck.shape(v[2], {R}, "nabla native: layerNorm: mean shape");
      ck.shape(v[3], {R}, "nabla native: layerNorm: rstd shape");
      ck.shape(v[4], {R, N}, "nabla native: layerNorm: gy shape");
      ck.shape(v[5], {R, N}, "nabla native: layerNorm: gx shape");
      if (hgw) ck.shape(v[6], {N}, "nabla native: layerNorm: gWeight shape");
      if (hgb) ck.shape(v[7], {N}, "nabla native: layerNorm: gBias shape");
      if (!ck.ok) return -1;
      NABLA_FUSED_CALL(ln_backward, v[0], hw ? &v[1] : nullptr, v[2], v[3], v[4], v[5],
                       hgw ? &v[6] : nullptr, hgb ? &v[7] : nullptr);
      return 1;
    }
    case 2:
    case 3: {  // crossEntropyForward: [ignore, eps]; x, t, loss, lse
               // crossEntropyBackward: [ignore, eps]; x, t, lse, gLoss, gx
      const bool bwd = id == 3;
      if (!need(2, bwd ? 5 : 4)) return -1;
      const bool skip[5] = {false, true, false, false, false};
      if (!same_float(v, bwd ? 5 : 4, skip, &dt)) return 0;
      if (v[1].dt != DT::I32) return ck.fail("nabla native: crossEntropy: int32 targets"), -1;
      if (v[0].ndim != 2) return ck.fail("nabla native: crossEntropy: logits must be 2-D"), -1;
      const int64_t R = v[0].shape[0], C = v[0].shape[1];
      for (int i = 1; i < (bwd ? 4 : 4); i++) ck.shape(v[i], {R}, "nabla native: crossEntropy: row shape");
      if (bwd) ck.shape(v[4], {R, C}, "nabla native: crossEntropy: gx shape");
      if (!ck.ok) return -1;
      // Targets other than ignoreIndex must index a class (the op checked; this guards memory).
      const int64_t ignore = static_cast<int64_t>(s[0]);
      for (int64_t r = 0; r < R; r++) {
        const int32_t t = ptr<int32_t>(v[1])[at1(v[1], r)];
        if (t != ignore && (t < 0 || t >= C)) return ck.fail("nabla native: target out of range"), -1;
      }
      if (bwd) {
        NABLA_FUSED_CALL(ce_backward, v[0], v[1], v[2], v[3], ignore, s[1], v[4]);
      } else {
        NABLA_FUSED_CALL(ce_forward, v[0], v[1], ignore, s[1], v[2], v[3]);
      }
      return 1;
    }
    case 4:
    case 6: {  // lstmCellForward / gruCellForward: [hasBias]; gi, gh, bias, state, out, saved
      if (!need(1, 6)) return -1;
      const bool lstm = id == 4, hb = s[0] != 0;
      const bool skip[6] = {false, false, !hb, false, false, false};
      if (!same_float(v, 6, skip, &dt)) return 0;
      if (v[3].ndim != 2) return ck.fail("nabla native: cell: state must be 2-D"), -1;
      const int64_t B = v[3].shape[0], H = v[3].shape[1], G = lstm ? 4 : 3;
      ck.shape(v[0], {B, G * H}, "nabla native: cell: gi shape");
      ck.shape(v[1], {B, G * H}, "nabla native: cell: gh shape");
      if (hb) ck.shape(v[2], {G * H}, "nabla native: cell: bias shape");
      if (lstm) {
        ck.shape(v[4], {2, B, H}, "nabla native: lstm: out shape");
      } else {
        ck.shape(v[4], {B, H}, "nabla native: gru: out shape");
      }
      ck.shape(v[5], {B, 4 * H}, "nabla native: cell: saved shape");
      if (!ck.ok) return -1;
      if (lstm) {
        NABLA_FUSED_CALL(lstm_forward, v[0], v[1], hb ? &v[2] : nullptr, v[3], v[4], v[5]);
      } else {
        NABLA_FUSED_CALL(gru_forward, v[0], v[1], hb ? &v[2] : nullptr, v[3], v[4], v[5]);
      }
      return 1;
    }
    case 5: {  // lstmCellBackward: [hasGH, hasGC]; gates, c, out, gH, gC, dGates, dc
      if (!need(2, 7)) return -1;
      const bool hh = s[0] != 0, hc = s[1] != 0;
      const bool skip[7] = {false, false, false, !hh, !hc, false, false};
      if (!same_float(v, 7, skip, &dt)) return 0;
      if (v[1].ndim != 2) return ck.fail("nabla native: lstm: c must be 2-D"), -1;
      const int64_t B = v[1].shape[0], H = v[1].shape[1];
      ck.shape(v[0], {B, 4 * H}, "nabla native: lstm: gates shape");
      ck.shape(v[2], {2, B, H}, "nabla native: lstm: out shape");
      if (hh) ck.shape(v[3], {B, H}, "nabla native: lstm: gH shape");
      if (hc) ck.shape(v[4], {B, H}, "nabla native: lstm: gC shape");
      ck.shape(v[5], {B, 4 * H}, "nabla native: lstm: dGates shape");
      ck.shape(v[6], {B, H}, "nabla native: lstm: dc shape");
      if (!ck.ok) return -1;
      NABLA_FUSED_CALL(lstm_backward, v[0], v[1], v[2], hh ? &v[3] : nullptr, hc ? &v[4] : nullptr,
                       v[5], v[6]);
      return 1;
    }
    case 7: {  // gruCellBackward: saved, h, gOut, dgi, dgh, dh
      if (!need(0, 6)) return -1;
      if (!same_float(v, 6, nullptr, &dt)) return 0;
      if (v[1].ndim != 2) return ck.fail("nabla native: gru: h must be 2-D"), -1;
      const int64_t B = v[1].shape[0], H = v[1].shape[1];
      ck.shape(v[0], {B, 4 * H}, "nabla native: gru: saved shape");
      ck.shape(v[2], {B, H}, "nabla native: gru: gOut shape");
      ck.shape(v[3], {B, 3 * H}, "nabla native: gru: dgi shape");
      ck.shape(v[4], {B, 3 * H}, "nabla native: gru: dgh shape");
      ck.shape(v[5], {B, H}, "nabla native: gru: dh shape");
      if (!ck.ok) return -1;
      NABLA_FUSED_CALL(gru_backward, v[0], v[1], v[2], v[3], v[4], v[5]);
      return 1;
    }
    case 8: {  // adamUpdate: [lr, b1, b2, eps, wd, step, decoupled, maximize, hasMax]; p, g, m, v, vmax
      if (!need(9, 5)) return -1;
      const bool hm = s[8] != 0;
      const bool skip[5] = {false, false, false, false, !hm};
      if (!same_float(v, 5, skip, &dt)) return 0;
      const int64_t n = v[0].numel();
      for (int i = 0; i < (hm ? 5 : 4); i++) {
        if (v[i].numel() != n) return ck.fail("nabla native: adam: sizes differ"), -1;
        if (!contiguous(v[i])) return 0;  // strided state: the reference kernel
      }
      NABLA_FUSED_CALL(adam, v[0], v[1], v[2], v[3], hm ? &v[4] : nullptr, s);
      return 1;
    }
    default:
      ck.fail("nabla native: unknown fused kernel");
      return -1;
  }
}

}  // namespace nabla
