/**
 * Seeded shuffling and mini-batching, after PyTorch's `torch.utils.data` (`randperm`, `DataLoader`
 * with `batch_size`, `shuffle`, `drop_last`, `generator` and `collate_fn`, and `default_collate`).
 * Shuffling is Fisher–Yates (Knuth, TAOCP vol. 2, Algorithm P) driven by nabla's seeded
 * `Generator`, so a seed gives the same order on every machine.
 */
import { defaultGenerator, Generator } from '../core/random.js';
import { ValueError } from '../core/errors.js';
import type { DType } from '../core/dtype.js';
import { tensor } from '../ops/creation.js';
import { stack } from '../ops/join.js';
import { Tensor } from '../tensor.js';

/**
 * The indices 0..n-1 in a random order.
 *
 * @example
 * nb.data.randperm(5, new nb.Generator(0)); // the same permutation on every run
 */
export function randperm(n: number, generator: Generator = defaultGenerator()): number[] {
  if (!(Number.isInteger(n) && n >= 0))
    throw new ValueError(`randperm: n must be an integer >= 0, got ${n}`);
  const out = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(out, generator);
  return out;
}

function shuffleInPlace<T>(a: T[], generator: Generator): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = generator.nextInt(0, i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/**
 * A shuffled copy of `array` (the input is left as it is).
 *
 * @example
 * const g = new nb.Generator(42);
 * nb.data.shuffle(['a', 'b', 'c', 'd'], g); // a fixed order for seed 42
 */
export function shuffle<T>(array: readonly T[], generator: Generator = defaultGenerator()): T[] {
  if (!Array.isArray(array)) throw new ValueError('shuffle: expected an array');
  const out = [...array];
  shuffleInPlace(out, generator);
  return out;
}

/** Anything with a length and indexed items: an array, or a dataset class. */
export interface Dataset<T> {
  readonly length: number;
  get(index: number): T;
}

type TypedArrayLike = Float32Array | Float64Array | Int32Array | Uint8Array;

/** A nested array of numbers (or booleans): one sample's tensor data. */
export type NumericArray = readonly (number | boolean | NumericArray)[];

/** What `defaultCollate` makes of a batch of samples of type T. */
export type Collated<T> = T extends Tensor | number | boolean | TypedArrayLike | NumericArray
  ? Tensor
  : T extends string
    ? string[]
    : T extends readonly unknown[]
      ? { [K in keyof T]: Collated<T[K]> }
      : T extends object
        ? { [K in keyof T]: Collated<T[K]> }
        : never;

function isNumericArray(v: unknown): v is NumericArray {
  if (!Array.isArray(v)) return false;
  return v.every((x) => typeof x === 'number' || typeof x === 'boolean' || isNumericArray(x));
}

function numericDType(values: ArrayLike<unknown>): DType {
  let allBool = true;
  let allInt = true;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (typeof x !== 'boolean') allBool = false;
    if (typeof x === 'number' && !Number.isInteger(x)) allInt = false;
  }
  return allBool ? 'bool' : allInt ? 'int32' : 'float32';
}

/**
 * Stacks a list of samples into a batch, as PyTorch's `default_collate`: tensors are stacked along
 * a new first dimension; numbers, booleans, nested number arrays and typed arrays become one
 * tensor of shape (B, ...) (typed arrays keep their dtype; numbers give int32 when every value in
 * the batch is an integer, else float32; booleans give bool); strings are gathered into a list;
 * tuples (arrays of mixed items) and plain objects are collated field by field.
 *
 * @example
 * nb.data.defaultCollate([{ x: [1, 2], y: 0 }, { x: [3, 4], y: 1 }]);
 * // { x: int32 tensor [[1, 2], [3, 4]], y: int32 tensor [0, 1] }
 */
export function defaultCollate<T>(samples: readonly T[]): Collated<T> {
  return collateAny(samples as readonly unknown[], 'defaultCollate') as Collated<T>;
}

