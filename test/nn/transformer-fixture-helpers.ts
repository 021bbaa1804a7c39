/**
 * Helpers for the attention / Transformer parity tests: reading the fixtures written by
 * scripts/fixtures/gen_transformer.py and comparing nabla tensors with them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as nb from '../../src/index.js';

export interface FixtureTensor {
  shape: number[];
  dtype: 'float32' | 'bool';
  /** Flat values; non-finite floats are the strings "Infinity", "-Infinity", "NaN". */
  data: (number | string)[];
}

export interface FixtureCase {
  name: string;
  kind: string;
  config?: Record<string, unknown>;
  options?: Record<string, unknown>;
  self?: boolean;
  state?: Record<string, FixtureTensor>;
  inputs: Record<string, FixtureTensor>;
  masks?: Record<string, FixtureTensor>;
  grad_output: FixtureTensor;
  grad_weights?: FixtureTensor;
  output: FixtureTensor;
  weights?: FixtureTensor;
  /** `input:<name>` and `param:<state-dict key>`. */
  grads: Record<string, FixtureTensor>;
}

export function loadFixture(file: string): FixtureCase[] {
  const path = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', file);
  return (JSON.parse(readFileSync(path, 'utf8')) as { cases: FixtureCase[] }).cases;
}

function values(t: FixtureTensor): number[] {
  return t.data.map((v) => (typeof v === 'string' ? Number(v) : v));
}

/** A tensor from a fixture: bool stays bool, floats become `dtype`. */
export function fromFixture(
  t: FixtureTensor,
  dtype: nb.FloatDType = 'float32',
  requiresGrad = false,
): nb.Tensor {
  if (t.dtype === 'bool') return nb.tensor(Uint8Array.from(values(t)), { shape: t.shape });
  const data = dtype === 'float64' ? Float64Array.from(values(t)) : Float32Array.from(values(t));
  return nb.tensor(data, { shape: t.shape, requiresGrad });
}

export function stateFromFixture(c: FixtureCase, dtype: nb.FloatDType): Record<string, nb.Tensor> {
  const out: Record<string, nb.Tensor> = {};
  for (const [k, v] of Object.entries(c.state ?? {})) out[k] = fromFixture(v, dtype);
  return out;
}

export function masksFromFixture(c: FixtureCase, dtype: nb.FloatDType): Record<string, nb.Tensor> {
  const out: Record<string, nb.Tensor> = {};
  for (const [k, v] of Object.entries(c.masks ?? {})) out[k] = fromFixture(v, dtype);
  return out;
}

/** Tolerances: |actual − expected| <= atol + rtol·|expected| elementwise. */
export interface Tol {
  atol: number;
  rtol: number;
}

/** float32 computation against the float64 PyTorch reference. */
export const TOL32: Tol = { atol: 1e-5, rtol: 1e-4 };
/** float64 computation: limited by the 8 significant digits the fixtures store. */
export const TOL64: Tol = { atol: 1e-8, rtol: 1e-6 };

export function assertMatches(
  actual: nb.Tensor | null | undefined,
  expected: FixtureTensor,
  tol: Tol,
  what: string,
): void {
  assert.ok(actual, `${what}: missing (expected shape [${expected.shape}])`);
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  const e = values(expected);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(y) || !Number.isFinite(y)) {
      assert.ok(
        Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)),
        `${what}[${i}]: ${x} vs ${y}`,
      );
      continue;
    }
    const excess = Math.abs(x - y) - (tol.atol + tol.rtol * Math.abs(y));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${a[worst]}, expected ${e[worst]} ` +
        `(|diff| ${Math.abs(a[worst]! - e[worst]!).toExponential(3)}, atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

/** Every parameter gradient of `module` against the fixture, and exactly the fixture's set. */
export function assertParamGrads(module: nb.nn.Module, c: FixtureCase, tol: Tol): void {
  const names = module.namedParameters().map(([n]) => n);
  const expected = Object.keys(c.grads)
    .filter((k) => k.startsWith('param:'))
    .map((k) => k.slice('param:'.length));
  assert.deepEqual([...names].sort(), [...expected].sort(), 'parameter names');
  for (const [name, p] of module.namedParameters()) {
    assertMatches(p.grad, c.grads[`param:${name}`]!, tol, `${c.name}: grad of ${name}`);
  }
}
