// The Node-API surface of nabla's native backend (loaded by src/backend/native/index.ts).
//
// Every kernel takes a Float64Array of parameters ("meta": op codes, axes, and for each view its
// ndim, offset, shape and strides) followed by the typed arrays the views read and write, and
// returns true, or false for a dtype combination it leaves to the reference kernels. The
// kernels run synchronously on the calling thread plus the pool's workers; the arrays cannot be
// moved or detached while a call runs. Views are bounds-checked against their arrays and indices
// against their axes, so a bad call throws a RangeError instead of touching foreign memory.
#include <node_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "attention.h"
#include "common.h"
#include "fused.h"
#include "kernels.h"
#include "pool.h"

namespace nabla {
namespace {

constexpr size_t kMaxArgs = 16;

struct Call {
  explicit Call(napi_env e) : env(e) {}
  napi_env env;
  napi_value argv[kMaxArgs] = {};
  size_t argc = kMaxArgs;
  const double* meta = nullptr;
  size_t metaLen = 0;
  size_t pos = 0;
  bool failed = false;

  void fail(const char* msg) {
    if (!failed) napi_throw_range_error(env, nullptr, msg);
    failed = true;
  }

  bool init(napi_callback_info info, size_t arrays) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
      fail("nabla native: bad arguments");
      return false;
    }
    if (argc < arrays + 1) {
      fail("nabla native: missing arguments");
      return false;
    }
    napi_typedarray_type t;
    void* data = nullptr;
    bool isTa = false;
    if (napi_is_typedarray(env, argv[0], &isTa) != napi_ok || !isTa ||
        napi_get_typedarray_info(env, argv[0], &t, &metaLen, &data, nullptr, nullptr) != napi_ok ||
        t != napi_float64_array) {
      fail("nabla native: the first argument must be a Float64Array of parameters");
      return false;
    }
    meta = static_cast<const double*>(data);
    return true;
  }

  double num() {
    if (pos >= metaLen) {
      fail("nabla native: parameter block too short");
      return 0;
    }
    return meta[pos++];
  }
  int64_t integer() { return static_cast<int64_t>(num()); }

  // Reads the view of typed array argument `arg` (1-based after meta).
  bool view(size_t arg, View& v) {
    napi_typedarray_type t;
    size_t len = 0;
    void* data = nullptr;
    bool isTa = false;
    if (napi_is_typedarray(env, argv[arg], &isTa) != napi_ok || !isTa ||
        napi_get_typedarray_info(env, argv[arg], &t, &len, &data, nullptr, nullptr) != napi_ok) {
      fail("nabla native: expected a typed array");
      return false;
    }
    switch (t) {
      case napi_float32_array:
        v.dt = DT::F32;
        break;
      case napi_float64_array:
        v.dt = DT::F64;
        break;
      case napi_int32_array:
        v.dt = DT::I32;
        break;
      case napi_uint8_array:
        v.dt = DT::U8;
        break;
      default:
        fail("nabla native: unsupported typed array type");
        return false;
    }
    v.data = data;
    const int64_t nd = integer();
    if (nd < 0 || nd > kMaxDims) {
      fail("nabla native: too many dimensions");
      return false;
    }
    v.ndim = static_cast<int>(nd);
    v.offset = integer();
    for (int d = 0; d < v.ndim; d++) v.shape[d] = integer();
    for (int d = 0; d < v.ndim; d++) v.strides[d] = integer();
    if (failed) return false;
    // Bounds: every element the view addresses must lie inside the array.
    int64_t lo = v.offset, hi = v.offset;
    bool empty = false;
    for (int d = 0; d < v.ndim; d++) {
      if (v.shape[d] < 0) {
        fail("nabla native: negative dimension");
        return false;
      }
      if (v.shape[d] == 0) empty = true;
      const int64_t span = (v.shape[d] - 1) * v.strides[d];
      if (span < 0) {
        lo += span;
      } else {
        hi += span;
      }
    }
    if (!empty && (lo < 0 || hi >= static_cast<int64_t>(len))) {
      fail("nabla native: view out of the bounds of its storage");
      return false;
    }
    return true;
  }

  bool axis(int64_t a, const View& v) {
    if (a < 0 || a >= v.ndim) {
      fail("nabla native: axis out of range");
      return false;
    }
    return true;
  }

  // Every index of `index` in [0, size).
  bool indices_in(const View& index, int64_t size) {
    if (index.dt != DT::I32) {
      fail("nabla native: indices must be int32");
      return false;
    }
    const int32_t* p = static_cast<const int32_t*>(index.data);
    const int64_t* strides[1] = {index.strides};
    const Plan<1> plan = make_plan<1>(index.ndim, index.shape, strides);
    if (plan.empty) return true;
    bool ok = true;
    const int64_t base[1] = {index.offset};
    for_range<1>(plan, base, 0, plan.rows() * plan.inner(),
                 [&](const int64_t* off, int64_t n, const int64_t* in) {
                   for (int64_t i = 0; i < n; i++) {
                     const int32_t k = p[off[0] + i * in[0]];
                     if (k < 0 || k >= size) ok = false;
                   }
                 });
    if (!ok) fail("nabla native: index out of range");
    return ok;
  }

