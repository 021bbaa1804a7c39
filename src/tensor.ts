/**
 * Tensor: a strided view (shape, strides, offset) on a reference-counted backend buffer, with the
 * autograd fields (requiresGrad, grad, gradFn, hooks). Methods are thin delegations to `ops/`, where
 * every op is defined once.
 */
import type { Storage, View } from './backend/backend.js';
import { getBackend } from './backend/registry.js';
import { backward, type BackwardOptions } from './autograd/backward.js';
import type { GradNode } from './autograd/node.js';
import { type DType, type TypedArray, isFloat } from './core/dtype.js';
import { DisposedError, GradError, ShapeError } from './core/errors.js';
import { contiguousStrides, formatShape, sizeOf, type Shape } from './core/shape.js';
import { Buffer, track, type Disposable } from './memory.js';
import * as ops from './ops/index.js';
import { copyOf } from './ops/util.js';
import type { Scalar, TensorLike } from './ops/index.js';
import { formatTensor } from './format.js';

/** Nested arrays as returned by `toArray()`. */
export type NestedArray = number | boolean | NestedArray[];

/** A gradient hook: returns a replacement gradient, or nothing to leave it unchanged. */
export type GradHook = (grad: Tensor) => Tensor | void;

let nextId = 1;

/** @internal The id the next tensor will get: tensors with ids from here on are newer. */
export function nextTensorId(): number {
  return nextId;
}

export class Tensor implements View, Disposable {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** Accumulated gradient (leaves, and tensors that called `retainGrad()`). */
  grad: Tensor | null = null;
  /** An optional label shown in error messages and debugging output. */
  name: string | undefined;
  /** A process-unique id (stable ordering in instruments). */
  readonly id = nextId++;

  /** @internal */ _buffer: Buffer;
  /** @internal */ _gradFn: GradNode | null = null;
  /** @internal */ _hooks: GradHook[] | null = null;
  /** @internal */ _retainsGrad = false;
  private _requiresGrad = false;
  private _disposed = false;

  /** @internal Use the creation functions (`nb.tensor`, `nb.zeros`, ...) instead. */
  constructor(buffer: Buffer, shape: Shape, strides: Shape, offset: number, dtype: DType) {
    this._buffer = buffer;
    buffer.refs++;
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    this.dtype = dtype;
    track(this);
  }

  /**
   * @internal A new contiguous tensor backed by a fresh zeroed buffer, or, with `uninitialized`,
   * one whose contents are undefined (the caller's kernel must write every element); `collected`:
   * in storage the garbage collector frees (see Backend.alloc).
   */
  static _empty(shape: Shape, dtype: DType, uninitialized = false, collected = false): Tensor {
    const backend = getBackend();
    const buf = new Buffer(backend, backend.alloc(dtype, sizeOf(shape), uninitialized, collected));
    return new Tensor(buf, [...shape], contiguousStrides(shape), 0, dtype);
  }

  /** @internal A view sharing this tensor's buffer. */
  _view(shape: Shape, strides: Shape, offset: number): Tensor {
    this._check('view');
    return new Tensor(this._buffer, shape, strides, offset, this.dtype);
  }

  // ---- View (what kernels see) -------------------------------------------------------------

  /** The backend buffer (kernels only). */
  get storage(): Storage {
    this._check('use');
    return this._buffer.handle;
  }

