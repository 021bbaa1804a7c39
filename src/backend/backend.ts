/**
 * The backend interface: storage (allocate, write, read, free) and a typed kernel table. Ops and
 * autograd reach numbers only through here, so a new backend (WASM-SIMD, native, WebGPU) plugs in
 * without touching them. `Kernels` is an interface of required members: a backend that lacks one
 * fails type-checking, not a user's run.
 */
import type { DType, TypedArray } from '../core/dtype.js';

/** A backend's buffer. Opaque to ops: only its backend looks inside. */
export interface Storage {
  readonly dtype: DType;
  readonly size: number;
}

/**
 * A strided window on a storage: element (i0, i1, ...) lives at
 * `offset + i0 * strides[0] + i1 * strides[1] + ...`. Broadcasting is a stride of 0.
 */
export interface View {
  readonly storage: Storage;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export type UnaryOp =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'sign'
  | 'sin'
  | 'cos'
  | 'tanh'
  | 'sigmoid'
  | 'relu'
  | 'erf'
  | 'reciprocal'
  | 'square'
  | 'floor'
  | 'logicalNot'
  | 'isFinite';

export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'eq'
  | 'ne'
  | 'lt'
  | 'le'
  | 'gt'
  | 'ge'
  | 'logicalAnd'
  | 'logicalOr';

export type ReduceOp = 'sum' | 'max' | 'min';
export type ArgReduceOp = 'argmax' | 'argmin';

/**
 * The kernels every backend provides. Inputs are views (any strides, offsets, stride-0
 * broadcasting); `out` arguments are freshly allocated contiguous views unless stated otherwise.
 * Kernels validate nothing: ops check shapes, dtypes and indices before calling them.
 */
export interface Kernels {
  /** Sets every element of `out` (any strides) to `value`. */
  fill(out: View, value: number): void;
  /** Copies `src` into `dst` element by element (same shape; any strides; casts between dtypes). */
  copy(src: View, dst: View): void;
  /** out = op(x), elementwise; `out.dtype` decides the stored type (bool for logicalNot/isFinite). */
  unary(op: UnaryOp, x: View, out: View): void;
  /** out = op(a, b), elementwise; a and b are already broadcast to out's shape. */
  binary(op: BinaryOp, a: View, b: View, out: View): void;
  /** out = cond ? a : b, elementwise; all already broadcast to out's shape. */
  where(cond: View, a: View, b: View, out: View): void;
  /** Reduces `x` over `axes` (sorted); `out` has x's shape with size 1 on those axes. */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void;
  /** Index (int32) of the first max/min along `axis`; `out` has size 1 on that axis. */
  argReduce(op: ArgReduceOp, x: View, axis: number, out: View): void;
  /**
   * Batched matrix product: a (Bt, M, K) times b (Bt, K, N) into out (Bt, M, N). a and b may be
   * strided views (transposes, stride-0 batch broadcasting); out is contiguous.
   */
  matmul(a: View, b: View, out: View): void;
  /** out = x.indexSelect(axis, index): index is a 1-D int32 view of valid indices. */
  indexSelect(x: View, axis: number, index: View, out: View): void;
  /** out[..., index[i], ...] += src[..., i, ...] along `axis` (out is contiguous, accumulated into). */
  indexAdd(out: View, axis: number, index: View, src: View): void;
  /** out = x.gather(axis, index): index has out's shape. */
  gather(x: View, axis: number, index: View, out: View): void;
  /** out[... index[i,j,..] ...] += src[i, j, ...] along `axis` (out contiguous, accumulated into). */
  scatterAdd(out: View, axis: number, index: View, src: View): void;
}

export type KernelName = keyof Kernels;

/** A compute backend: its storage operations and its kernels. */
export interface Backend {
  readonly name: string;
  /**
   * True when storage is reclaimed by the JS garbage collector (typed arrays): `dispose()` then
   * only drops references. False for WASM/GPU memory, which nabla frees explicitly.
   */
  readonly gcManaged: boolean;
  readonly kernels: Kernels;
  /** A zero-filled buffer of `size` elements. */
  alloc(dtype: DType, size: number): Storage;
  /** Copies `data` (converted to the storage's dtype) into the storage, starting at `offset`. */
  write(storage: Storage, data: ArrayLike<number>, offset?: number): void;
  /** A fresh typed-array copy of the storage's contents (synchronous: CPU backends). */
  read(storage: Storage): TypedArray;
  /** The same, asynchronously: the only read GPU backends can offer. */
  readAsync(storage: Storage): Promise<TypedArray>;
  /** Releases the buffer. Using the storage afterwards is undefined. */
  free(storage: Storage): void;
}
