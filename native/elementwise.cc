// Elementwise kernels: fill, copy (with dtype casts), unary, binary and where, over any strides
// (stride 0 broadcasts). Operands are coalesced (common.h) so contiguous tensors run as one flat
// loop the compiler vectorizes; large ones are split across the thread pool.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "pool.h"
#include "vmath.h"

namespace nabla {

namespace {

// Elements per task below which a kernel stays on the calling thread.
constexpr int64_t kGrain = 1 << 15;

// Runs f(offs, n, inner) over the plan, splitting it across threads when it is large (and the
// output does not overlap an input in a way that makes the order of writes matter).
template <int K, typename F>
void run_plan(const Plan<K>& p, const int64_t* base, bool parallel, F&& f) {
  if (p.empty) return;
  const int64_t total = p.rows() * p.inner();
  if (!parallel || total < 2 * kGrain || num_threads() <= 1) {
    for_range<K>(p, base, 0, total, f);
    return;
  }
  parallel_chunks(
      total, kGrain, [&](int64_t b, int64_t e, int) { for_range<K>(p, base, b, e, f); }, 64);
}

// Whether writing `out` while reading `in` could observe already-written elements: same array,
// and not exactly the same elements in the same order.
bool overlaps(const View& out, const View& in) {
  if (out.data != in.data) return false;
  if (out.offset != in.offset || out.ndim != in.ndim) return true;
  for (int d = 0; d < out.ndim; d++) {
    if (out.shape[d] != 1 && out.strides[d] != in.strides[d]) return true;
  }
  return false;
}

template <int K>
Plan<K> plan_of(const View* const views[K]) {
  const int64_t* strides[K];
  for (int k = 0; k < K; k++) strides[k] = views[k]->strides;
  return make_plan<K>(views[0]->ndim, views[0]->shape, strides);
}

// ---- fill -------------------------------------------------------------------------------------

template <typename T>
void fill_impl(const View& out, double value) {
  const T v = Store<T>::cast(value);
  T* o = static_cast<T*>(out.data);
  const View* vs[1] = {&out};
  const Plan<1> p = plan_of<1>(vs);
  const int64_t base[1] = {out.offset};
  run_plan<1>(p, base, true, [&](const int64_t* off, int64_t n, const int64_t* in) {
    T* q = o + off[0];
    if (in[0] == 1) {
      std::fill(q, q + n, v);
    } else {
      for (int64_t i = 0; i < n; i++) q[i * in[0]] = v;
    }
  });
}

// ---- copy -------------------------------------------------------------------------------------

// A transposing copy (the destination's contiguous dim is strided in the source, and some other
// dim `d1` is close to contiguous there) in square tiles, so that both sides stay in cache. The
// remaining dims are walked one by one.
template <typename S, typename D>
bool tiled_copy(const Plan<2>& p, const S* x, D* o, const int64_t* base, bool parallel) {
  const int nd = p.nd;
  if (nd < 2 || p.strides[0][nd - 1] != 1) return false;
  const int64_t sxInner = std::llabs(p.strides[1][nd - 1]);
  if (sxInner < 16) return false;
  int d1 = -1;
  for (int d = 0; d < nd - 1; d++) {
    const int64_t s = std::llabs(p.strides[1][d]);
    if (s < sxInner && (d1 < 0 || s < std::llabs(p.strides[1][d1]))) d1 = d;
  }
  if (d1 < 0 || std::llabs(p.strides[1][d1]) > 8 || p.shape[d1] < 8 || p.shape[nd - 1] < 8) {
    return false;
  }
  constexpr int64_t T = 8;  // small: power-of-two strides alias in the cache beyond this
  const int64_t n1 = p.shape[d1], n2 = p.shape[nd - 1];
  const int64_t so1 = p.strides[0][d1], sx1 = p.strides[1][d1], sx2 = p.strides[1][nd - 1];
  // The other dims, flattened.
  int others[kMaxDims];
  int no = 0;
  int64_t count = 1;
  for (int d = 0; d < nd - 1; d++) {
    if (d != d1) {
      others[no++] = d;
      count *= p.shape[d];
    }
  }
  const int64_t tiles1 = (n1 + T - 1) / T;
  auto run = [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      int64_t r = u / tiles1;
      const int64_t i0 = (u % tiles1) * T;
      int64_t oo = base[0], ox = base[1];
      for (int q = no - 1; q >= 0; q--) {
        const int d = others[q];
        const int64_t i = r % p.shape[d];
        r /= p.shape[d];
        oo += i * p.strides[0][d];
        ox += i * p.strides[1][d];
      }
      const int64_t i1 = std::min(n1, i0 + T);
      for (int64_t j0 = 0; j0 < n2; j0 += T) {
        const int64_t j1 = std::min(n2, j0 + T);
        for (int64_t i = i0; i < i1; i++) {
          D* q = o + oo + i * so1;
          const S* s = x + ox + i * sx1;
          for (int64_t j = j0; j < j1; j++) q[j] = Store<D>::cast(s[j * sx2]);
        }
      }
    }
  };
  const int64_t units = count * tiles1;
  if (parallel && units * T * n2 >= 2 * kGrain && num_threads() > 1) {
    parallel_chunks(units, std::max<int64_t>(1, kGrain / (T * n2)),
                    [&](int64_t b, int64_t e, int) { run(b, e); });
  } else {
    run(0, units);
  }
  return true;
}

template <typename S, typename D>
void copy_impl(const View& src, const View& dst) {
  const S* x = static_cast<const S*>(src.data);
  D* o = static_cast<D*>(dst.data);
  const View* vs[2] = {&dst, &src};
  const Plan<2> p = plan_of<2>(vs);
  const int64_t base[2] = {dst.offset, src.offset};
  const bool same = std::is_same<S, D>::value;
  if (!p.empty && dst.data != src.data && tiled_copy<S, D>(p, x, o, base, true)) return;
  run_plan<2>(p, base, !overlaps(dst, src), [&](const int64_t* off, int64_t n, const int64_t* in) {
    D* q = o + off[0];
    const S* s = x + off[1];
    const int64_t so = in[0], sx = in[1];
    if (same && so == 1 && sx == 1) {
      std::memmove(static_cast<void*>(q), static_cast<const void*>(s), n * sizeof(D));
    } else if (so == 1 && sx == 1) {
      for (int64_t i = 0; i < n; i++) q[i] = Store<D>::cast(s[i]);
    } else if (so == 1 && sx == 0) {
      std::fill(q, q + n, Store<D>::cast(s[0]));
    } else {
      for (int64_t i = 0; i < n; i++) q[i * so] = Store<D>::cast(s[i * sx]);
    }
  });
}

template <typename S>
bool copy_from(const View& src, const View& dst) {
  switch (dst.dt) {
    case DT::F32:
      copy_impl<S, float>(src, dst);
      return true;
    case DT::F64:
      copy_impl<S, double>(src, dst);
      return true;
    case DT::I32:
      copy_impl<S, int32_t>(src, dst);
      return true;
    case DT::U8:
      copy_impl<S, uint8_t>(src, dst);
      return true;
  }
  return false;
}

// ---- GELU, scalar -----------------------------------------------------------------------------

// The scalar GELU and its derivatives (float64, and float32 where no SIMD path runs): the same
// functions as src/backend/ref/scalar-math.ts, in forms without cancellation (Φ(x) through erfc,
// ½(1 + tanh u) as σ(2u)), with the limits at ±∞ (gelu(−∞) = −0, gelu′(+∞) = 1, gelu′(−∞) = 0).
template <typename C>
inline C sigmoid_s(C z) {
  if (z >= 0) return C(1) / (C(1) + std::exp(-z));
  const C e = std::exp(z);
  return e / (C(1) + e);
}
constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kTwoSqrt2OverPi = 1.5957691216057307117;  // 2·√(2/π)
constexpr double kGeluC = 0.044715;

template <typename C>
inline C gelu_s(C x) {
  if (std::isinf(x)) return x > 0 ? x : C(-0.0);
  return C(0.5) * x * std::erfc(-x * C(kSqrt1_2));
}
template <typename C>
inline C gelu_grad_s(C x) {
  if (std::isinf(x)) return x > 0 ? C(1) : C(0);
  return C(0.5) * std::erfc(-x * C(kSqrt1_2)) + x * C(kInvSqrt2Pi) * std::exp(C(-0.5) * x * x);
}
template <typename C>
inline C gelu_tanh_s(C x) {
  if (std::isinf(x)) return x > 0 ? x : C(-0.0);
  return x * sigmoid_s(C(kTwoSqrt2OverPi) * (x + C(kGeluC) * x * x * x));
}
template <typename C>
inline C gelu_tanh_grad_s(C x) {
  // Past |x| = 1000, σ·(1 − σ) is 0 and x³ could overflow.
  if (std::fabs(x) > C(1000)) return x > 0 ? C(1) : C(0);
  const C z = C(kTwoSqrt2OverPi) * (x + C(kGeluC) * x * x * x);
  const C s = sigmoid_s(z), sm = sigmoid_s(-z);
  return s + x * s * sm * C(kTwoSqrt2OverPi) * (C(1) + C(3 * kGeluC) * x * x);
}

// ---- unary ------------------------------------------------------------------------------------

// The scalar definition of each op, in the compute type C (float for float32, double otherwise),
// matching src/backend/ref/elementwise.ts.
template <Unary OP, typename C>
inline C unary_fn(C x) {
  switch (OP) {
    case Unary::Neg:
      return -x;
    case Unary::Exp:
      return std::exp(x);
    case Unary::Log:
      return std::log(x);
    case Unary::Sqrt:
      return std::sqrt(x);
    case Unary::Rsqrt:
      return C(1) / std::sqrt(x);
    case Unary::Abs:
      return std::fabs(x);
    case Unary::Sign:
      return x > 0 ? C(1) : x < 0 ? C(-1) : x;  // keeps ±0 and NaN, as Math.sign
    case Unary::Sin:
      return std::sin(x);
    case Unary::Cos:
      return std::cos(x);
    case Unary::Tanh:
      return std::tanh(x);
    case Unary::Sigmoid:
      if (x >= 0) return C(1) / (C(1) + std::exp(-x));
      {
        const C e = std::exp(x);
        return e / (C(1) + e);
      }
    case Unary::Relu:
      return x > 0 ? x : (x == x ? C(0) : x);  // keeps NaN, as PyTorch does
    case Unary::Erf:
      return std::erf(x);
    case Unary::Reciprocal:
      return C(1) / x;
    case Unary::Square:
      return x * x;
    case Unary::Floor:
      return std::floor(x);
    case Unary::LogicalNot:
      return x == 0 ? C(1) : C(0);
    case Unary::IsFinite:
      return std::isfinite(x) ? C(1) : C(0);
    case Unary::Gelu:
      return gelu_s(x);
    case Unary::GeluTanh:
      return gelu_tanh_s(x);
    default:
      return x;
  }
}

template <typename T>
struct Compute {
  using type = double;
};
template <>
struct Compute<float> {
  using type = float;
};

// A contiguous float run of op through the SIMD math (vmath.h); false when op has none (or the CPU
// lacks it).
template <Unary OP, typename T, typename U>
struct UnaryFast {
  static constexpr bool exists = false;
  static bool run(const T*, U*, int64_t) { return false; }
};
#define NABLA_VMATH_UNARY(OPNAME, FN)                                                       \
  template <>                                                                               \
  struct UnaryFast<Unary::OPNAME, float, float> {                                           \
    static constexpr bool exists = true;                                                    \
    static bool run(const float* x, float* o, int64_t n) { return vmath::FN(x, o, n); }     \
  };
NABLA_VMATH_UNARY(Exp, exp_f32)
NABLA_VMATH_UNARY(Log, log_f32)
NABLA_VMATH_UNARY(Tanh, tanh_f32)
NABLA_VMATH_UNARY(Sigmoid, sigmoid_f32)
NABLA_VMATH_UNARY(Erf, erf_f32)
NABLA_VMATH_UNARY(Gelu, gelu_f32)
NABLA_VMATH_UNARY(GeluTanh, gelu_tanh_f32)
#undef NABLA_VMATH_UNARY

// Elements per block when a strided run is gathered into a buffer for the SIMD math.
constexpr int64_t kBlock = 256;

template <Unary OP, typename T, typename U>
void unary_impl(const View& xv, const View& out) {
  using C = typename Compute<T>::type;
  const T* x = static_cast<const T*>(xv.data);
  U* o = static_cast<U*>(out.data);
  const View* vs[2] = {&out, &xv};
  const Plan<2> p = plan_of<2>(vs);
  const int64_t base[2] = {out.offset, xv.offset};
  run_plan<2>(p, base, !overlaps(out, xv), [&](const int64_t* off, int64_t n, const int64_t* in) {
    U* q = o + off[0];
    const T* s = x + off[1];
    const int64_t so = in[0], sx = in[1];
    if (so == 1 && sx == 1) {
      if (UnaryFast<OP, T, U>::run(s, q, n)) return;
      for (int64_t i = 0; i < n; i++) q[i] = Store<U>::cast(unary_fn<OP, C>(static_cast<C>(s[i])));
      return;
    }
    if constexpr (UnaryFast<OP, T, U>::exists) {
      // Strided or broadcast: through a contiguous buffer, so that every element takes the same
      // (SIMD) path whatever the layout.
      T in[kBlock];
      U res[kBlock];
      for (int64_t b = 0; b < n; b += kBlock) {
        const int64_t m = std::min(kBlock, n - b);
        for (int64_t i = 0; i < m; i++) in[i] = s[(b + i) * sx];
        if (!UnaryFast<OP, T, U>::run(in, res, m)) break;
        for (int64_t i = 0; i < m; i++) q[(b + i) * so] = res[i];
        if (b + m == n) return;
      }
    }
    for (int64_t i = 0; i < n; i++) {
      q[i * so] = Store<U>::cast(unary_fn<OP, C>(static_cast<C>(s[i * sx])));
    }
  });
}

template <Unary OP, typename T>
bool unary_out(const View& x, const View& out) {
  if (out.dt == x.dt) {
    unary_impl<OP, T, T>(x, out);
    return true;
  }
  if (out.dt == DT::U8) {
    unary_impl<OP, T, uint8_t>(x, out);
    return true;
  }
  return false;
}

template <Unary OP>
bool unary_op(const View& x, const View& out) {
  switch (x.dt) {
    case DT::F32:
      return unary_out<OP, float>(x, out);
    case DT::F64:
      return unary_out<OP, double>(x, out);
    case DT::I32:
      return unary_out<OP, int32_t>(x, out);
    default:
      return false;
  }
}

using UnaryEntry = bool (*)(const View&, const View&);
const UnaryEntry kUnary[] = {
    &unary_op<Unary::Neg>,        &unary_op<Unary::Exp>,        &unary_op<Unary::Log>,
    &unary_op<Unary::Sqrt>,       &unary_op<Unary::Rsqrt>,      &unary_op<Unary::Abs>,
    &unary_op<Unary::Sign>,       &unary_op<Unary::Sin>,        &unary_op<Unary::Cos>,
    &unary_op<Unary::Tanh>,       &unary_op<Unary::Sigmoid>,    &unary_op<Unary::Relu>,
    &unary_op<Unary::Erf>,        &unary_op<Unary::Reciprocal>, &unary_op<Unary::Square>,
    &unary_op<Unary::Floor>,      &unary_op<Unary::LogicalNot>, &unary_op<Unary::IsFinite>,
    &unary_op<Unary::Gelu>,       &unary_op<Unary::GeluTanh>,
};
static_assert(sizeof(kUnary) / sizeof(kUnary[0]) == static_cast<int>(Unary::Count),
              "one entry per unary op");

// ---- binary -----------------------------------------------------------------------------------

// Math.pow's special cases where C's pow differs: a NaN exponent, and (±1) ** ±Infinity.
inline double js_pow(double a, double b) {
  if (b != b) return b;
  if (std::isinf(b) && std::fabs(a) == 1) return NAN;
  return std::pow(a, b);
}

template <Binary OP, typename C>
inline C binary_fn(C a, C b) {
  switch (OP) {
    case Binary::Add:
      return a + b;
    case Binary::Sub:
      return a - b;
    case Binary::Mul:
      return a * b;
    case Binary::Div:
      return a / b;
    case Binary::Pow:
      return static_cast<C>(js_pow(static_cast<double>(a), static_cast<double>(b)));
    case Binary::Maximum:
      return (a != a || b != b) ? C(NAN) : (a > b ? a : b);
    case Binary::Minimum:
      return (a != a || b != b) ? C(NAN) : (a < b ? a : b);
    case Binary::Eq:
      return a == b ? C(1) : C(0);
    case Binary::Ne:
      return a != b ? C(1) : C(0);
    case Binary::Lt:
      return a < b ? C(1) : C(0);
    case Binary::Le:
      return a <= b ? C(1) : C(0);
    case Binary::Gt:
      return a > b ? C(1) : C(0);
    case Binary::Ge:
      return a >= b ? C(1) : C(0);
    case Binary::LogicalAnd:
      return (a != 0 && b != 0) ? C(1) : C(0);
    case Binary::LogicalOr:
      return (a != 0 || b != 0) ? C(1) : C(0);
    case Binary::GeluGrad:
      return b * gelu_grad_s(a);
    case Binary::GeluTanhGrad:
      return b * gelu_tanh_grad_s(a);
    default:
      return a;
  }
}

// out = b·f′(a) over contiguous float runs through the SIMD math; false when op has none.
template <Binary OP, typename T, typename U>
struct BinaryFast {
  static constexpr bool exists = false;
  static bool run(const T*, const T*, U*, int64_t) { return false; }
};
#define NABLA_VMATH_BINARY(OPNAME, FN)                                             \
  template <>                                                                      \
  struct BinaryFast<Binary::OPNAME, float, float> {                                \
    static constexpr bool exists = true;                                           \
    static bool run(const float* a, const float* b, float* o, int64_t n) {         \
      return vmath::FN(a, b, o, n);                                                \
    }                                                                              \
  };
NABLA_VMATH_BINARY(GeluGrad, gelu_grad_f32)
NABLA_VMATH_BINARY(GeluTanhGrad, gelu_tanh_grad_f32)
#undef NABLA_VMATH_BINARY

template <Binary OP, typename T, typename U>
void binary_impl(const View& av, const View& bv, const View& out) {
  using C = typename Compute<T>::type;
  const T* a = static_cast<const T*>(av.data);
  const T* b = static_cast<const T*>(bv.data);
  U* o = static_cast<U*>(out.data);
  const View* vs[3] = {&out, &av, &bv};
  const Plan<3> p = plan_of<3>(vs);
  const int64_t base[3] = {out.offset, av.offset, bv.offset};
  const bool par = !overlaps(out, av) && !overlaps(out, bv);
  run_plan<3>(p, base, par, [&](const int64_t* off, int64_t n, const int64_t* in) {
    U* q = o + off[0];
    const T* x = a + off[1];
    const T* y = b + off[2];
    const int64_t so = in[0], sa = in[1], sb = in[2];
    if constexpr (BinaryFast<OP, T, U>::exists) {
      if (so == 1 && sa == 1 && sb == 1) {
        if (BinaryFast<OP, T, U>::run(x, y, q, n)) return;
      } else {
        // Any other layout (broadcasts included) through contiguous buffers.
        T xa[kBlock], yb[kBlock];
        U res[kBlock];
        bool done = false;
        for (int64_t b = 0; b < n; b += kBlock) {
          const int64_t m = std::min(kBlock, n - b);
          for (int64_t i = 0; i < m; i++) {
            xa[i] = x[(b + i) * sa];
            yb[i] = y[(b + i) * sb];
          }
          if (!BinaryFast<OP, T, U>::run(xa, yb, res, m)) break;
          for (int64_t i = 0; i < m; i++) q[(b + i) * so] = res[i];
          done = b + m == n;
        }
        if (done) return;
      }
    }
    if (so == 1 && sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; i++) {
        q[i] = Store<U>::cast(binary_fn<OP, C>(static_cast<C>(x[i]), static_cast<C>(y[i])));
      }
    } else if (so == 1 && sa == 1 && sb == 0) {
      const C yv = static_cast<C>(y[0]);
      for (int64_t i = 0; i < n; i++) q[i] = Store<U>::cast(binary_fn<OP, C>(static_cast<C>(x[i]), yv));
    } else if (so == 1 && sa == 0 && sb == 1) {
      const C xv = static_cast<C>(x[0]);
      for (int64_t i = 0; i < n; i++) q[i] = Store<U>::cast(binary_fn<OP, C>(xv, static_cast<C>(y[i])));
    } else {
      for (int64_t i = 0; i < n; i++) {
        q[i * so] = Store<U>::cast(
            binary_fn<OP, C>(static_cast<C>(x[i * sa]), static_cast<C>(y[i * sb])));
      }
    }
  });
}

