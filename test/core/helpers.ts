/**
 * Shared helpers for the core tests: approximate comparison of tensors and nested arrays, float64
 * inputs kept away from kinks and ties, and a gradcheck wrapper that also rejects vacuous checks.
 */
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

type Numeric = nb.Tensor | nb.NestedArray | ArrayLike<number>;

function flatten(v: Numeric): { shape: number[] | null; values: number[] } {
  if (v instanceof nb.Tensor) return { shape: [...v.shape], values: Array.from(v.dataSync()) };
  if (typeof v === 'number' || typeof v === 'boolean') return { shape: [], values: [+v] };
  if (Array.isArray(v)) {
    const shape: number[] = [];
    let probe: nb.NestedArray = v as nb.NestedArray;
    while (Array.isArray(probe)) {
      shape.push(probe.length);
      if (probe.length === 0) break;
      probe = probe[0]!;
    }
    const values: number[] = [];
    const walk = (x: nb.NestedArray): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else values.push(+x);
    };
    walk(v as nb.NestedArray);
    return { shape, values };
  }
  return { shape: null, values: Array.from(v as ArrayLike<number>) };
}

/**
 * Asserts that `actual` and `expected` have the same shape (when both carry one) and elements
 * within `atol + rtol·|expected|`. NaN matches NaN; infinities must match exactly.
 */
export function assertClose(actual: Numeric, expected: Numeric, atol = 1e-6, rtol = 0): void {
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.shape !== null && e.shape !== null) {
    assert.deepEqual(a.shape, e.shape, `shape [${a.shape}] differs from expected [${e.shape}]`);
  }
  assert.equal(a.values.length, e.values.length, 'element count differs');
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i]!;
    const y = e.values[i]!;
    if (Number.isNaN(y)) {
      assert.ok(Number.isNaN(x), `element ${i}: expected NaN, got ${x}`);
      continue;
    }
    if (!Number.isFinite(y)) {
      assert.equal(x, y, `element ${i}: expected ${y}, got ${x}`);
      continue;
    }
    assert.ok(
      Math.abs(x - y) <= atol + rtol * Math.abs(y),
      `element ${i}: ${x} differs from expected ${y} by ${Math.abs(x - y)} (atol ${atol}, rtol ${rtol})\n` +
        `actual   [${a.values.join(', ')}]\nexpected [${e.values.join(', ')}]`,
    );
  }
}

export interface InputOptions {
  /** Seed of the values (each test picks its own so inputs differ). */
  seed?: number;
  /** Values in [0.5, 2] instead of ±[0.2, 2] (for log, sqrt, pow bases, ...). */
  positive?: boolean;
  /** Half-width of the range (default 2). */
  scale?: number;
  /** Minimum distance between any two values and from 0 (default 0.05): no ties, no kinks. */
  gap?: number;
  /** Further points (kinks such as clamp bounds) to stay `gap` away from. */
  avoid?: readonly number[];
  requiresGrad?: boolean;
}

/**
 * float64 tensors of the given shapes whose values are well separated: no two (within or across
 * tensors) closer than `gap`, none near zero or the `avoid` points, so max/min/abs/relu/clamp stay
 * differentiable under finite differences.
 */
export function inputs(
  shapes: readonly (readonly number[])[],
  options: InputOptions = {},
): nb.Tensor[] {
  const g = new nb.Generator(options.seed ?? 7);
  const gap = options.gap ?? 0.05;
  const scale = options.scale ?? 2;
  const avoid = options.avoid ?? [];
  const total = shapes.reduce((acc, s) => acc + s.reduce((a, b) => a * b, 1), 0);
  const values: number[] = [];
  for (let tries = 0; values.length < total; tries++) {
    if (tries > 100000) throw new Error(`inputs: cannot place ${total} values ${gap} apart`);
    const u = g.nextDouble();
    const v = options.positive ? 0.5 + 1.5 * u : (2 * u - 1) * scale;
    if (!options.positive && Math.abs(v) < Math.max(gap, 0.1 * scale)) continue;
    if (avoid.some((w) => Math.abs(w - v) < gap)) continue;
    if (values.some((w) => Math.abs(w - v) < gap)) continue;
    values.push(v);
  }
  let start = 0;
  return shapes.map((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = nb.tensor(Float64Array.from(values.slice(start, start + n)), {
      shape,
      requiresGrad: options.requiresGrad ?? true,
    });
    start += n;
    return t;
  });
}

/** One tensor of `inputs`. */
export function input(shape: readonly number[], options: InputOptions = {}): nb.Tensor {
  return inputs([shape], options)[0]!;
}

/** An int32 index tensor from nested arrays. */
export function idx(data: nb.NestedArray): nb.Tensor {
  return nb.tensor(data as number[], { dtype: 'int32' });
}

export interface CheckOptions {
  atol?: number;
  rtol?: number;
  eps?: number;
  /** Allow some input to receive an all-zero gradient (default false: that would be vacuous). */
  allowZeroGrad?: boolean;
}

/**
 * nb.gradcheck plus the assertions that make it meaningful: one report per input, and a non-zero
 * analytical gradient for every input that requires grad (a check of 0 against 0 proves nothing).
 */
export function gradcheck(
  fn: (...inputs: nb.Tensor[]) => nb.Tensor,
  inputs: readonly nb.Tensor[],
  options: CheckOptions = {},
): void {
  const reports = nb.gradcheck(fn, inputs, {
    atol: options.atol ?? 1e-6,
    rtol: options.rtol ?? 1e-4,
    ...(options.eps !== undefined ? { eps: options.eps } : {}),
  });
  assert.equal(reports.length, inputs.length);
  if (options.allowZeroGrad) return;
  inputs.forEach((x, k) => {
    if (!x.requiresGrad) return;
    assert.ok(x.grad !== null, `input ${k} received no gradient`);
    const g = x.grad.dataSync();
    assert.ok(
      g.some((v) => v !== 0),
      `input ${k} received an all-zero gradient: the check is vacuous`,
    );
  });
}
