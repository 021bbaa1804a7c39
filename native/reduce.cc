// Reductions: sum/max/min over a set of axes (accumulated in double, as the reference backend
// does in JavaScript numbers), and argmax/argmin along one axis.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace nabla {

namespace {

constexpr int64_t kGrain = 1 << 15;
// The number of pieces a large reduction to few outputs is cut into (at most; by size only).
constexpr int64_t kMaxPieces = 16;

// Sum of a strided run, in double.
template <typename T>
inline double row_sum(const T* x, int64_t n, int64_t s) {
  double acc = 0;
  if (s == 1) {
#if defined(_OPENMP) || defined(__GNUC__) || defined(__clang__)
#pragma omp simd reduction(+ : acc)
#endif
    for (int64_t i = 0; i < n; i++) acc += static_cast<double>(x[i]);
  } else {
    for (int64_t i = 0; i < n; i++) acc += static_cast<double>(x[i * s]);
  }
  return acc;
}

// max (IS_MAX) or min of m and a strided run; a NaN anywhere gives NaN.
template <bool IS_MAX, typename T>
inline double row_extreme(double m, const T* x, int64_t n, int64_t s) {
  auto better = [](double v, double cur) { return IS_MAX ? (v > cur || v != v) : (v < cur || v != v); };
  int64_t i = 0;
  if (s == 1 && n >= 16) {
    double lanes[8];
    for (int l = 0; l < 8; l++) lanes[l] = m;
    for (; i + 8 <= n; i += 8) {
      for (int l = 0; l < 8; l++) {
        const double v = static_cast<double>(x[i + l]);
        lanes[l] = better(v, lanes[l]) ? v : lanes[l];
      }
    }
    for (int l = 0; l < 8; l++) m = better(lanes[l], m) ? lanes[l] : m;
  }
  for (; i < n; i++) {
    const double v = static_cast<double>(x[i * s]);
    m = better(v, m) ? v : m;
  }
  return m;
}

template <typename T>
void reduce_impl(Reduce op, const View& x, const int* axes, int naxes, const View& out) {
  const int nd = x.ndim;
  bool red[kMaxDims] = {};
  for (int i = 0; i < naxes; i++) red[axes[i]] = true;
  // The accumulator: one double per output, laid out like the kept dims (row-major).
  int64_t accStride[kMaxDims];
  int64_t outsize = 1;
  for (int d = nd - 1; d >= 0; d--) {
    accStride[d] = red[d] ? 0 : outsize;
    if (!red[d]) outsize *= x.shape[d];
  }
  const double init = op == Reduce::Sum ? 0.0 : op == Reduce::Max ? -INFINITY : INFINITY;
  std::vector<double> acc(static_cast<size_t>(outsize), init);
  const T* xd = static_cast<const T*>(x.data);

  // Walk x in memory order: dims sorted by decreasing stride, then coalesced.
  int order[kMaxDims];
  for (int d = 0; d < nd; d++) order[d] = d;
  std::stable_sort(order, order + nd, [&](int p, int q) {
    return std::llabs(x.strides[p]) > std::llabs(x.strides[q]);
  });
  int64_t shape[kMaxDims], xs[kMaxDims], as[kMaxDims];
  for (int i = 0; i < nd; i++) {
    shape[i] = x.shape[order[i]];
    xs[i] = x.strides[order[i]];
    as[i] = accStride[order[i]];
  }
  const int64_t* strides[2] = {as, xs};
  const Plan<2> p = make_plan<2>(nd, shape, strides);
  const int64_t total = p.empty ? 0 : p.rows() * p.inner();

  // Accumulates the part [e0, e1) of plan q's iteration space (offsets `base`) into A.
  auto body = [&](double* A, const Plan<2>& q, const int64_t* base, int64_t e0, int64_t e1) {
    for_range<2>(q, base, e0, e1, [&](const int64_t* off, int64_t n, const int64_t* in) {
      double* a = A + off[0];
      const T* s = xd + off[1];
      const int64_t sa = in[0], sx = in[1];
      if (op == Reduce::Sum) {
        if (sa == 0) {
          *a += row_sum(s, n, sx);
        } else if (sa == 1 && sx == 1) {
          for (int64_t i = 0; i < n; i++) a[i] += static_cast<double>(s[i]);
        } else {
          for (int64_t i = 0; i < n; i++) a[i * sa] += static_cast<double>(s[i * sx]);
        }
      } else if (op == Reduce::Max) {
        if (sa == 0) {
          *a = row_extreme<true>(*a, s, n, sx);
        } else {
          for (int64_t i = 0; i < n; i++) {
            const double v = static_cast<double>(s[i * sx]);
            if (v > a[i * sa] || v != v) a[i * sa] = v;
          }
        }
      } else {
        if (sa == 0) {
          *a = row_extreme<false>(*a, s, n, sx);
        } else {
          for (int64_t i = 0; i < n; i++) {
            const double v = static_cast<double>(s[i * sx]);
            if (v < a[i * sa] || v != v) a[i * sa] = v;
          }
        }
      }
    });
  };

  // Which strategy runs depends on the sizes only, never on the thread count, so that the result
  // is the same for any number of threads:
  //  - the outermost dim (in memory order) is kept: it is split into ranges, each a task that
  //    computes its outputs exactly as the serial loop does (same terms, same order);
  //  - otherwise, with few outputs for the input's size: the input is cut into a fixed number of
  //    pieces (by size alone), each reduced into its own partials, which are then combined in
  //    piece order (each thread streams through contiguous memory);
  //  - otherwise (many outputs, an outer dim reduced): the kept dim of largest extent is split,
  //    again computing each output as the serial loop does.
  const int64_t xbase[2] = {0, x.offset};
  int split = -1;
  if (p.strides[0][0] != 0 && p.shape[0] >= 2) {
    split = 0;
  } else if (outsize * 4 * kMaxPieces > total) {
    for (int d = 0; d < p.nd; d++) {
      if (p.strides[0][d] != 0 && p.shape[d] >= 2 && (split < 0 || p.shape[d] > p.shape[split]))
        split = d;
    }
  }
  if (total >= 2 * kGrain && split >= 0) {
    const int64_t n = p.shape[split];
    const int64_t per = total / n;  // elements per index of the split dim
    const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(per, 1));
    parallel_chunks(n, grain, [&](int64_t b, int64_t e, int) {
      Plan<2> q = p;
      q.shape[split] = e - b;
      const int64_t base[2] = {b * p.strides[0][split], x.offset + b * p.strides[1][split]};
      body(acc.data(), q, base, 0, (e - b) * per);
    });
  } else if (total >= 2 * kGrain && outsize * 4 * kMaxPieces <= total) {
    const int64_t parts = std::min<int64_t>(kMaxPieces, total / kGrain);
    std::vector<double> partial(static_cast<size_t>(parts * outsize), init);
    const int64_t chunk = (total + parts - 1) / parts;
    parallel_for(parts, [&](int64_t t, int) {
      body(partial.data() + t * outsize, p, xbase, t * chunk, std::min(total, (t + 1) * chunk));
    });
    for (int64_t t = 0; t < parts; t++) {
      const double* q = partial.data() + t * outsize;
      for (int64_t i = 0; i < outsize; i++) {
        const double v = q[i];
        double& a = acc[static_cast<size_t>(i)];
        if (op == Reduce::Sum) {
          a += v;
        } else if (op == Reduce::Max) {
          if (v > a || v != v) a = v;
        } else if (v < a || v != v) {
          a = v;
        }
      }
    }
  } else {
    body(acc.data(), p, xbase, 0, total);
  }