template <Binary OP, typename T>
bool binary_out(const View& a, const View& b, const View& out) {
  if (out.dt == a.dt) {
    binary_impl<OP, T, T>(a, b, out);
    return true;
  }
  if (out.dt == DT::U8) {
    binary_impl<OP, T, uint8_t>(a, b, out);
    return true;
  }
  return false;
}

template <Binary OP>
bool binary_op(const View& a, const View& b, const View& out) {
  if (a.dt != b.dt) return false;
  switch (a.dt) {
    case DT::F32:
      return binary_out<OP, float>(a, b, out);
    case DT::F64:
      return binary_out<OP, double>(a, b, out);
    case DT::I32:
      return binary_out<OP, int32_t>(a, b, out);
    case DT::U8:
      return binary_out<OP, uint8_t>(a, b, out);
  }
  return false;
}

using BinaryEntry = bool (*)(const View&, const View&, const View&);
const BinaryEntry kBinary[] = {
    &binary_op<Binary::Add>,        &binary_op<Binary::Sub>,       &binary_op<Binary::Mul>,
    &binary_op<Binary::Div>,        &binary_op<Binary::Pow>,       &binary_op<Binary::Maximum>,
    &binary_op<Binary::Minimum>,    &binary_op<Binary::Eq>,        &binary_op<Binary::Ne>,
    &binary_op<Binary::Lt>,         &binary_op<Binary::Le>,        &binary_op<Binary::Gt>,
    &binary_op<Binary::Ge>,         &binary_op<Binary::LogicalAnd>, &binary_op<Binary::LogicalOr>,
    &binary_op<Binary::GeluGrad>,   &binary_op<Binary::GeluTanhGrad>,
};
static_assert(sizeof(kBinary) / sizeof(kBinary[0]) == static_cast<int>(Binary::Count),
              "one entry per binary op");

