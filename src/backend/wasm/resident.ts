/**
 * Resident storage: where the wasm memory is shared (Node, node/threads.ts), a tensor's storage is
 * a heap block of that memory (heap.ts), and its `.data` a typed array over the block. A shared
 * memory's buffer is never detached when the memory grows, so the array stays valid for good, and
 * the reference kernels, reads and writes use it as any other typed array; the wasm kernels read
 * and write the block in place instead of copying operands in and results out (stage.ts).
 *
 * Blocks must be freed explicitly: by `dispose()` or a scope, or, for tensors merely dropped, by the
 * FinalizationRegistry of src/memory.ts, which runs only when the event loop turns. A synchronous
 * loop that drops tensors (the gradients `zeroGrad()` lets go) would fill the memory, so resident
 * bytes are bounded (`residentTuning.maxBytes`); beyond the bound, and where the memory is not
 * shared (browsers: growing it detaches its buffer, and every array over it), storage is the
 * reference backend's typed arrays, which the kernels copy in and out.
 */
import type { DType, TypedArray } from '../../core/dtype.js';
import type { Storage } from '../backend.js';
import { freeRefStorage, newRefStorage, RefStorage } from '../ref/storage.js';
import type { Heap } from './heap.js';
import { kernelsOrNull, sharedMemory, wasmHeap } from './instance.js';
import { memsetOver } from './memset.js';

/** A storage whose array is a block of a wasm heap's memory. */
export class ResidentStorage extends RefStorage {
  /** Tells src/memory.ts to free it even when dropped to the garbage collector. */
  readonly explicitFree = true;
  constructor(
    dtype: DType,
    data: TypedArray,
    readonly heap: Heap,
    /** The block's address. */
    readonly ptr: number,
  ) {
    super(dtype, data);
  }
}

/**
 * @internal `maxBytes`: the most bytes resident storage may hold at once (512 MiB by default);
 * allocations beyond it get ordinary typed arrays. The tests lower it.
 */
export const residentTuning = { maxBytes: 512 * 2 ** 20 };

let residentBytes = 0;

/** @internal Bytes of resident storage allocated and not freed (all heaps together). */
export function residentLiveBytes(): number {
  return residentBytes;
}

const RESIDENT = new Set<DType>(['float32', 'int32', 'bool']);

/** Blocks from this many bytes are zeroed by memset.ts (a call costs more than a short fill). */
const MEMSET_BYTES = 1024;
const memsets = new WeakMap<Heap, ReturnType<typeof memsetOver>>();

/** Zeroes the block at `ptr` (of `bytes`) that `data` views. */
function zero(heap: Heap, ptr: number, bytes: number, data: TypedArray): void {
  if (bytes < MEMSET_BYTES) {
    data.fill(0);
    return;
  }
  let memset = memsets.get(heap);
  if (memset === undefined) memsets.set(heap, (memset = memsetOver(heap.memory)));
  if (memset) memset(ptr, 0, bytes);
  else data.fill(0);
}

/**
 * A zero-filled storage (left as it is with `uninitialized`), resident where it can be, except
 * `collected` ones (tensors likely dropped rather than disposed: see Backend.alloc).
 */
export function allocStorage(
  dtype: DType,
  size: number,
  uninitialized = false,
  collected = false,
): Storage {
  const width = dtype === 'bool' ? 1 : 4;
  const bytes = size * width;
  // kernelsOrNull compiles the kernels on the first allocation: parameters, created before any
  // kernel runs, are resident too.
  if (
    !collected &&
    RESIDENT.has(dtype) &&
    size > 0 &&
    residentBytes + bytes <= residentTuning.maxBytes
  ) {
    const heap = kernelsOrNull() && sharedMemory() ? wasmHeap() : null;
    const ptr = heap ? heap.alloc(bytes) : 0;
    if (ptr !== 0) {
      const buffer = heap!.memory.buffer;
      const data =
        dtype === 'float32'
          ? new Float32Array(buffer, ptr, size)
          : dtype === 'int32'
            ? new Int32Array(buffer, ptr, size)
            : new Uint8Array(buffer, ptr, size);
      if (!uninitialized) zero(heap!, ptr, bytes, data);
      residentBytes += bytes;
      return new ResidentStorage(dtype, data, heap!, ptr);
    }
  }
  return newRefStorage(dtype, size, uninitialized);
}

/** Frees a storage: a resident block goes back to its heap, a typed array to ref's pool. */
export function freeStorage(storage: Storage): void {
  if (storage instanceof ResidentStorage) {
    storage.heap.release(storage.ptr);
    residentBytes -= storage.data.byteLength;
  } else {
    freeRefStorage(storage);
  }
}