  // ---- Metadata ----------------------------------------------------------------------------

  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  /** PyTorch's `numel()`. */
  numel(): number {
    return this.size;
  }
  /** The size of one dimension (negative counts from the end). */
  dimSize(dim: number): number {
    return this.shape[ops.normalizeDimArg(dim, this.ndim, 'dimSize')]!;
  }
  get device(): string {
    return this._buffer.backend.name;
  }
  isContiguous(): boolean {
    let expected = 1;
    for (let d = this.ndim - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.strides[d] !== expected) return false;
      expected *= this.shape[d]!;
    }
    return true;
  }

  // ---- Autograd ----------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  set requiresGrad(flag: boolean) {
    this.requiresGrad_(flag);
  }
  /** Marks a leaf as needing gradients (float dtypes only); returns this tensor. */
  requiresGrad_(flag = true): this {
    if (this._gradFn !== null && !flag) {
      throw new GradError(
        'requiresGrad: cannot turn gradients off for a non-leaf tensor; use detach() to get a tensor outside the graph',
      );
    }
    if (flag && !isFloat(this.dtype)) {
      throw new GradError(
        `requiresGrad: only float tensors can require gradients, this one is ${this.dtype}`,
      );
    }
    this._requiresGrad = flag;
    return this;
  }
  /** The node that produced this tensor in the autograd graph, or null for leaves. */
  get gradFn(): GradNode | null {
    return this._gradFn;
  }
  /** True for tensors created by the user rather than by a recorded op. */
  get isLeaf(): boolean {
    return this._gradFn === null;
  }
  /** @internal */
  _setGradFn(node: GradNode): void {
    this._gradFn = node;
    this._requiresGrad = true;
  }
  /**
   * Computes the gradient of this tensor with respect to every leaf that requires grad, and adds it
   * into their `.grad`. A non-scalar needs an explicit `grad` of its shape.
   */
  backward(grad?: Tensor, options?: BackwardOptions): void {
    backward(this, grad, options);
  }
  /** Keeps `.grad` on this non-leaf tensor after backward. */
  retainGrad(): this {
    if (!this._requiresGrad) throw new GradError('retainGrad: this tensor does not require grad');
    this._retainsGrad = true;
    return this;
  }
  /** True when `retainGrad()` was called (leaves always keep their gradient). */
  get retainsGrad(): boolean {
    return this._retainsGrad;
  }
  /**
   * Calls `hook(grad)` with the gradient flowing into this tensor during backward; a returned tensor
   * (same shape) replaces it. Returns a handle whose `remove()` unregisters the hook.
   */
  registerHook(hook: GradHook): { remove(): void } {
    if (!this._requiresGrad) throw new GradError('registerHook: this tensor does not require grad');
    (this._hooks ??= []).push(hook);
    return {
      remove: () => {
        const i = this._hooks?.indexOf(hook) ?? -1;
        if (i >= 0) this._hooks!.splice(i, 1);
      },
    };
  }
  /** A tensor sharing this one's data but outside the autograd graph. */
  detach(): Tensor {
    return this._view(this.shape, this.strides, this.offset);
  }

  // ---- Memory ------------------------------------------------------------------------------

  get isDisposed(): boolean {
    return this._disposed;
  }
  /** Releases this tensor's reference to its buffer; using it afterwards throws DisposedError. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._buffer.release();
    this._gradFn = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** @internal */
  graphDependencies(): readonly Tensor[] {
    if (this._gradFn === null) return [];
    return [...this._gradFn.inputs, ...this._gradFn.saved];
  }
  /** @internal Throws DisposedError if this tensor was disposed. */
  _check(op: string): void {
    if (this._disposed) {
      throw new DisposedError(
        `${op}: tensor${this.name ? ` '${this.name}'` : ''} of shape ${formatShape(this.shape)} was disposed ` +
          '(by dispose() or by the scope that created it); keep() it or return it from the scope to use it later',
      );
    }
  }

  // ---- Reading back ------------------------------------------------------------------------

  /** The elements in row-major order as a new typed array (Uint8Array of 0/1 for bool). */
  dataSync(): TypedArray {
    this._check('dataSync');
    const c = this._wholeBuffer();
    return c._buffer.backend.read(c._buffer.handle);
  }
  /** The elements as a typed array, asynchronously (the read every backend supports). */
  async data(): Promise<TypedArray> {
    this._check('data');
    const c = this._wholeBuffer();
    return c._buffer.backend.readAsync(c._buffer.handle);
  }
  /**
   * This tensor if it spans its whole buffer in row-major order, else a copy that does. Backends
   * read whole buffers, so a contiguous view with an offset (a slice, a select) must be copied too:
   * `contiguous()` would return it as is.
   */
  private _wholeBuffer(): Tensor {
    if (this.isContiguous() && this.offset === 0 && this.size === this._buffer.handle.size) {
      return this;
    }
    return copyOf(this);
  }
  /** The elements as nested arrays (booleans for bool tensors); a 0-d tensor gives a number. */
  toArray(): NestedArray {
    const flat = this.dataSync();
    const asBool = this.dtype === 'bool';
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.ndim) return asBool ? flat[offset] !== 0 : flat[offset]!;
      const n = this.shape[dim]!;
      const step = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * step);
      return out;
    };
    return build(0, 0);
  }
  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new ShapeError(
        `item: only one-element tensors can be converted to a number, got shape ${formatShape(this.shape)}`,
      );
    }
    return this.dataSync()[0]!;
  }
  toString(): string {
    return formatTensor(this);
  }

  // ---- Conversion and copies ---------------------------------------------------------------

  /** A copy in `dtype` (differentiable between float dtypes); this tensor when already `dtype`. */
  to(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }
  float(): Tensor {
    return ops.cast(this, 'float32');
  }
  double(): Tensor {
    return ops.cast(this, 'float64');
  }
  int(): Tensor {
    return ops.cast(this, 'int32');
  }
  bool(): Tensor {
    return ops.cast(this, 'bool');
  }
  /** This tensor if contiguous, else a contiguous copy (differentiable). */
  contiguous(): Tensor {
    return ops.contiguous(this);
  }
  /** A differentiable copy with its own buffer. */
  clone(): Tensor {
    return ops.clone(this);
  }

  // ---- Views -------------------------------------------------------------------------------

  reshape(...shape: ShapeArgs): Tensor {
    return ops.reshape(this, shapeArgs(shape));
  }
  view(...shape: ShapeArgs): Tensor {
    return ops.view(this, shapeArgs(shape));
  }
  permute(...dims: ShapeArgs): Tensor {
    return ops.permute(this, shapeArgs(dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return ops.transpose(this, dim0, dim1);
  }
  /** Transpose of a 2-D tensor (a 0-d or 1-D tensor is returned as is; use `mT` for batches). */
  get T(): Tensor {
    if (this.ndim < 2) return this;
    if (this.ndim > 2) {
      throw new ShapeError(
        `T: expects a tensor of at most 2 dimensions, got shape ${formatShape(this.shape)}; use mT to transpose the last two`,
      );
    }
    return ops.transpose(this, 0, 1);
  }
  /** Swaps the last two dimensions (matrix transpose of a batch). */
  get mT(): Tensor {
    return ops.transpose(this, -2, -1);
  }
  expand(...shape: ShapeArgs): Tensor {
    return ops.expand(this, shapeArgs(shape));
  }
  expandAs(other: Tensor): Tensor {
    return ops.expand(this, other.shape);
  }
  broadcastTo(...shape: ShapeArgs): Tensor {
    return ops.expand(this, shapeArgs(shape));
  }
  squeeze(dim?: number | readonly number[]): Tensor {
    return ops.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return ops.unsqueeze(this, dim);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return ops.narrow(this, dim, start, length);
  }
  /** Python-style slice along one dim: [start, end) with a positive step; negatives count from the end. */
  slice(dim: number, start?: number, end?: number, step?: number): Tensor {
    return ops.slice(this, dim, start, end, step);
  }
  /** The sub-tensor at `index` along `dim` (that dim removed). */
  select(dim: number, index: number): Tensor {
    return ops.select(this, dim, index);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten(this, startDim, endDim);
  }
  unflatten(dim: number, sizes: readonly number[]): Tensor {
    return ops.unflatten(this, dim, sizes);
  }
  split(splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
    return ops.split(this, splitSizeOrSections, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return ops.chunk(this, chunks, dim);
  }

  // ---- Elementwise arithmetic --------------------------------------------------------------

  add(other: TensorLike, alpha?: number): Tensor {
    return ops.add(this, other, alpha);
  }
  sub(other: TensorLike, alpha?: number): Tensor {
    return ops.sub(this, other, alpha);
  }
  mul(other: TensorLike): Tensor {
    return ops.mul(this, other);
  }
  div(other: TensorLike): Tensor {
    return ops.div(this, other);
  }
  pow(exponent: TensorLike): Tensor {
    return ops.pow(this, exponent);
  }
  maximum(other: TensorLike): Tensor {
    return ops.maximum(this, other);
  }
  minimum(other: TensorLike): Tensor {
    return ops.minimum(this, other);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  rsqrt(): Tensor {
    return ops.rsqrt(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  sign(): Tensor {
    return ops.sign(this);
  }
  sin(): Tensor {
    return ops.sin(this);
  }
  cos(): Tensor {
    return ops.cos(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  leakyRelu(negativeSlope = 0.01): Tensor {
    return ops.leakyRelu(this, negativeSlope);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return ops.gelu(this, approximate);
  }
  erf(): Tensor {
    return ops.erf(this);
  }
  reciprocal(): Tensor {
    return ops.reciprocal(this);
  }
  square(): Tensor {
    return ops.square(this);
  }
  floor(): Tensor {
    return ops.floor(this);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return ops.clamp(this, min, max);
  }
  isFinite(): Tensor {
    return ops.isFinite(this);
  }

  // ---- Comparison and logic ----------------------------------------------------------------

  eq(other: TensorLike): Tensor {
    return ops.eq(this, other);
  }
  ne(other: TensorLike): Tensor {
    return ops.ne(this, other);
  }
  lt(other: TensorLike): Tensor {
    return ops.lt(this, other);
  }
  le(other: TensorLike): Tensor {
    return ops.le(this, other);
  }
  gt(other: TensorLike): Tensor {
    return ops.gt(this, other);
  }
  ge(other: TensorLike): Tensor {
    return ops.ge(this, other);
  }
  logicalAnd(other: TensorLike): Tensor {
    return ops.logicalAnd(this, other);
  }
  logicalOr(other: TensorLike): Tensor {
    return ops.logicalOr(this, other);
  }
  logicalNot(): Tensor {
    return ops.logicalNot(this);
  }
  /** Elements where `mask` (bool, broadcastable) is true are replaced by `value`. */
  maskedFill(mask: Tensor, value: Scalar): Tensor {
    return ops.maskedFill(this, mask, value);
  }

  // ---- Reductions --------------------------------------------------------------------------

  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return ops.sum(this, dim, keepdim);
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return ops.mean(this, dim, keepdim);
  }
  /** Maximum values over `dim` (all elements when omitted), like PyTorch's `amax`. */
  max(dim?: number | readonly number[], keepdim = false): Tensor {
    return ops.max(this, dim, keepdim);
  }
  min(dim?: number | readonly number[], keepdim = false): Tensor {
    return ops.min(this, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return ops.argmax(this, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return ops.argmin(this, dim, keepdim);
  }
  var(dim?: number | readonly number[], options?: ops.VarOptions): Tensor {
    return ops.variance(this, dim, options);
  }
  std(dim?: number | readonly number[], options?: ops.VarOptions): Tensor {
    return ops.std(this, dim, options);
  }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor {
    return ops.logsumexp(this, dim, keepdim);
  }
  softmax(dim: number): Tensor {
    return ops.softmax(this, dim);
  }
  logSoftmax(dim: number): Tensor {
    return ops.logSoftmax(this, dim);
  }

  // ---- Linear algebra, indexing ------------------------------------------------------------

  matmul(other: Tensor): Tensor {
    return ops.matmul(this, other);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return ops.indexSelect(this, dim, index);
  }
  gather(dim: number, index: Tensor): Tensor {
    return ops.gather(this, dim, index);
  }
  tril(diagonal = 0): Tensor {
    return ops.tril(this, diagonal);
  }
  triu(diagonal = 0): Tensor {
    return ops.triu(this, diagonal);
  }

  // ---- In place (never recorded by autograd) ------------------------------------------------

  /** Copies `src` (broadcast to this shape, cast to this dtype) into this tensor's elements. */
  copy_(src: TensorLike): this {
    ops.writeInPlace(this, ops.toTensor(src, this), 'copy_');
    return this;
  }
  fill_(value: number): this {
    ops.fillInPlace(this, value);
    return this;
  }
  zero_(): this {
    return this.fill_(0);
  }
  add_(other: TensorLike, alpha?: number): this {
    ops.writeInPlace(this, ops.add(this, other, alpha), 'add_');
    return this;
  }
  sub_(other: TensorLike, alpha?: number): this {
    ops.writeInPlace(this, ops.sub(this, other, alpha), 'sub_');
    return this;
  }
  mul_(other: TensorLike): this {
    ops.writeInPlace(this, ops.mul(this, other), 'mul_');
    return this;
  }
  div_(other: TensorLike): this {
    ops.writeInPlace(this, ops.div(this, other), 'div_');
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    ops.writeInPlace(this, ops.clamp(this, min, max), 'clamp_');
    return this;
  }
}

export type ShapeArgs = number[] | [readonly number[]];

function shapeArgs(args: ShapeArgs): readonly number[] {
  return args.length === 1 && Array.isArray(args[0])
    ? (args[0] as readonly number[])
    : (args as number[]);
}
