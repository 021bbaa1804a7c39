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
  /**
   * True for a buffer of a garbage-collected backend that must still be freed explicitly, even
   * when dropped without dispose (the wasm backend's tensors that live in the wasm memory).
   */
  readonly explicitFree?: boolean;
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
  | 'gelu'
  | 'geluTanh'
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
  | 'logicalOr'
  /** b·gelu′(a): GELU's backward, a the input and b the gradient of the output. */
  | 'geluGrad'
  /** b·gelu′(a) for the tanh approximation. */
  | 'geluTanhGrad';

export type ReduceOp = 'sum' | 'max' | 'min';

/** Scalar parameters of the fused attention kernels. */
export interface AttentionParams {
  /** Factor applied to q·kᵀ. */
  readonly scale: number;
  /** null: no causal mask; else key j is visible from query i iff j <= i + causalOffset. */
  readonly causalOffset: number | null;
}
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
  /**
   * out = op(a, b), elementwise; a and b are already broadcast to out's shape. `out` may be `a`
   * itself (same storage, offset and strides): each element is read before it is written.
   */
  binary(op: BinaryOp, a: View, b: View, out: View): void;
  /** out = cond ? a : b, elementwise; all already broadcast to out's shape. */
  where(cond: View, a: View, b: View, out: View): void;
  /** Reduces `x` over `axes` (sorted); `out` has x's shape with size 1 on those axes. */
  reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void;
  /** Index (int32) of the first max/min along `axis`; `out` has size 1 on that axis. */
  argReduce(op: ArgReduceOp, x: View, axis: number, out: View): void;
  /**
   * Batched matrix product: a (Bt, M, K) times b (Bt, K, N) into out (Bt, M, N). a and b may be
   * strided views (transposes, stride-0 batch broadcasting); out is contiguous. With `bias` (an
   * (N) view), out = a·b + bias on every row, added after the product (a linear layer).
   */
  matmul(a: View, b: View, out: View, bias?: View | null): void;
  /** out = x.indexSelect(axis, index): index is a 1-D int32 view of valid indices. */
  indexSelect(x: View, axis: number, index: View, out: View): void;
  /** out[..., index[i], ...] += src[..., i, ...] along `axis` (out is contiguous, accumulated into). */
  indexAdd(out: View, axis: number, index: View, src: View): void;
  /** out = x.gather(axis, index): index has out's shape. */
  gather(x: View, axis: number, index: View, out: View): void;
  /** out[... index[i,j,..] ...] += src[i, j, ...] along `axis` (out contiguous, accumulated into). */
  scatterAdd(out: View, axis: number, index: View, src: View): void;
  /**
   * Fused attention forward, softmax(q·kᵀ·scale + mask)·v computed in tiles with an online softmax
   * (never a full scores matrix). q (...B, L, E), k (...B, S, E), v (...B, S, Ev) share the batch
   * shape ...B (stride-0 where broadcast); `allowed` (bool, true = may attend) and `bias` (float,
   * added) are (...B, L, S) views, typically stride-0 broadcasts. Writes out (...B, L, Ev) and the
   * row log-sum-exp lse (...B, L) (q's dtype, contiguous); a fully masked row gets out 0, lse -∞.
   */
  attentionForward(
    q: View,
    k: View,
    v: View,
    allowed: View | null,
    bias: View | null,
    params: AttentionParams,
    out: View,
    lse: View,
  ): void;
  /**
   * Its backward (FlashAttention-2): recomputes the probabilities tile by tile from q, k, v and lse
   * and writes dq, dk, dv (contiguous, the full batch shape ...B) from dOut (...B, L, Ev, any
   * strides). Arguments as in attentionForward.
   */
  attentionBackward(
    q: View,
    k: View,
    v: View,
    allowed: View | null,
    bias: View | null,
    params: AttentionParams,
    out: View,
    lse: View,
    dOut: View,
    dq: View,
    dk: View,
    dv: View,
  ): void;
  // ---- Fused training kernels (their composite versions stay in the tests as the oracle) ----
  /**
   * Layer norm of each row of x (R, N): y = (x − μ)·rstd·weight + bias with rstd = 1/√(var + eps)
   * (biased variance); weight and bias (N) may be null. Writes y (R, N), mean and rstd (R).
   */
  layerNormForward(
    x: View,
    weight: View | null,
    bias: View | null,
    eps: number,
    y: View,
    mean: View,
    rstd: View,
  ): void;
  /**
   * Its backward in one pass over the rows: gx (R, N) from gy (R, N, any strides) and the saved
   * mean and rstd; gWeight and gBias (N), when not null, are overwritten with Σ_rows gy·x̂ and Σ gy.
   */
  layerNormBackward(
    x: View,
    weight: View | null,
    mean: View,
    rstd: View,
    gy: View,
    gx: View,
    gWeight: View | null,
    gBias: View | null,
  ): void;
  /**
   * Per-row cross-entropy of logits (R, C) at int32 targets (R), all in [0, C) or ignoreIndex
   * (checked by the op): loss_r = (1 − ε)·(lse_r − x_{r,t}) + ε·(lse_r − mean_c x_{r,c}), 0 where
   * the target is ignoreIndex (ε = labelSmoothing). Writes loss and the row log-sum-exp lse (R).
   */
  crossEntropyForward(
    logits: View,
    target: View,
    ignoreIndex: number,
    labelSmoothing: number,
    loss: View,
    lse: View,
  ): void;
  /** Its backward: gx (R, C) = gLoss_r·(softmax_r − (1 − ε)·onehot(t_r) − ε/C), 0 for ignored rows. */
  crossEntropyBackward(
    logits: View,
    target: View,
    lse: View,
    gLoss: View,
    ignoreIndex: number,
    labelSmoothing: number,
    gx: View,
  ): void;
  /**
   * LSTM cell pointwise math (gate order i, f, g, o) on u = gi + gh (+ bias): gi, gh (B, 4H), bias
   * (4H) or null, c (B, H). Writes out (2, B, H) = [h', c'] and the activated gates (B, 4H).
   */
  lstmCellForward(gi: View, gh: View, bias: View | null, c: View, out: View, gates: View): void;
  /**
   * Its backward from the saved gates, c, out = [h', c'] and the gradients gH, gC (B, H) of h' and
   * c' (null: zero): writes the gradient of u, dGates (B, 4H), and dc (B, H).
   */
  lstmCellBackward(
    gates: View,
    c: View,
    out: View,
    gH: View | null,
    gC: View | null,
    dGates: View,
    dc: View,
  ): void;
  /**
   * GRU cell pointwise math (gate order r, z, n) on gi, gh (B, 3H), bias (3H) added to gh or null,
   * h (B, H). Writes out (B, H) = h' and saved (B, 4H) = [r, z, n, gh_n + b_n].
   */
  gruCellForward(gi: View, gh: View, bias: View | null, h: View, out: View, saved: View): void;
  /** Its backward: dgi, dgh (B, 3H) and dh (B, H) from saved, h and gOut (B, H). */
  gruCellBackward(saved: View, h: View, gOut: View, dgi: View, dgh: View, dh: View): void;
  /**
   * One Adam/AdamW step in place over same-shaped views param, grad, expAvg, expAvgSq (and
   * maxExpAvgSq for AMSGrad), with PyTorch's update rule (torch.optim.adam._single_tensor_adam).
   */
  adamUpdate(
    param: View,
    grad: View,
    expAvg: View,
    expAvgSq: View,
    maxExpAvgSq: View | null,
    params: AdamParams,
  ): void;
}