// ---- where ------------------------------------------------------------------------------------

// Selection moves bits, so one instantiation per element size serves every dtype.
template <typename E>
void where_impl(const View& cv, const View& av, const View& bv, const View& out) {
  const uint8_t* c = static_cast<const uint8_t*>(cv.data);
  const E* a = static_cast<const E*>(av.data);
  const E* b = static_cast<const E*>(bv.data);
  E* o = static_cast<E*>(out.data);
  const View* vs[4] = {&out, &cv, &av, &bv};
  const Plan<4> p = plan_of<4>(vs);
  const int64_t base[4] = {out.offset, cv.offset, av.offset, bv.offset};
  const bool par = !overlaps(out, av) && !overlaps(out, bv);
  run_plan<4>(p, base, par, [&](const int64_t* off, int64_t n, const int64_t* in) {
    E* q = o + off[0];
    const uint8_t* m = c + off[1];
    const E* x = a + off[2];
    const E* y = b + off[3];
    const int64_t so = in[0], sc = in[1], sa = in[2], sb = in[3];
    if (so == 1 && sc == 1 && sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; i++) q[i] = m[i] != 0 ? x[i] : y[i];
    } else {
      for (int64_t i = 0; i < n; i++) q[i * so] = m[i * sc] != 0 ? x[i * sa] : y[i * sb];
    }
  });
}

