// Kernel entry points called by the Node-API layer (nabla.cc). Every kernel follows the contract of
// the TypeScript `Kernels` interface (src/backend/backend.ts) and the reference kernels' semantics
// (src/backend/ref). Shapes, dtypes and indices are validated by the TypeScript side.
#pragma once

#include "common.h"

namespace nabla {

enum class Unary : int {
  Neg,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Abs,
  Sign,
  Sin,
  Cos,
  Tanh,
  Sigmoid,
  Relu,
  Erf,
  Reciprocal,
  Square,
  Floor,
  LogicalNot,
  IsFinite,
  Gelu,      // x·Φ(x)
  GeluTanh,  // ½x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
  Count
};

enum class Binary : int {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Maximum,
  Minimum,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  LogicalAnd,
  LogicalOr,
  GeluGrad,      // b·gelu′(a)
  GeluTanhGrad,  // b·geluTanh′(a)
  Count
};

enum class Reduce : int { Sum, Max, Min };

// Each returns false when it does not handle the dtype combination (the caller then reports it).
bool k_fill(const View& out, double value);
bool k_copy(const View& src, const View& dst);
bool k_unary(Unary op, const View& x, const View& out);
bool k_binary(Binary op, const View& a, const View& b, const View& out);
bool k_where(const View& cond, const View& a, const View& b, const View& out);
bool k_reduce(Reduce op, const View& x, const int* axes, int naxes, const View& out);
bool k_arg_reduce(bool is_max, const View& x, int axis, const View& out);
bool k_matmul(const View& a, const View& b, const View& out);
bool k_index_select(const View& x, int axis, const View& index, const View& out);
bool k_index_add(const View& out, int axis, const View& index, const View& src);
bool k_gather(const View& x, int axis, const View& index, const View& out);
bool k_scatter_add(const View& out, int axis, const View& index, const View& src);

// GEMM instruction-set selection: "avx512", "avx2", "scalar".
const char* gemm_isa();
// Forces an instruction set (if the CPU has it; "auto" or "" picks the best) on the GEMM and the
// vectorized math (vmath.h); returns the GEMM's.
const char* set_gemm_isa(const char* name);
// A comma-separated list of the SIMD features the CPU reports.
const char* cpu_features();

}  // namespace nabla