/** Scalar parameters of the fused Adam update; `step` is the step count after this one (≥ 1). */
export interface AdamParams {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly step: number;
  /** AdamW: decay the weights (p ← p·(1 − lr·wd)) instead of adding wd·p to the gradient. */
  readonly decoupled: boolean;
  readonly maximize: boolean;
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
  /**
   * A zero-filled buffer of `size` elements; with `uninitialized`, its contents may be anything
   * (for outputs that a kernel overwrites whole, saving the zero-fill of a reused buffer). With
   * `collected`, storage that the garbage collector frees, where the backend has such storage,
   * for a tensor likely to be dropped rather than disposed (a parameter's gradient).
   */
  alloc(dtype: DType, size: number, uninitialized?: boolean, collected?: boolean): Storage;
  /** Copies `data` (converted to the storage's dtype) into the storage, starting at `offset`. */
  write(storage: Storage, data: ArrayLike<number>, offset?: number): void;
  /** A fresh typed-array copy of the storage's contents (synchronous: CPU backends). */
  read(storage: Storage): TypedArray;
  /** The same, asynchronously: the only read GPU backends can offer. */
  readAsync(storage: Storage): Promise<TypedArray>;
  /** Releases the buffer. Using the storage afterwards is undefined. */
  free(storage: Storage): void;
}