int elem_size(DT dt) {
  switch (dt) {
    case DT::F64:
      return 8;
    case DT::U8:
      return 1;
    default:
      return 4;
  }
}

}  // namespace

bool k_fill(const View& out, double value) {
  switch (out.dt) {
    case DT::F32:
      fill_impl<float>(out, value);
      return true;
    case DT::F64:
      fill_impl<double>(out, value);
      return true;
    case DT::I32:
      fill_impl<int32_t>(out, value);
      return true;
    case DT::U8:
      fill_impl<uint8_t>(out, value);
      return true;
  }
  return false;
}

bool k_copy(const View& src, const View& dst) {
  switch (src.dt) {
    case DT::F32:
      return copy_from<float>(src, dst);
    case DT::F64:
      return copy_from<double>(src, dst);
    case DT::I32:
      return copy_from<int32_t>(src, dst);
    case DT::U8:
      return copy_from<uint8_t>(src, dst);
  }
  return false;
}

bool k_unary(Unary op, const View& x, const View& out) {
  const int i = static_cast<int>(op);
  if (i < 0 || i >= static_cast<int>(Unary::Count)) return false;
  return kUnary[i](x, out);
}

bool k_binary(Binary op, const View& a, const View& b, const View& out) {
  const int i = static_cast<int>(op);
  if (i < 0 || i >= static_cast<int>(Binary::Count)) return false;
  return kBinary[i](a, b, out);
}

bool k_where(const View& cond, const View& a, const View& b, const View& out) {
  if (cond.dt != DT::U8 || a.dt != out.dt || b.dt != out.dt) return false;
  switch (elem_size(out.dt)) {
    case 1:
      where_impl<uint8_t>(cond, a, b, out);
      return true;
    case 4:
      where_impl<uint32_t>(cond, a, b, out);
      return true;
    case 8:
      where_impl<uint64_t>(cond, a, b, out);
      return true;
  }
  return false;
}

}  // namespace nabla