  // true when the kernel ran, false when it does not handle these dtypes (the TypeScript side
  // then runs the reference kernel).
  napi_value done(bool handled) {
    if (failed) return nullptr;
    napi_value r;
    napi_get_boolean(env, handled, &r);
    return r;
  }
};

napi_value Fill(napi_env env, napi_callback_info info) {
  Call c(env);
  View out;
  if (!c.init(info, 1)) return nullptr;
  const double value = c.num();
  if (!c.view(1, out)) return nullptr;
  return c.done(k_fill(out, value));
}

napi_value Copy(napi_env env, napi_callback_info info) {
  Call c(env);
  View src, dst;
  if (!c.init(info, 2) || !c.view(1, src) || !c.view(2, dst)) return nullptr;
  return c.done(k_copy(src, dst));
}

napi_value UnaryFn(napi_env env, napi_callback_info info) {
  Call c(env);
  View x, out;
  if (!c.init(info, 2)) return nullptr;
  const int64_t op = c.integer();
  if (!c.view(1, x) || !c.view(2, out)) return nullptr;
  if (op < 0 || op >= static_cast<int64_t>(Unary::Count)) return c.done(false);
  return c.done(k_unary(static_cast<Unary>(op), x, out));
}

napi_value BinaryFn(napi_env env, napi_callback_info info) {
  Call c(env);
  View a, b, out;
  if (!c.init(info, 3)) return nullptr;
  const int64_t op = c.integer();
  if (!c.view(1, a) || !c.view(2, b) || !c.view(3, out)) return nullptr;
  if (op < 0 || op >= static_cast<int64_t>(Binary::Count)) return c.done(false);
  return c.done(k_binary(static_cast<Binary>(op), a, b, out));
}

napi_value Where(napi_env env, napi_callback_info info) {
  Call c(env);
  View cond, a, b, out;
  if (!c.init(info, 4) || !c.view(1, cond) || !c.view(2, a) || !c.view(3, b) || !c.view(4, out)) {
    return nullptr;
  }
  return c.done(k_where(cond, a, b, out));
}

napi_value ReduceFn(napi_env env, napi_callback_info info) {
  Call c(env);
  View x, out;
  if (!c.init(info, 2)) return nullptr;
  const int64_t op = c.integer();
  const int64_t naxes = c.integer();
  if (naxes < 0 || naxes > kMaxDims) return c.done(false);
  int axes[kMaxDims];
  for (int64_t i = 0; i < naxes; i++) axes[i] = static_cast<int>(c.integer());
  if (!c.view(1, x) || !c.view(2, out)) return nullptr;
  for (int64_t i = 0; i < naxes; i++) {
    if (!c.axis(axes[i], x)) return nullptr;
  }
  if (op < 0 || op > 2) return c.done(false);
  return c.done(k_reduce(static_cast<Reduce>(op), x, axes, static_cast<int>(naxes), out));
}

napi_value ArgReduce(napi_env env, napi_callback_info info) {
  Call c(env);
  View x, out;
  if (!c.init(info, 2)) return nullptr;
  const bool isMax = c.integer() != 0;
  const int64_t axis = c.integer();
  if (!c.view(1, x) || !c.view(2, out) || !c.axis(axis, x)) return nullptr;
  return c.done(k_arg_reduce(isMax, x, static_cast<int>(axis), out));
}

napi_value Matmul(napi_env env, napi_callback_info info) {
  Call c(env);
  View a, b, out;
  if (!c.init(info, 3) || !c.view(1, a) || !c.view(2, b) || !c.view(3, out)) return nullptr;
  if (a.ndim != 3 || b.ndim != 3 || out.ndim != 3 || a.shape[2] != b.shape[1] ||
      a.shape[1] != out.shape[1] || b.shape[2] != out.shape[2] ||
      (a.shape[0] != out.shape[0] && a.shape[0] != 1) ||
      (b.shape[0] != out.shape[0] && b.shape[0] != 1)) {
    c.fail("nabla native: matmul shapes do not match");
    return nullptr;
  }
  return c.done(k_matmul(a, b, out));
}

