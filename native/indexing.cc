// Indexing kernels: indexSelect / indexAdd along an axis, gather / scatterAdd. Indices are int32
// and already validated by the ops. Selection kernels move bits (one instantiation per element
// size); the accumulating ones add in the element type (in double for int32, as the reference).
#include <algorithm>

#include "kernels.h"
#include "pool.h"

namespace nabla {

namespace {

constexpr int64_t kGrain = 1 << 15;

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

template <typename E>
void index_select_impl(const View& x, int axis, const View& index, const View& out) {
  const E* xd = static_cast<const E*>(x.data);
  E* o = static_cast<E*>(out.data);
  const int32_t* idx = static_cast<const int32_t*>(index.data);
  const int64_t L = index.shape[0];
  const int64_t is = index.strides[0];
  int64_t shape[kMaxDims];
  for (int d = 0; d < out.ndim; d++) shape[d] = d == axis ? 1 : out.shape[d];
  const int64_t* strides[2] = {out.strides, x.strides};
  const Plan<2> p = make_plan<2>(out.ndim, shape, strides);
  if (p.empty || L == 0) return;
  const int64_t per = p.rows() * p.inner();
  const int64_t xs = x.strides[axis], os = out.strides[axis];
  auto one = [&](int64_t k) {
    const int64_t base[2] = {out.offset + k * os, x.offset + idx[index.offset + k * is] * xs};
    for_range<2>(p, base, 0, per, [&](const int64_t* off, int64_t n, const int64_t* in) {
      E* q = o + off[0];
      const E* s = xd + off[1];
      if (in[0] == 1 && in[1] == 1) {
        std::copy(s, s + n, q);
      } else {
        for (int64_t i = 0; i < n; i++) q[i * in[0]] = s[i * in[1]];
      }
    });
  };
  if (L * per >= 2 * kGrain && num_threads() > 1) {
    const int64_t grain = std::max<int64_t>(1, kGrain / per);
    parallel_chunks(L, grain, [&](int64_t b, int64_t e, int) {
      for (int64_t k = b; k < e; k++) one(k);
    });
  } else {
    for (int64_t k = 0; k < L; k++) one(k);
  }
}

template <typename T>
inline T add_as(T a, T b) {
  return a + b;
}
template <>
inline int32_t add_as<int32_t>(int32_t a, int32_t b) {
  return to_int32(static_cast<double>(a) + static_cast<double>(b));
}

template <typename T>
void index_add_impl(const View& out, int axis, const View& index, const View& src) {
  T* o = static_cast<T*>(out.data);
  const T* sd = static_cast<const T*>(src.data);
  const int32_t* idx = static_cast<const int32_t*>(index.data);
  const int64_t L = index.shape[0];
  const int64_t is = index.strides[0];
  int64_t shape[kMaxDims];
  for (int d = 0; d < src.ndim; d++) shape[d] = d == axis ? 1 : src.shape[d];
  const int64_t* strides[2] = {out.strides, src.strides};
  const Plan<2> p = make_plan<2>(src.ndim, shape, strides);
  if (p.empty || L == 0) return;
  const int64_t per = p.rows() * p.inner();
  const int64_t ss = src.strides[axis], os = out.strides[axis];
  // Threads split each slice (never the index list: repeated indices hit the same outputs).
  auto part = [&](int64_t e0, int64_t e1) {
    for (int64_t k = 0; k < L; k++) {
      const int64_t base[2] = {out.offset + idx[index.offset + k * is] * os, src.offset + k * ss};
      for_range<2>(p, base, e0, e1, [&](const int64_t* off, int64_t n, const int64_t* in) {
        T* q = o + off[0];
        const T* s = sd + off[1];
        if (in[0] == 1 && in[1] == 1) {
          for (int64_t i = 0; i < n; i++) q[i] = add_as<T>(q[i], s[i]);
        } else {
          for (int64_t i = 0; i < n; i++) q[i * in[0]] = add_as<T>(q[i * in[0]], s[i * in[1]]);
        }
      });
    }
  };
  if (L * per >= 2 * kGrain && per >= 2 * 1024 && num_threads() > 1) {
    parallel_chunks(per, 1024, [&](int64_t b, int64_t e, int) { part(b, e); }, 16);
  } else {
    part(0, per);
  }
}

template <typename E>
void gather_impl(const View& x, int axis, const View& index, const View& out) {
  const E* xd = static_cast<const E*>(x.data);
  E* o = static_cast<E*>(out.data);
  const int32_t* idx = static_cast<const int32_t*>(index.data);
  int64_t xs[kMaxDims];
  for (int d = 0; d < x.ndim; d++) xs[d] = d == axis ? 0 : x.strides[d];
  const int64_t* strides[3] = {out.strides, index.strides, xs};
  const Plan<3> p = make_plan<3>(index.ndim, index.shape, strides);
  if (p.empty) return;
  const int64_t base[3] = {out.offset, index.offset, x.offset};
  const int64_t sa = x.strides[axis];
  const int64_t total = p.rows() * p.inner();
  auto f = [&](const int64_t* off, int64_t n, const int64_t* in) {
    E* q = o + off[0];
    const int32_t* ix = idx + off[1];
    const E* s = xd + off[2];
    for (int64_t i = 0; i < n; i++) q[i * in[0]] = s[i * in[2] + ix[i * in[1]] * sa];
  };
  if (total >= 2 * kGrain && num_threads() > 1) {
    parallel_chunks(total, kGrain, [&](int64_t b, int64_t e, int) { for_range<3>(p, base, b, e, f); });
  } else {
    for_range<3>(p, base, 0, total, f);
  }
}

template <typename T>
void scatter_add_impl(const View& out, int axis, const View& index, const View& src) {
  T* o = static_cast<T*>(out.data);
  const T* sd = static_cast<const T*>(src.data);
  const int32_t* idx = static_cast<const int32_t*>(index.data);
  int64_t os[kMaxDims];
  for (int d = 0; d < out.ndim; d++) os[d] = d == axis ? 0 : out.strides[d];
  const int64_t* strides[3] = {os, index.strides, src.strides};
  const Plan<3> p = make_plan<3>(index.ndim, index.shape, strides);
  if (p.empty) return;
  const int64_t base[3] = {out.offset, index.offset, src.offset};
  const int64_t sa = out.strides[axis];
  for_range<3>(p, base, 0, p.rows() * p.inner(), [&](const int64_t* off, int64_t n, const int64_t* in) {
    T* q = o + off[0];
    const int32_t* ix = idx + off[1];
    const T* s = sd + off[2];
    for (int64_t i = 0; i < n; i++) {
      T& dst = q[i * in[0] + ix[i * in[1]] * sa];
      dst = add_as<T>(dst, s[i * in[2]]);
    }
  });
}

}  // namespace

bool k_index_select(const View& x, int axis, const View& index, const View& out) {
  if (index.dt != DT::I32 || x.dt != out.dt || index.ndim != 1) return false;
  switch (elem_size(x.dt)) {
    case 1:
      index_select_impl<uint8_t>(x, axis, index, out);
      return true;
    case 4:
      index_select_impl<uint32_t>(x, axis, index, out);
      return true;
    case 8:
      index_select_impl<uint64_t>(x, axis, index, out);
      return true;
  }
  return false;
}

bool k_index_add(const View& out, int axis, const View& index, const View& src) {
  if (index.dt != DT::I32 || src.dt != out.dt || index.ndim != 1) return false;
  switch (out.dt) {
    case DT::F32:
      index_add_impl<float>(out, axis, index, src);
      return true;
    case DT::F64:
      index_add_impl<double>(out, axis, index, src);
      return true;
    case DT::I32:
      index_add_impl<int32_t>(out, axis, index, src);
      return true;
    default:
      return false;
  }
}

bool k_gather(const View& x, int axis, const View& index, const View& out) {
  if (index.dt != DT::I32 || x.dt != out.dt) return false;
  switch (elem_size(x.dt)) {
    case 1:
      gather_impl<uint8_t>(x, axis, index, out);
      return true;
    case 4:
      gather_impl<uint32_t>(x, axis, index, out);
      return true;
    case 8:
      gather_impl<uint64_t>(x, axis, index, out);
      return true;
  }
  return false;
}

bool k_scatter_add(const View& out, int axis, const View& index, const View& src) {
  if (index.dt != DT::I32 || src.dt != out.dt) return false;
  switch (out.dt) {
    case DT::F32:
      scatter_add_impl<float>(out, axis, index, src);
      return true;
    case DT::F64:
      scatter_add_impl<double>(out, axis, index, src);
      return true;
    case DT::I32:
      scatter_add_impl<int32_t>(out, axis, index, src);
      return true;
    default:
      return false;
  }
}

}  // namespace nabla
