/**
 * Memory: reference-counted buffers shared by a tensor and its views, `dispose()`, `scope(fn)` that
 * frees a computation's intermediates, and a FinalizationRegistry safety net for memory the garbage
 * collector cannot see (GPU, tensors in the wasm memory). With the typed-array reference backend all of
 * this only drops references (or recycles the arrays: see `setBufferPooling`); the same user code
 * frees real memory on the others.
 */
import type { Backend, Storage } from './backend/backend.js';
import {
  bufferPoolStats,
  configureBufferPool,
  type BufferPoolStats,
} from './backend/ref/storage.js';
import { ValueError } from './core/errors.js';

const BYTES_PER_ELEMENT: Record<Storage['dtype'], number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  bool: 1,
};

// Buffers allocated and not yet released (see memoryStats).
let liveBuffers = 0;
let liveBytes = 0;
let peakBytes = 0;

function countFree(bytes: number): void {
  liveBuffers--;
  liveBytes -= bytes;
}

/** A backend buffer with the number of live tensors that view it and an in-place version counter. */
export class Buffer {
  refs = 0;
  /** Bumped by every in-place write, so autograd can tell that a saved tensor changed. */
  version = 0;
  freed = false;
  /** Size in bytes (for memoryStats). */
  readonly bytes: number;
  constructor(
    readonly backend: Backend,
    readonly handle: Storage,
  ) {
    this.bytes = handle.size * BYTES_PER_ELEMENT[handle.dtype];
    liveBuffers++;
    liveBytes += this.bytes;
    if (liveBytes > peakBytes) peakBytes = liveBytes;
    // Every buffer is registered, so that one dropped without dispose() (a gradient that
    // zeroGrad() lets go, say) leaves the counters once collected. Only storage the collector
    // cannot reclaim (non-GC backends, wasm-memory blocks) comes back to be freed; holding a
    // typed array here would keep it alive.
    finalizer.register(
      this,
      backend.gcManaged && handle.explicitFree !== true
        ? { backend: null, handle: null, bytes: this.bytes }
        : { backend, handle, bytes: this.bytes },
      this,
    );
  }

  release(): void {
    if (--this.refs > 0 || this.freed) return;
    this.freed = true;
    countFree(this.bytes);
    finalizer.unregister(this);
    this.backend.free(this.handle);
  }
}

// A buffer whose every tensor became unreachable without dispose(): uncounted, and freed on
// backends whose memory the garbage collector cannot see.
const finalizer = new FinalizationRegistry<{
  backend: Backend | null;
  handle: Storage | null;
  bytes: number;
}>(({ backend, handle, bytes }) => {
  countFree(bytes);
  if (backend && handle) backend.free(handle);
});

/** Counters of tensor buffers, from `memoryStats()`. */
export interface MemoryStats {
  /** Buffers allocated and not yet released. */
  liveBuffers: number;
  /** Their total size in bytes. */
  liveBytes: number;
  /** The largest `liveBytes` seen since start-up or the last `resetPeak`. */
  peakBytes: number;
  /**
   * The typed-array pool of the ref, native and wasm backends: free arrays held for reuse (not
   * counted in `liveBytes`) and allocations it served (`hits`) or not (`misses`).
   */
  pool: BufferPoolStats;
}

/**
 * Bytes and count of tensor buffers allocated and not yet released, and the peak since the last
 * reset. A buffer is released when its last tensor is disposed (by `dispose()` or a `scope`), or,
 * for tensors dropped without `dispose()` (a gradient that `zeroGrad()` lets go), some time after
 * the garbage collector has reclaimed them: a FinalizationRegistry callback, which runs only when
 * the event loop turns, uncounts them (and frees them on backends whose memory the collector cannot
 * see). Inside one synchronous computation the counters therefore measure what it holds.
 *
 * @example
 * nb.memoryStats({ resetPeak: true });
 * nb.scope(() => model.forward(x).sum().backward());
 * console.log(nb.memoryStats().peakBytes / 2 ** 20, 'MiB at the peak');
 */
export function memoryStats(
  options: { resetPeak?: boolean; resetPoolCounts?: boolean } = {},
): MemoryStats {
  const stats = {
    liveBuffers,
    liveBytes,
    peakBytes,
    pool: bufferPoolStats(options.resetPoolCounts),
  };
  if (options.resetPeak) peakBytes = liveBytes;
  return stats;
}

/**
 * Turns the buffer pool of the ref, native and wasm backends on or off (off also empties it);
 * NABLA_POOL=0 or 1 in the environment sets the initial state. When on, the typed array of a
 * buffer released by `dispose()` or a `scope` (its last tensor and view gone) is kept, up to
 * `maxBytes` in all (1 GiB by default, oldest dropped first), and serves the next allocation of
 * the same dtype and length, zero-filled, which spares the garbage collector most of a training
 * step's allocations. Tensors merely dropped (no dispose, no scope) are left to the collector.
 *
 * @example
 * nb.setBufferPooling(true, { maxBytes: 64 * 2 ** 20 });
 * for (let i = 0; i < 100; i++) nb.scope(() => trainStep());
 * console.log(nb.memoryStats().pool); // { enabled: true, hits: ..., misses: ..., bytes: ... }
 */
export function setBufferPooling(on: boolean, options: { maxBytes?: number } = {}): void {
  const { maxBytes } = options;
  if (maxBytes !== undefined && !(Number.isFinite(maxBytes) && maxBytes >= 0)) {
    throw new ValueError(
      `setBufferPooling: maxBytes must be a finite number >= 0, got ${maxBytes}`,
    );
  }
  configureBufferPool(on, maxBytes);
}

/** What memory tracking needs to know of a tensor (implemented by Tensor). */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Tensors that must outlive this one if it is kept (its autograd inputs and saved values). */
  graphDependencies(): readonly Disposable[];
}

const scopes: Set<Disposable>[] = [];

/** Called by every new tensor: the innermost open scope now owns it. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes `t` from every open scope so that it survives them; returns it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collectReturned(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if ('graphDependencies' in value && 'dispose' in value) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectReturned(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collectReturned(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectReturned(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it, except those it returns (found in arrays,
 * maps and plain objects), those passed to `keep`, and whatever the returned tensors' autograd graph
 * still needs for `backward()`. Scopes nest; kept tensors belong to the enclosing scope.
 *
 * @example
 * const loss = nb.scope(() => model(x).sub(y).square().mean());
 * loss.backward(); // the graph's saved tensors were kept
 */
export function scope<T>(fn: () => T): T {
  const owned = new Set<Disposable>();
  scopes.push(owned);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of owned) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    throw new TypeError(
      'scope(fn): fn must be synchronous; await inside and wrap only the synchronous parts',
    );
  }
  const survivors = new Set<Disposable>();
  collectReturned(result, survivors);
  // Everything reachable from a returned tensor through the autograd graph stays alive.
  const stack = [...survivors];
  while (stack.length > 0) {
    const t = stack.pop()!;
    for (const d of t.graphDependencies()) {
      if (!survivors.has(d)) {
        survivors.add(d);
        stack.push(d);
      }
    }
  }
  const parent = scopes[scopes.length - 1];
  for (const t of owned) {
    if (survivors.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}
