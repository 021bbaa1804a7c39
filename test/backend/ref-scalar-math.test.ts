/**
 * The reference backend's scalar maths: erf against Python's math.erf (values copied from
 * `python3 -c "import math; print(math.erf(x))"`), and GELU's limits at ±Infinity.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { erf, gelu, geluGrad, geluTanh, geluTanhGrad } from '../../src/backend/ref/scalar-math.js';

const ERF: [number, number][] = [
  [0.0, 0.0],
  [1e-300, 1.1283791670955126e-300],
  [1e-8, 1.1283791670955126e-8],
  [-0.1, -0.1124629160182849],
  [0.3, 0.3286267594591274],
  [0.4999, 0.5204119951613866],
  [0.5, 0.5204998778130465],
  [0.5001, 0.5205877516768808],
  [-0.75, -0.7111556336535151],
  [1.0, 0.8427007929497149],
  [1.5, 0.9661051464753108],
  [-2.0, -0.9953222650189527],
  [2.4999, 0.9995928300996666],
  [2.5, 0.999593047982555],
  [3.0, 0.9999779095030014],
  [3.7, 0.9999998328489421],
  [-4.2, -0.9999999971445058],
  [5.0, 0.9999999999984626],
  [5.9, 0.9999999999999999],
  [6.5, 1.0],
  [-27.0, -1.0],
  [40.0, 1.0],
];

describe('ref scalar maths', () => {
  test('erf within 1e-14 relative of math.erf, on both sides of every branch', () => {
    for (const [x, want] of ERF) {
      const got = erf(x);
      assert.ok(
        Math.abs(got - want) <= 1e-14 * Math.abs(want),
        `erf(${x}) = ${got}, expected ${want}`,
      );
    }
    assert.ok(Number.isNaN(erf(NaN)));
    assert.equal(erf(Infinity), 1);
    assert.equal(erf(-Infinity), -1);
  });

  test('erf is odd and monotone across the series/Chebyshev boundary', () => {
    let last = -Infinity;
    for (let x = 0.49; x <= 0.51; x += 1e-4) {
      const y = erf(x);
      assert.ok(y > last, `erf not increasing at ${x}`);
      assert.equal(erf(-x), -y);
      last = y;
    }
  });

  test('GELU and its derivative take their limits at ±Infinity, not NaN', () => {
    for (const [f, atMinus, atPlus] of [
      [gelu, 0, Infinity],
      [geluTanh, 0, Infinity],
      [geluGrad, 0, 1],
      [geluTanhGrad, 0, 1],
    ] as const) {
      assert.ok(f(-Infinity) === atMinus, `${f.name}(-Infinity) = ${f(-Infinity)}`); // ±0 alike
      assert.equal(f(Infinity), atPlus, `${f.name}(Infinity)`);
      assert.ok(Number.isNaN(f(NaN)), `${f.name}(NaN)`);
    }
    assert.ok(geluTanh(-1e200) === 0);
    assert.equal(geluTanhGrad(1e200), 1);
  });
});
