/**
 * A block allocator over a WebAssembly memory: the staging arena of the kernels (instance.ts) and,
 * where the memory is shared, tensors' storage (resident.ts) live in its blocks. Blocks are 64-byte
 * aligned (a cache line: SIMD loads never straddle one) and their sizes rounded up to 64. A freed
 * block goes to a free list of its exact size: training allocates the same sizes step after step,
 * so exact fits are the rule, and they need neither splitting nor merging. New blocks come from a
 * bump pointer that grows the memory as needed; only when that would grow the memory is a larger
 * free block (at most twice the size) taken instead, so that a run whose sizes drift does not grow
 * the memory for every new size. WebAssembly memory never shrinks.
 */

/** The part of a WebAssembly.Memory the heap uses. */
export interface GrowableMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}

const ALIGN = 64;
const PAGE = 65536;
/** Grow by at least this many pages (1 MiB) at a time: fewer grows, fewer renewed views. */
const MIN_GROW_PAGES = 16;
/** WebAssembly's 32-bit address space, less the last page (addresses stay below 2³² − 64 KiB). */
const LIMIT = 2 ** 32 - PAGE;

const roundUp = (bytes: number): number => Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;

export class Heap {
  private top: number;
  /** Free blocks by size. */
  private readonly free = new Map<number, number[]>();
  /** Size of every block handed out and not yet freed, by address. */
  private readonly live = new Map<number, number>();
  /** Bytes in blocks handed out and not yet freed. */
  liveBytes = 0;

  constructor(
    readonly memory: GrowableMemory,
    base: number,
  ) {
    this.top = roundUp(base);
  }

  /** The address of a new block of at least `bytes`; 0 when the memory cannot grow that far. */
  alloc(bytes: number): number {
    const size = roundUp(bytes);
    let ptr = this.free.get(size)?.pop() ?? 0;
    let got = size;
    if (ptr === 0) {
      const fits = this.top + size <= this.memory.buffer.byteLength;
      const larger = fits ? 0 : this.larger(size);
      if (larger > 0) {
        ptr = this.free.get(larger)!.pop()!;
        got = larger;
      } else {
        if (!this.reserve(this.top + size)) return 0;
        ptr = this.top;
        this.top += size;
      }
    }
    this.live.set(ptr, got);
    this.liveBytes += got;
    return ptr;
  }

  /** Returns the block at `ptr` (from `alloc`) to its free list, and its size; a second free throws. */
  release(ptr: number): number {
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`wasm heap: no block at ${ptr} to free`);
    this.live.delete(ptr);
    this.liveBytes -= size;
    let list = this.free.get(size);
    if (list === undefined) this.free.set(size, (list = []));
    list.push(ptr);
    return size;
  }

  /** The end of the highest block ever handed out: the memory the heap spans. */
  get extent(): number {
    return this.top;
  }

  /** The smallest size in (size, 2·size] with a free block; 0 if none. */
  private larger(size: number): number {
    let best = 0;
    for (const [s, list] of this.free) {
      if (s > size && s <= 2 * size && list.length > 0 && (best === 0 || s < best)) best = s;
    }
    return best;
  }

  /** Grows the memory to at least `end` bytes; false when it cannot. */
  private reserve(end: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return true;
    if (end > LIMIT) return false;
    const pages = Math.ceil((end - have) / PAGE);
    const most = Math.floor((LIMIT - have) / PAGE);
    // The larger step may pass the memory's maximum where the exact one does not.
    return this.grow(Math.min(most, Math.max(pages, MIN_GROW_PAGES))) || this.grow(pages);
  }

  private grow(pages: number): boolean {
    try {
      this.memory.grow(pages); // throws a RangeError when it cannot
      return true;
    } catch {
      return false;
    }
  }
}