// Fused attention (attention.cc). meta: [scale, causal offset (+inf: none), hasAllowed, hasBias,
// views of q, k, v, (allowed), (bias), out, lse (, dOut, dq, dk, dv)]; arrays in the same order, an
// absent mask's slot holding any typed array. Every view has the batch dims of q, so that the
// kernel can index all of them by one batch number.
napi_value Attention(napi_env env, napi_callback_info info, bool backward) {
  Call c(env);
  if (!c.init(info, backward ? 11 : 7)) return nullptr;
  AttnArgs a{};
  a.scale = c.num();
  a.causal = c.num();
  const bool hasAllowed = c.integer() != 0;
  const bool hasBias = c.integer() != 0;
  View q, k, v, allowed, bias, out, lse, dout, dq, dk, dv;
  if (!c.view(1, q) || !c.view(2, k) || !c.view(3, v) || (hasAllowed && !c.view(4, allowed)) ||
      (hasBias && !c.view(5, bias)) || !c.view(6, out) || !c.view(7, lse)) {
    return nullptr;
  }
  if (backward && (!c.view(8, dout) || !c.view(9, dq) || !c.view(10, dk) || !c.view(11, dv))) {
    return nullptr;
  }
  const int nd = q.ndim;
  bool ok = nd >= 2 && k.ndim == nd && v.ndim == nd && out.ndim == nd && lse.ndim == nd - 1;
  const int64_t L = ok ? q.shape[nd - 2] : 0, E = ok ? q.shape[nd - 1] : 0;
  const int64_t S = ok ? k.shape[nd - 2] : 0, Ev = ok ? v.shape[nd - 1] : 0;
  auto is = [&](const View& x, int64_t r, int64_t cdim) {
    if (x.ndim != nd || x.shape[nd - 2] != r || x.shape[nd - 1] != cdim) return false;
    for (int d = 0; d < nd - 2; d++) {
      if (x.shape[d] != q.shape[d]) return false;
    }
    return true;
  };
  ok = ok && is(k, S, E) && is(v, S, Ev) && is(out, L, Ev) &&
       (!hasAllowed || is(allowed, L, S)) && (!hasBias || is(bias, L, S)) &&
       (!backward || (is(dout, L, Ev) && is(dq, L, E) && is(dk, S, E) && is(dv, S, Ev)));
  for (int d = 0; ok && d < nd - 1; d++) ok = lse.shape[d] == q.shape[d];
  if (!ok) {
    c.fail("nabla native: attention shapes do not match");
    return nullptr;
  }
  a.q = &q;
  a.k = &k;
  a.v = &v;
  a.allowed = hasAllowed ? &allowed : nullptr;
  a.bias = hasBias ? &bias : nullptr;
  a.out = &out;
  a.lse = &lse;
  if (backward) {
    a.dout = &dout;
    a.dq = &dq;
    a.dk = &dk;
    a.dv = &dv;
  }
  return c.done(backward ? k_attention_backward(a) : k_attention_forward(a));
}

napi_value AttentionForward(napi_env env, napi_callback_info info) {
  return Attention(env, info, false);
}
napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  return Attention(env, info, true);
}

// (meta: [axis, views...], first, index, third): indexSelect(x, axis, index, out),
// indexAdd(out, axis, index, src), gather(x, axis, index, out), scatterAdd(out, axis, index, src).
// The indices address the first operand's axis. ELEMENTWISE: the index has the shape of the
// iteration (gather, scatterAdd), which may not exceed the other operands' sizes.
template <bool (*KERNEL)(const View&, int, const View&, const View&), bool ELEMENTWISE>
napi_value Indexed(napi_env env, napi_callback_info info) {
  Call c(env);
  View first, index, third;
  if (!c.init(info, 3)) return nullptr;
  const int64_t axis = c.integer();
  if (!c.view(1, first) || !c.view(2, index) || !c.view(3, third)) return nullptr;
  if (!c.axis(axis, first)) return nullptr;
  if (ELEMENTWISE) {
    bool ok = index.ndim == first.ndim && index.ndim == third.ndim;
    for (int d = 0; ok && d < index.ndim; d++) {
      if (index.shape[d] > third.shape[d]) ok = false;
      if (d != axis && index.shape[d] > first.shape[d]) ok = false;
    }
    if (!ok) {
      c.fail("nabla native: index shape does not fit the operands");
      return nullptr;
    }
  } else {
    bool ok = index.ndim == 1 && third.ndim == first.ndim && third.shape[axis] >= index.shape[0];
    for (int d = 0; ok && d < first.ndim; d++) {
      if (d != axis && third.shape[d] > first.shape[d]) ok = false;
    }
    if (!ok) {
      c.fail("nabla native: expected a 1-D index and matching operands");
      return nullptr;
    }
  }
  if (!c.indices_in(index, first.shape[axis])) return nullptr;
  return c.done(KERNEL(first, static_cast<int>(axis), index, third));
}