  // Store, in the output's dtype, through its strides (out has x's shape with 1 on the axes).
  T* o = static_cast<T*>(out.data);
  int64_t contig[kMaxDims];
  {
    int64_t s = 1;
    for (int d = out.ndim - 1; d >= 0; d--) {
      contig[d] = s;
      s *= out.shape[d];
    }
  }
  const int64_t* os[2] = {out.strides, contig};
  const Plan<2> po = make_plan<2>(out.ndim, out.shape, os);
  const int64_t obase[2] = {out.offset, 0};
  for_range<2>(po, obase, 0, po.empty ? 0 : po.rows() * po.inner(),
               [&](const int64_t* off, int64_t n, const int64_t* in) {
                 for (int64_t i = 0; i < n; i++) {
                   o[off[0] + i * in[0]] = Store<T>::cast(acc[static_cast<size_t>(off[1] + i * in[1])]);
                 }
               });
}

template <typename T>
void arg_impl(bool is_max, const View& x, int axis, const View& out) {
  const int64_t n = x.shape[axis];
  const int64_t s = x.strides[axis];
  int64_t shape[kMaxDims];
  for (int d = 0; d < x.ndim; d++) shape[d] = d == axis ? 1 : x.shape[d];
  const int64_t* strides[2] = {out.strides, x.strides};
  const Plan<2> p = make_plan<2>(x.ndim, shape, strides);
  if (p.empty) return;
  const T* xd = static_cast<const T*>(x.data);
  int32_t* o = static_cast<int32_t*>(out.data);
  const int64_t base[2] = {out.offset, x.offset};
  const int64_t total = p.rows() * p.inner();
  auto scan = [&](const int64_t* off, int64_t len, const int64_t* in) {
    for (int64_t i = 0; i < len; i++) {
      const T* q = xd + off[1] + i * in[1];
      int32_t bestIdx = 0;
      if (n > 0) {
        T best = q[0];
        if (best == best) {
          for (int64_t j = 1; j < n; j++) {
            const T v = q[j * s];
            if (v != v) {
              bestIdx = static_cast<int32_t>(j);  // NaN wins, as in PyTorch
              break;
            }
            if (is_max ? v > best : v < best) {
              best = v;
              bestIdx = static_cast<int32_t>(j);
            }
          }
        }
      }
      o[off[0] + i * in[0]] = bestIdx;
    }
  };
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1));
  if (total * n >= 2 * kGrain && num_threads() > 1) {
    parallel_chunks(total, grain, [&](int64_t b, int64_t e, int) { for_range<2>(p, base, b, e, scan); });
  } else {
    for_range<2>(p, base, 0, total, scan);
  }
}

}  // namespace

bool k_reduce(Reduce op, const View& x, const int* axes, int naxes, const View& out) {
  if (out.dt != x.dt) return false;
  switch (x.dt) {
    case DT::F32:
      reduce_impl<float>(op, x, axes, naxes, out);
      return true;
    case DT::F64:
      reduce_impl<double>(op, x, axes, naxes, out);
      return true;
    case DT::I32:
      reduce_impl<int32_t>(op, x, axes, naxes, out);
      return true;
    default:
      return false;
  }
}

bool k_arg_reduce(bool is_max, const View& x, int axis, const View& out) {
  if (out.dt != DT::I32) return false;
  switch (x.dt) {
    case DT::F32:
      arg_impl<float>(is_max, x, axis, out);
      return true;
    case DT::F64:
      arg_impl<double>(is_max, x, axis, out);
      return true;
    case DT::I32:
      arg_impl<int32_t>(is_max, x, axis, out);
      return true;
    default:
      return false;
  }
}

}  // namespace nabla
