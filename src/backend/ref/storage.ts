/**
 * Reference-backend storage (also the native and wasm backends'): a plain typed array, and an
 * optional pool that recycles the arrays of explicitly released buffers.
 *
 * Why a pool: a training step allocates and drops hundreds of large typed arrays, and V8 spends a
 * large share of the step allocating them and collecting them. When a buffer is released through
 * `dispose()` or the end of a `scope` (src/memory.ts calls `free` only once no live tensor, view,
 * gradient or saved autograd value refers to it), its array can serve the next allocation of the
 * same dtype and length instead. Arrays merely dropped to the garbage collector never come back
 * here. `read` returns copies, so no array handed to user code is ever pooled.
 */
import { allocArray, type DType, type TypedArray } from '../../core/dtype.js';
import type { Storage, View } from '../backend.js';

export class RefStorage implements Storage {
  constructor(
    readonly dtype: DType,
    readonly data: TypedArray,
  ) {}
  get size(): number {
    return this.data.length;
  }
}

// ---- Buffer pool -------------------------------------------------------------------------------

/** A pooled array; `taken` marks it handed out again (it then lingers in the FIFO until skipped). */
interface Entry {
  data: TypedArray;
  bytes: number;
  bucket: Entry[];
  taken: boolean;
}

// Enough for the arrays of a GPT training step like bench:fused's (about 830 MiB at its peak).
const DEFAULT_MAX_BYTES = 2 ** 30;

/** NABLA_POOL=0 or 1 where there is a `process` (Node); read without importing Node built-ins. */
function envSetting(): boolean | null {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  const v = env?.NABLA_POOL;
  return v === '0' ? false : v === '1' ? true : null;
}

let enabled = envSetting() ?? true;
let maxBytes = DEFAULT_MAX_BYTES;
let pooledBytes = 0;
let pooledBuffers = 0;
let hits = 0;
let misses = 0;
/** Free arrays by dtype and length; each bucket is in release order (newest last). */
const buckets: Record<DType, Map<number, Entry[]>> = {
  float32: new Map(),
  float64: new Map(),
  int32: new Map(),
  bool: new Map(),
};
/** Every pooled entry in release order (taken ones are skipped), so the oldest is dropped first. */
let fifo: Entry[] = [];
let fifoHead = 0;

/** Drops the oldest pooled array; false when the pool is empty. */
function dropOldest(): boolean {
  while (fifoHead < fifo.length) {
    const e = fifo[fifoHead++]!;
    if (e.taken) continue;
    // Within a bucket entries are in release order too, so the oldest one is normally its first.
    const i = e.bucket[0] === e ? 0 : e.bucket.indexOf(e);
    e.bucket.splice(i, 1);
    e.taken = true;
    pooledBytes -= e.bytes;
    pooledBuffers--;
    return true;
  }
  return false;
}

/** Rebuilds the queue without the entries handed out again, once they outnumber the pooled ones. */
function compactFifo(): void {
  if (fifo.length - fifoHead > 2 * pooledBuffers + 1024) {
    fifo = fifo.slice(fifoHead).filter((e) => !e.taken);
    fifoHead = 0;
  }
}

function take(dtype: DType, size: number, zero: boolean): TypedArray | null {
  const bucket = buckets[dtype].get(size);
  const e = bucket?.pop();
  if (e === undefined) return null;
  e.taken = true;
  pooledBytes -= e.bytes;
  pooledBuffers--;
  if (zero) e.data.fill(0); // alloc returns zeros, whatever the array held before
  return e.data;
}

function give(dtype: DType, data: TypedArray): void {
  const bytes = data.byteLength;
  if (!enabled || bytes === 0 || bytes > maxBytes) return;
  while (pooledBytes + bytes > maxBytes && dropOldest());
  let bucket = buckets[dtype].get(data.length);
  if (bucket === undefined) buckets[dtype].set(data.length, (bucket = []));
  const e: Entry = { data, bytes, bucket, taken: false };
  bucket.push(e);
  fifo.push(e);
  pooledBytes += bytes;
  pooledBuffers++;
  compactFifo();
}

/** Empties the pool (its arrays go to the garbage collector). */
function clearPool(): void {
  for (const m of Object.values(buckets)) m.clear();
  fifo = [];
  fifoHead = 0;
  pooledBytes = 0;
  pooledBuffers = 0;
}

/** Counters of the buffer pool, part of `memoryStats()`. */
export interface BufferPoolStats {
  /** Whether released buffers are recycled (see `setBufferPooling`). */
  enabled: boolean;
  /** Free arrays held for reuse, and their bytes. */
  buffers: number;
  bytes: number;
  /** The most bytes the pool holds (the oldest arrays are dropped beyond it). */
  maxBytes: number;
  /** Allocations served from the pool, and those that had to allocate, since start-up or reset. */
  hits: number;
  misses: number;
}

/** @internal The pool's counters (`memoryStats().pool`); `resetCounts` zeroes hits and misses. */
export function bufferPoolStats(resetCounts = false): BufferPoolStats {
  const s = { enabled, buffers: pooledBuffers, bytes: pooledBytes, maxBytes, hits, misses };
  if (resetCounts) hits = misses = 0;
  return s;
}

/** @internal Turns pooling on or off (off empties it) and optionally sets its byte bound. */
export function configureBufferPool(on: boolean, bound?: number): void {
  enabled = on;
  if (bound !== undefined) maxBytes = bound;
  if (!on) clearPool();
  while (pooledBytes > maxBytes && dropOldest());
}

// ---- Allocation --------------------------------------------------------------------------------

/**
 * A zero-filled storage, from the pool when it holds an array of this dtype and length. With
 * `uninitialized`, a pooled array keeps what it held (for outputs a kernel overwrites whole).
 */
export function newRefStorage(dtype: DType, size: number, uninitialized = false): RefStorage {
  if (enabled && size > 0) {
    const data = take(dtype, size, !uninitialized);
    if (data !== null) {
      hits++;
      return new RefStorage(dtype, data);
    }
    misses++;
  }
  return new RefStorage(dtype, allocArray(dtype, size));
}

/**
 * Returns a released storage's array to the pool. Only src/memory.ts calls this (through the
 * backend's `free`), once the buffer's reference count reached zero; the RefStorage object itself
 * is never reused, so storage identity stays unique per allocation.
 */
export function freeRefStorage(storage: Storage): void {
  const s = storage as RefStorage;
  give(s.dtype, s.data);
}

/** The typed array behind a view (every view the reference kernels see holds a RefStorage). */
export function arrayOf(v: View): TypedArray {
  return (v.storage as RefStorage).data;
}
