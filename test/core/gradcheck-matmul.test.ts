/**
 * Finite-difference gradient checks (float64) of matmul in every rank combination PyTorch defines,
 * with broadcast batch dims and transposed (strided) operands.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { gradcheck, inputs } from './helpers.js';

const opts = { gap: 1e-3 };

describe('gradcheck: matmul', () => {
  const cases: [string, number[], number[], number[]][] = [
    ['1-D · 1-D (dot)', [4], [4], []],
    ['1-D · 2-D', [3], [3, 2], [2]],
    ['2-D · 1-D', [2, 3], [3], [2]],
    ['2-D · 2-D', [2, 3], [3, 4], [2, 4]],
    ['batched 3-D · 2-D', [2, 3, 4], [4, 2], [2, 3, 2]],
    ['2-D · batched 3-D', [3, 4], [2, 4, 2], [2, 3, 2]],
    ['batched 3-D · 3-D', [2, 3, 4], [2, 4, 2], [2, 3, 2]],
    ['batched 3-D · 1-D', [2, 3, 4], [4], [2, 3]],
    ['1-D · batched 3-D', [4], [2, 4, 3], [2, 3]],
    ['broadcast batch [2,1,3,4] · [5,4,2]', [2, 1, 3, 4], [5, 4, 2], [2, 5, 3, 2]],
    ['broadcast batch [1,3,4] · [2,4,2]', [1, 3, 4], [2, 4, 2], [2, 3, 2]],
  ];
  cases.forEach(([name, sa, sb, sout], k) => {
    test(name, () => {
      const [a, b] = inputs([sa, sb], { ...opts, seed: 100 + k });
      assert.deepEqual(a!.matmul(b!).shape, sout);
      gradcheck((a, b) => a.matmul(b), [a!, b!]);
    });
  });

  test('transposed views on either side (2-D)', () => {
    const [a, b] = inputs(
      [
        [3, 2],
        [4, 3],
      ],
      { ...opts, seed: 120 },
    );
    gradcheck((a, b) => a.T.matmul(b.T), [a!, b!]);
    gradcheck((a, b) => nb.matmul(b, a), [a!, b!]);
  });

  test('transposed batched views (mT, permute) on either side', () => {
    const [a, b] = inputs(
      [
        [2, 4, 3],
        [2, 2, 4],
      ],
      { ...opts, seed: 121 },
    );
    gradcheck((a, b) => a.mT.matmul(b.mT), [a!, b!]);
    const [c, d] = inputs(
      [
        [3, 2, 4],
        [4, 5],
      ],
      { ...opts, seed: 122 },
    );
    // (T, B, K) permuted to (B, T, K): a non-contiguous left operand of a 3-D · 2-D product.
    gradcheck((c, d) => c.permute(1, 0, 2).matmul(d), [c!, d!]);
    gradcheck((c, d) => c.permute(1, 0, 2).matmul(d.T.contiguous().T), [c!, d!]);
  });

  test('a strided (sliced) operand and an expanded batch operand', () => {
    const [a, b] = inputs(
      [
        [3, 6],
        [2, 1, 4],
      ],
      { ...opts, seed: 123 },
    );
    gradcheck((a, b) => a.slice(1, 0, 6, 2).matmul(b.expand(2, 3, 4)), [a!, b!]);
  });

  test('the same tensor on both sides: x · xᵀ', () => {
    const [x] = inputs([[3, 4]], { ...opts, seed: 124 });
    gradcheck((x) => x.matmul(x.T), [x!]);
  });

  test('only one side requiring grad', () => {
    const [a, b] = inputs(
      [
        [2, 3, 4],
        [4, 2],
      ],
      { ...opts, seed: 125 },
    );
    b!.requiresGrad = false;
    gradcheck((a, b) => a.matmul(b), [a!, b!]);
    assert.equal(b!.grad, null);
    const [c, d] = inputs(
      [
        [2, 3, 4],
        [4, 2],
      ],
      { ...opts, seed: 126 },
    );
    c!.requiresGrad = false;
    gradcheck((c, d) => c.matmul(d), [c!, d!]);
    assert.equal(c!.grad, null);
  });

  test('products crossing the kernel block sizes match a naive product', () => {
    // 70 rows > one 64-row block, 5 columns leave a partial 4-wide tile, K = 300 > one 256-deep block.
    for (const [M, K, N] of [
      [70, 9, 5],
      [5, 300, 3],
    ] as const) {
      const [a, b] = inputs(
        [
          [M, K],
          [K, N],
        ],
        { gap: 0, seed: 127, requiresGrad: false },
      );
      const got = a!.matmul(b!).toArray() as number[][];
      const A = a!.toArray() as number[][];
      const B = b!.toArray() as number[][];
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += A[i]![k]! * B[k]![j]!;
          assert.ok(Math.abs(got[i]![j]! - s) < 1e-11, `(${i}, ${j}): ${got[i]![j]} vs ${s}`);
        }
      }
    }
  });
});