function collateAny(samples: readonly unknown[], path: string): unknown {
  if (samples.length === 0) throw new ValueError(`${path}: cannot collate an empty batch`);
  const first = samples[0];
  const mismatch = (what: string): ValueError =>
    new ValueError(`${path}: every sample must be ${what}, like the first one`);
  if (first instanceof Tensor) {
    if (!samples.every((s) => s instanceof Tensor)) throw mismatch('a Tensor');
    return stack(samples as Tensor[]);
  }
  if (typeof first === 'number' || typeof first === 'boolean') {
    if (!samples.every((s) => typeof s === typeof first)) throw mismatch(`a ${typeof first}`);
    return tensor(samples as number[], { dtype: numericDType(samples) });
  }
  if (typeof first === 'string') {
    if (!samples.every((s) => typeof s === 'string')) throw mismatch('a string');
    return [...(samples as string[])];
  }
  if (ArrayBuffer.isView(first)) {
    const arrays = samples as TypedArrayLike[];
    const ctor = (first as TypedArrayLike).constructor as new (n: number) => TypedArrayLike;
    const len = (first as TypedArrayLike).length;
    if (!arrays.every((a) => a instanceof ctor && a.length === len))
      throw mismatch(`a ${ctor.name} of length ${len}`);
    const flat = new ctor(len * arrays.length);
    arrays.forEach((a, i) => flat.set(a as never, i * len));
    return tensor(flat, { shape: [arrays.length, len] });
  }
  if (isNumericArray(first)) {
    if (!samples.every(isNumericArray)) throw mismatch('a nested array of numbers');
    const flatValues: (number | boolean)[] = [];
    const walk = (v: NumericArray | number | boolean): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else flatValues.push(v as number | boolean);
    };
    samples.forEach((s) => walk(s as NumericArray));
    return tensor(samples as never, { dtype: numericDType(flatValues) });
  }
  if (Array.isArray(first)) {
    if (!samples.every((s) => Array.isArray(s) && s.length === first.length))
      throw mismatch(`an array of length ${first.length}`);
    return first.map((_, i) =>
      collateAny(
        samples.map((s) => (s as unknown[])[i]),
        `${path}[${i}]`,
      ),
    );
  }
  if (typeof first === 'object' && first !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(first)) {
      out[key] = collateAny(
        samples.map((s, i) => {
          if (typeof s !== 'object' || s === null || !(key in s))
            throw new ValueError(
              `${path}: sample ${i} has no field "${key}"; every sample must have the first one's fields`,
            );
          return (s as Record<string, unknown>)[key];
        }),
        `${path}.${key}`,
      );
    }
    return out;
  }
  throw new ValueError(`${path}: cannot collate samples of type ${typeof first}`);
}

export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Draw a new random order every epoch (default false). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** The generator for shuffling (default: a new Generator(seed) if `seed` is given, else the global one). */
  generator?: Generator;
  /** A seed for a private generator (ignored when `generator` is given). */
  seed?: number;
  /** Turns a list of samples into a batch (default `defaultCollate`). */
  collate?: (samples: T[]) => B;
}

/**
 * Iterates over a dataset in mini-batches; each `for...of` is one epoch.
 *
 * @example
 * const loader = new nb.data.DataLoader(samples, { batchSize: 32, shuffle: true, seed: 0 });
 * for (const batch of loader) {
 *   // batch: the collated samples
 * }
 */
export class DataLoader<T, B = Collated<T>> implements Iterable<B> {
  readonly dataset: Dataset<T> | readonly T[];
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly generator: Generator;
  private readonly collate: (samples: T[]) => B;

  constructor(dataset: Dataset<T> | readonly T[], options: DataLoaderOptions<T, B> = {}) {
    if (!dataset || !Number.isInteger(dataset.length))
      throw new ValueError('DataLoader: the dataset must be an array or have length and get(i)');
    if (!Array.isArray(dataset) && typeof (dataset as Dataset<T>).get !== 'function')
      throw new ValueError('DataLoader: the dataset must be an array or have length and get(i)');
    this.dataset = dataset;
    this.batchSize = options.batchSize ?? 1;
    if (!(Number.isInteger(this.batchSize) && this.batchSize >= 1))
      throw new ValueError(`DataLoader: batchSize must be an integer >= 1, got ${this.batchSize}`);
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.generator =
      options.generator ??
      (options.seed !== undefined ? new Generator(options.seed) : defaultGenerator());
    this.collate = options.collate ?? ((s: T[]) => defaultCollate(s) as B);
  }

  /** The number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  private item(i: number): T {
    return Array.isArray(this.dataset)
      ? (this.dataset as readonly T[])[i]!
      : (this.dataset as Dataset<T>).get(i);
  }

  *[Symbol.iterator](): Iterator<B> {
    const n = this.dataset.length;
    // The order is drawn when the epoch starts, so one epoch's order does not depend on how far
    // an earlier epoch was iterated.
    const order = this.shuffle
      ? randperm(n, this.generator)
      : Array.from({ length: n }, (_, i) => i);
    for (let start = 0; start < n; start += this.batchSize) {
      const end = Math.min(start + this.batchSize, n);
      if (this.dropLast && end - start < this.batchSize) break;
      const samples: T[] = [];
      for (let i = start; i < end; i++) samples.push(this.item(order[i]!));
      yield this.collate(samples);
    }
  }
}
