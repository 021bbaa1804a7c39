/**
 * Seeded, splittable random numbers: xoshiro128** (Blackman & Vigna, 2018) seeded through
 * splitmix32. Pure 32-bit integer arithmetic (Math.imul, >>>), so a seed gives the same stream on
 * every machine and JS engine.
 */
import { ValueError } from './errors.js';

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [state, z >>> 0];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The serialisable state of a Generator (for checkpoints). */
export interface GeneratorState {
  s: [number, number, number, number];
  /** A cached second normal deviate from Box–Muller, or null. */
  spareNormal: number | null;
}

/**
 * A random-number generator. Create one with a seed for reproducible streams independent of the
 * global one, or use the default generator seeded by `manualSeed`.
 *
 * @example
 * const g = new nb.Generator(42);
 * const x = nb.randn([2, 3], { generator: g });
 */
export class Generator {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Resets the stream to the one determined by `seed` (an integer; only its low 53 bits count). */
  manualSeed(seed: number): this {
    if (!Number.isFinite(seed))
      throw new ValueError(`manualSeed: seed must be a finite number, got ${seed}`);
    // Fold the (up to 53-bit) seed into two 32-bit words so nearby seeds give unrelated streams.
    const lo = seed >>> 0;
    const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
    let st = lo ^ Math.imul(hi, 0x27d4eb2d);
    for (let i = 0; i < 4; i++) {
      const [next, z] = splitmix32(st);
      st = next;
      this.s[i] = z;
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
    this.spare = null;
    return this;
  }

  /** The next uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A standard normal deviate (Box–Muller; the second value of each pair is kept for the next call). */
  nextNormal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u1 = this.nextDouble();
    while (u1 === 0) u1 = this.nextDouble();
    const u2 = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** A uniform integer in [low, high). */
  nextInt(low: number, high: number): number {
    const range = high - low;
    if (range <= 0) throw new ValueError(`randint: empty range [${low}, ${high})`);
    if (range <= 4294967296) {
      // Rejection sampling removes modulo bias.
      const limit = 4294967296 - (4294967296 % range);
      let x = this.nextUint32();
      while (x >= limit) x = this.nextUint32();
      return low + (x % range);
    }
    return low + Math.floor(this.nextDouble() * range);
  }

  /** A new generator whose stream is independent of this one's (and advances this one). */
  split(): Generator {
    const g = new Generator(0);
    for (let i = 0; i < 4; i++) g.s[i] = this.nextUint32();
    if ((g.s[0]! | g.s[1]! | g.s[2]! | g.s[3]!) === 0) g.s[0] = 1;
    return g;
  }

  getState(): GeneratorState {
    return { s: [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!], spareNormal: this.spare };
  }

  setState(state: GeneratorState): this {
    if (!state || !Array.isArray(state.s) || state.s.length !== 4) {
      throw new ValueError('Generator.setState: expected { s: [4 x uint32], spareNormal }');
    }
    for (let i = 0; i < 4; i++) this.s[i] = state.s[i]! >>> 0;
    this.spare = state.spareNormal ?? null;
    return this;
  }
}

let defaultGen = new Generator(0);

/** The global generator used when an op is given none. */
export function defaultGenerator(): Generator {
  return defaultGen;
}

/**
 * Seeds the global generator: the same seed gives the same numbers on every run and machine.
 *
 * @example
 * nb.manualSeed(0);
 * const a = nb.rand([3]).toArray();
 * nb.manualSeed(0);
 * const b = nb.rand([3]).toArray(); // equal to a
 */
export function manualSeed(seed: number): Generator {
  defaultGen = new Generator(seed);
  return defaultGen;
}