// The fused training kernels (fused.cc). meta: [kernel id, scalar count, scalars..., view count,
// views...]; arrays in the views' order (an absent optional view: shape [0] over any array).
napi_value Fused(napi_env env, napi_callback_info info) {
  Call c(env);
  if (!c.init(info, 1)) return nullptr;
  const int64_t id = c.integer();
  const int64_t ns = c.integer();
  if (ns < 0 || ns > 16) {
    c.fail("nabla native: fused: bad scalar count");
    return nullptr;
  }
  double s[16];
  for (int64_t i = 0; i < ns; i++) s[i] = c.num();
  const int64_t nv = c.integer();
  if (nv < 1 || nv > 8 || c.argc < static_cast<size_t>(nv) + 1) {
    c.fail("nabla native: fused: bad view count");
    return nullptr;
  }
  View v[8];
  for (int64_t i = 0; i < nv; i++) {
    if (!c.view(static_cast<size_t>(i) + 1, v[i])) return nullptr;
  }
  const char* err = "nabla native: fused: bad arguments";
  const int r = k_fused(static_cast<int>(id), s, static_cast<int>(ns), v, static_cast<int>(nv), &err);
  if (r < 0) {
    c.fail(err);
    return nullptr;
  }
  return c.done(r == 1);
}

napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t n = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, nullptr, "setNumThreads: expected an integer");
    return nullptr;
  }
  set_num_threads(n);
  return nullptr;
}

napi_value NumThreads(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_int32(env, num_threads(), &r);
  return r;
}

napi_value HardwareThreads(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_int32(env, hardware_threads(), &r);
  return r;
}

napi_value String(napi_env env, const char* s) {
  napi_value r;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}

napi_value GemmIsa(napi_env env, napi_callback_info) { return String(env, gemm_isa()); }

napi_value SetGemmIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char name[32] = {0};
  size_t len = 0;
  if (argc >= 1) napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &len);
  return String(env, set_gemm_isa(name));
}

napi_value CpuFeatures(napi_env env, napi_callback_info) { return String(env, cpu_features()); }

// Keeps freed memory in glibc's heap instead of returning it to the OS after every large free:
// tensors are typed arrays allocated and dropped at a high rate, and with glibc's defaults each
// allocation of more than a few pages faults its pages in afresh (and every one of 128 KiB or more
// is a new mmap), which in a VM costs more than a medium-sized kernel. Arrays up to 32 MiB come
// from the heap, and up to 256 MiB of free memory stays mapped. Returns whether it applied.
napi_value TuneMalloc(napi_env env, napi_callback_info) {
  bool applied = false;
#if defined(__GLIBC__)
  static bool done = false;
  if (!done) {
    done = true;
    applied = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
    applied = mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1 && applied;
    applied = mallopt(M_TOP_PAD, 16 << 20) == 1 && applied;
  } else {
    applied = true;
  }
#endif
  napi_value r;
  napi_get_boolean(env, applied, &r);
  return r;
}

}  // namespace
}  // namespace nabla

NAPI_MODULE_INIT() {
  using namespace nabla;
  const napi_property_descriptor props[] = {
      {"fill", nullptr, Fill, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"copy", nullptr, Copy, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"unary", nullptr, UnaryFn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"binary", nullptr, BinaryFn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"where", nullptr, Where, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"reduce", nullptr, ReduceFn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"argReduce", nullptr, ArgReduce, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"indexSelect", nullptr, Indexed<k_index_select, false>, nullptr, nullptr, nullptr,
       napi_enumerable, nullptr},
      {"indexAdd", nullptr, Indexed<k_index_add, false>, nullptr, nullptr, nullptr, napi_enumerable,
       nullptr},
      {"gather", nullptr, Indexed<k_gather, true>, nullptr, nullptr, nullptr, napi_enumerable,
       nullptr},
      {"scatterAdd", nullptr, Indexed<k_scatter_add, true>, nullptr, nullptr, nullptr,
       napi_enumerable, nullptr},
      {"attentionForward", nullptr, AttentionForward, nullptr, nullptr, nullptr, napi_enumerable,
       nullptr},
      {"attentionBackward", nullptr, AttentionBackward, nullptr, nullptr, nullptr,
       napi_enumerable, nullptr},
      {"fused", nullptr, Fused, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setNumThreads", nullptr, SetNumThreads, nullptr, nullptr, nullptr, napi_enumerable,
       nullptr},
      {"numThreads", nullptr, NumThreads, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"hardwareThreads", nullptr, HardwareThreads, nullptr, nullptr, nullptr, napi_enumerable,
       nullptr},
      {"gemmIsa", nullptr, GemmIsa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setGemmIsa", nullptr, SetGemmIsa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"cpuFeatures", nullptr, CpuFeatures, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"tuneMalloc", nullptr, TuneMalloc, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
