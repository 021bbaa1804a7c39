/**
 * The wasm backend's fused kernels (attention, layer norm, cross-entropy, Adam, LSTM and GRU
 * cells) against the reference kernels: random odd shapes (across the attention tiles' edges),
 * non-contiguous views (permuted, stepped, offset, stride-0 batch broadcasting), masks (bool
 * allowed, float bias, causal with offsets, fully masked rows), float32 within float32 tolerance;
 * other dtypes and layouts run ref.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionParams, Kernels, View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';
import { attentionTuning } from '../../src/backend/wasm/attention.js';
import { kernelsOrNull, relaxedKernels } from '../../src/backend/wasm/instance.js';
import { enableRelaxedSimd } from '../../src/backend/wasm/node/relaxed-simd.js';
import { wasmKernelCalls, wasmTuning } from '../../src/backend/wasm/instance.js';
import { newRefStorage } from '../../src/backend/ref/storage.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
  type Layout,
} from './native-helpers.js';

const ref = refBackend.kernels;
const wasm = wasmBackend.kernels;

// Small shapes too run in WebAssembly (by default they are left to ref).
wasmTuning.minElements = 0;

/** float32 tolerance for results that ref computes in float64 (sums over up to ~100 terms). */
const ATOL = 2e-5;
const RTOL = 2e-4;

/** Runs `call` with ref and wasm on separate copies of `outs`; compares them; true if wasm ran. */
function compare(outs: View[], call: (k: Kernels, outs: View[]) => void, what: string): boolean {
  const refOuts = outs.map(cloneView);
  const wasmOuts = outs.map(cloneView);
  call(ref, refOuts);
  const before = wasmKernelCalls();
  call(wasm, wasmOuts);
  const used = wasmKernelCalls() > before;
  refOuts.forEach((o, i) =>
    assertArraysClose(dataOf(wasmOuts[i]!), dataOf(o), ATOL, RTOL, `${what}: output ${i}`),
  );
  return used;
}

interface Case {
  batch: number[];
  L: number;
  S: number;
  E: number;
  Ev: number;
  q: View;
  k: View;
  v: View;
  allowed: View | null;
  bias: View | null;
  params: AttentionParams;
}

/** A (...batch, R, C) view, stride 0 along the batch dims in `bcast`. */
function mat(
  rng: Rng,
  batch: number[],
  R: number,
  C: number,
  layout: Layout,
  bcast: number[],
  dtype: 'float32' | 'bool' = 'float32',
): View {
  return randomView(
    rng,
    dtype,
    [...batch, R, C],
    dtype === 'bool' ? 'bool' : 'normal',
    layout,
    bcast,
  );
}

function attentionCase(rng: Rng, i: number): Case {
  const batch = [[], [3], [2, 3], [1, 2]][i % 4]!;
  const dims = [1, 3, 5, 17, 32, 33, 64, 70, 150, 260]; // past the 128-key tiles too
  const L = rng.pick(dims);
  const S = rng.pick(dims);
  const E = rng.pick([1, 4, 7, 8, 16, 33]);
  const Ev = rng.pick([1, 3, 8, 13, 32]);
  const bc = (): number[] => batch.map((_, d) => d).filter(() => rng.next() < 0.3);
  const layout = (): Layout => rng.pick(['contiguous', 'strided', 'any'] as const);
  const q = mat(rng, batch, L, E, layout(), bc());
  const k = mat(rng, batch, S, E, layout(), bc());
  const v = mat(rng, batch, S, Ev, layout(), bc());
  let allowed: View | null = null;
  let bias: View | null = null;
  const m = i % 5;
  if (m === 1 || m === 3) {
    // Broadcast over the batch, or full; some rows fully masked.
    allowed = mat(rng, batch, L, S, 'any', rng.next() < 0.5 ? batch.map((_, d) => d) : [], 'bool');
    const d = dataOf(allowed);
    const row = rng.int(0, L - 1);
    for (let j = 0; j < S; j++) {
      d[
        allowed.offset +
          row * allowed.strides[batch.length]! +
          j * allowed.strides[batch.length + 1]!
      ] = 0;
    }
  }
  if (m === 2 || m === 3) bias = mat(rng, batch, L, S, 'any', bc());
  const causalOffset = i % 3 === 0 ? null : rng.pick([0, 0, 2, -3, S - L, 1.5]);
  return {
    batch,
    L,
    S,
    E,
    Ev,
    q,
    k,
    v,
    allowed,
    bias,
    params: { scale: 1 / Math.sqrt(E), causalOffset },
  };
}

function attentionRandomCases(relaxedSimd: boolean): void {
  const tag = relaxedSimd ? '' : ' (main module, no relaxed SIMD)';
  const run = (f: () => void): void => {
    attentionTuning.relaxedSimd = relaxedSimd;
    try {
      f();
    } finally {
      attentionTuning.relaxedSimd = true;
    }
  };
  test(`forward: odd sizes, strided and broadcast operands, masks, causal offsets${tag}`, () =>
    run(() => {
      const rng = new Rng(50);
      for (let i = 0; i < 60; i++) {
        const c = attentionCase(rng, i);
        const what = `forward #${i} batch ${c.batch} L ${c.L} S ${c.S} E ${c.E} Ev ${c.Ev} causal ${c.params.causalOffset}`;
        const used = compare(
          [outView('float32', [...c.batch, c.L, c.Ev]), outView('float32', [...c.batch, c.L])],
          (kk, [o, l]) => kk.attentionForward(c.q, c.k, c.v, c.allowed, c.bias, c.params, o!, l!),
          what,
        );
        assert.ok(used, what);
      }
    }));

  test(`backward: odd sizes, strided and broadcast operands, masks, causal offsets${tag}`, () =>
    run(() => {
      const rng = new Rng(51);
      for (let i = 0; i < 60; i++) {
        const c = attentionCase(rng, i);
        const out = outView('float32', [...c.batch, c.L, c.Ev]);
        const lse = outView('float32', [...c.batch, c.L]);
        ref.attentionForward(c.q, c.k, c.v, c.allowed, c.bias, c.params, out, lse);
        const g = mat(rng, c.batch, c.L, c.Ev, 'any', []);
        const what = `backward #${i} batch ${c.batch} L ${c.L} S ${c.S} E ${c.E} Ev ${c.Ev} causal ${c.params.causalOffset}`;
        const used = compare(
          [
            outView('float32', [...c.batch, c.L, c.E]),
            outView('float32', [...c.batch, c.S, c.E]),
            outView('float32', [...c.batch, c.S, c.Ev]),
          ],
          (kk, [dq, dk, dv]) =>
            kk.attentionBackward(
              c.q,
              c.k,
              c.v,
              c.allowed,
              c.bias,
              c.params,
              out,
              lse,
              g,
              dq!,
              dk!,
              dv!,
            ),
          what,
        );
        assert.ok(used, what);
      }
    }));
}

// Node's V8 flag for relaxed SIMD, before the kernels compile (as the Node entry does).
const relaxedAvailable = enableRelaxedSimd();

describe('attention', () => {
  test('in Node the relaxed-SIMD companion has the attention kernels', () => {
    assert.equal(relaxedAvailable, true);
    kernelsOrNull(); // compiled on first use
    assert.equal(typeof relaxedKernels()?.attentionBackward, 'function');
  });
  // The relaxed-SIMD companion's kernels (fused multiply-adds), and the main module's.
  for (const relaxedSimd of [true, false]) attentionRandomCases(relaxedSimd);

  test('q, k, v as views of one projection (B, T, 3, H, D), causal, as in the GPT', () => {
    const rng = new Rng(52);
    const [B, T, H, D] = [3, 37, 2, 8];
    const qkv = randomView(rng, 'float32', [B, T, 3 * H * D], 'normal', 'contiguous');
    const head = (part: number): View => ({
      ...qkv,
      shape: [B, H, T, D],
      strides: [T * 3 * H * D, D, 3 * H * D, 1],
      offset: part * H * D,
    });
    const [q, k, v] = [head(0), head(1), head(2)];
    const params = { scale: 1 / Math.sqrt(D), causalOffset: 0 };
    const out = outView('float32', [B, H, T, D]);
    const lse = outView('float32', [B, H, T]);
    assert.ok(
      compare(
        [out, lse],
        (kk, [o, l]) => kk.attentionForward(q, k, v, null, null, params, o!, l!),
        'qkv forward',
      ),
    );
    ref.attentionForward(q, k, v, null, null, params, out, lse);
    const g = randomView(rng, 'float32', [B, H, T, D], 'normal', 'strided');
    const grads = [0, 1, 2].map(() => outView('float32', [B, H, T, D]));
    assert.ok(
      compare(
        grads,
        (kk, [dq, dk, dv]) =>
          kk.attentionBackward(q, k, v, null, null, params, out, lse, g, dq!, dk!, dv!),
        'qkv backward',
      ),
    );
  });

  test('causal offsets that put the diagonal at every position of the 4×8 blocks and tiles', () => {
    // The kernels skip what the causal mask hides block by block inside a tile, and store zeros
    // where a block is partly hidden: each offset below moves the diagonal across those blocks.
    const rng = new Rng(55);
    const shapes: [number, number][] = [
      [40, 40],
      [37, 45],
      [70, 140],
    ];
    for (const [L, S] of shapes) {
      for (let off = -9; off <= 9; off++) {
        const causalOffset = off + (off % 5 === 0 ? 0.5 : 0);
        const q = mat(rng, [2], L, 5, 'any', []);
        const k = mat(rng, [2], S, 5, 'any', []);
        const v = mat(rng, [2], S, 9, 'any', []);
        const allowed = off % 3 === 0 ? mat(rng, [2], L, S, 'any', [], 'bool') : null;
        const params = { scale: 0.4, causalOffset };
        const what = `L ${L} S ${S} causal ${causalOffset} allowed ${allowed !== null}`;
        const out = outView('float32', [2, L, 9]);
        const lse = outView('float32', [2, L]);
        compare(
          [out, lse],
          (kk, [o, l]) => kk.attentionForward(q, k, v, allowed, null, params, o!, l!),
          `forward ${what}`,
        );
        ref.attentionForward(q, k, v, allowed, null, params, out, lse);
        const g = mat(rng, [2], L, 9, 'any', []);
        compare(
          [
            outView('float32', [2, L, 5]),
            outView('float32', [2, S, 5]),
            outView('float32', [2, S, 9]),
          ],
          (kk, [dq, dk, dv]) =>
            kk.attentionBackward(q, k, v, allowed, null, params, out, lse, g, dq!, dk!, dv!),
          `backward ${what}`,
        );
      }
    }
  });

  test('every row fully masked: zeros, lse −∞, zero gradients', () => {
    const rng = new Rng(53);
    const q = mat(rng, [2], 5, 4, 'any', []);
    const k = mat(rng, [2], 6, 4, 'any', []);
    const v = mat(rng, [2], 6, 3, 'any', []);
    const params = { scale: 0.5, causalOffset: -10 };
    const out = outView('float32', [2, 5, 3]);
    const lse = outView('float32', [2, 5]);
    wasm.attentionForward(q, k, v, null, null, params, out, lse);
    assert.ok(Array.from(dataOf(out)).every((x) => x === 0));
    assert.ok(Array.from(dataOf(lse)).every((x) => x === -Infinity));
    const g = mat(rng, [2], 5, 3, 'any', []);
    const grads = [
      outView('float32', [2, 5, 4]),
      outView('float32', [2, 6, 4]),
      outView('float32', [2, 6, 3]),
    ];
    wasm.attentionBackward(
      q,
      k,
      v,
      null,
      null,
      params,
      out,
      lse,
      g,
      grads[0]!,
      grads[1]!,
      grads[2]!,
    );
    for (const d of grads) assert.ok(Array.from(dataOf(d)).every((x) => x === 0));
  });

  test('float64 and a float64 bias run the reference kernel', () => {
    const rng = new Rng(54);
    const q = randomView(rng, 'float64', [2, 5, 4], 'normal');
    const k = randomView(rng, 'float64', [2, 6, 4], 'normal');
    const v = randomView(rng, 'float64', [2, 6, 3], 'normal');
    const params = { scale: 0.5, causalOffset: null };
    const o1 = outView('float64', [2, 5, 3]);
    const l1 = outView('float64', [2, 5]);
    const o2 = outView('float64', [2, 5, 3]);
    const l2 = outView('float64', [2, 5]);
    ref.attentionForward(q, k, v, null, null, params, o1, l1);
    wasm.attentionForward(q, k, v, null, null, params, o2, l2);
    assertArraysClose(dataOf(o2), dataOf(o1), 0, 0, 'float64 out');
    assertArraysClose(dataOf(l2), dataOf(l1), 0, 0, 'float64 lse');
  });
});

/** Targets in [0, C) with about a fifth `ignore`, any layout. */
function targetsView(rng: Rng, R: number, C: number, ignore: number): View {
  const v = randomView(rng, 'int32', [R], 'int', 'any');
  const d = dataOf(v);
  for (let r = 0; r < R; r++) {
    d[v.offset + r * v.strides[0]!] = rng.next() < 0.2 ? ignore : rng.int(0, C - 1);
  }
  return v;
}

describe('fused training kernels', () => {
  test('layer norm forward and backward: strided rows, optional weight and bias', () => {
    const rng = new Rng(60);
    for (let trial = 0; trial < 24; trial++) {
      const R = rng.pick([1, 3, 9, 40]);
      const N = rng.pick([1, 2, 3, 17, 64, 129]);
      const x = randomView(rng, 'float32', [R, N], trial % 4 === 0 ? 'special' : 'normal');
      const affine = trial % 3 !== 0;
      const w = affine ? randomView(rng, 'float32', [N], 'normal') : null;
      const b = trial % 3 === 1 ? randomView(rng, 'float32', [N], 'normal') : null;
      const eps = 1e-5;
      const what = `layer norm #${trial} ${R}x${N} ${x.strides}`;
      assert.ok(
        compare(
          [outView('float32', [R, N]), outView('float32', [R]), outView('float32', [R])],
          (k, [y, m, r]) => k.layerNormForward(x, w, b, eps, y!, m!, r!),
          `${what} forward`,
        ),
      );
      const mean = outView('float32', [R]);
      const rstd = outView('float32', [R]);
      ref.layerNormForward(x, w, b, eps, outView('float32', [R, N]), mean, rstd);
      const gy = randomView(rng, 'float32', [R, N], 'normal');
      assert.ok(
        compare(
          [outView('float32', [R, N]), outView('float32', [N]), outView('float32', [N])],
          (k, [gx, gw, gb]) =>
            k.layerNormBackward(
              x,
              w,
              mean,
              rstd,
              gy,
              gx!,
              affine ? gw! : null,
              trial % 2 ? gb! : null,
            ),
          `${what} backward`,
        ),
      );
    }
  });

  test('cross-entropy forward and backward: ignored targets, label smoothing, strided logits', () => {
    const rng = new Rng(61);
    for (let trial = 0; trial < 24; trial++) {
      const R = rng.pick([1, 5, 33]);
      const C = rng.pick([1, 2, 5, 65, 130]);
      const x = randomView(rng, 'float32', [R, C], 'normal');
      if (trial % 5 === 4) {
        // A row of −∞ but one, and a +∞.
        const d = dataOf(x);
        for (let c = 0; c < C; c++) d[x.offset + c * x.strides[1]!] = c === 0 ? 1 : -Infinity;
        if (R > 1) d[x.offset + x.strides[0]!] = Infinity;
      }
      const ignore = trial % 2 ? -100 : 0;
      const t = targetsView(rng, R, C, ignore);
      const eps = trial % 3 === 0 ? 0.1 : 0;
      const what = `cross-entropy #${trial} ${R}x${C} ${x.strides}`;
      assert.ok(
        compare(
          [outView('float32', [R]), outView('float32', [R])],
          (k, [l, s]) => k.crossEntropyForward(x, t, ignore, eps, l!, s!),
          `${what} forward`,
        ),
      );
      const lse = outView('float32', [R]);
      ref.crossEntropyForward(x, t, ignore, eps, outView('float32', [R]), lse);
      const g = randomView(rng, 'float32', [R], 'normal');
      assert.ok(
        compare(
          [outView('float32', [R, C])],
          (k, [gx]) => k.crossEntropyBackward(x, t, lse, g, ignore, eps, gx!),
          `${what} backward`,
        ),
      );
    }
  });

  test('LSTM and GRU cells forward and backward: odd sizes, strided views, optional operands', () => {
    const rng = new Rng(64);
    const view = (shape: number[]): View => randomView(rng, 'float32', shape, 'normal', 'any');
    for (let trial = 0; trial < 16; trial++) {
      const B = rng.pick([1, 3, 6]);
      const H = rng.pick([1, 3, 4, 8, 33]);
      const what = `cells #${trial} B ${B} H ${H}`;
      // LSTM
      const bias = trial % 2 ? view([4 * H]) : null;
      const gi = view([B, 4 * H]);
      const gh = view([B, 4 * H]);
      const c = view([B, H]);
      assert.ok(
        compare(
          [outView('float32', [2, B, H]), outView('float32', [B, 4 * H])],
          (k, [o, g]) => k.lstmCellForward(gi, gh, bias, c, o!, g!),
          `${what} lstm forward`,
        ),
      );
      const out = outView('float32', [2, B, H]);
      const gates = outView('float32', [B, 4 * H]);
      ref.lstmCellForward(gi, gh, bias, c, out, gates);
      const gH = trial % 4 === 3 ? null : view([B, H]);
      const gC = trial % 3 ? view([B, H]) : null;
      assert.ok(
        compare(
          [outView('float32', [B, 4 * H]), outView('float32', [B, H])],
          (k, [d, dc]) => k.lstmCellBackward(gates, c, out, gH, gC, d!, dc!),
          `${what} lstm backward`,
        ),
      );
      // GRU
      const gi3 = view([B, 3 * H]);
      const gh3 = view([B, 3 * H]);
      const b3 = trial % 2 ? view([3 * H]) : null;
      assert.ok(
        compare(
          [outView('float32', [B, H]), outView('float32', [B, 4 * H])],
          (k, [o, sv]) => k.gruCellForward(gi3, gh3, b3, c, o!, sv!),
          `${what} gru forward`,
        ),
      );
      const saved = outView('float32', [B, 4 * H]);
      ref.gruCellForward(gi3, gh3, b3, c, outView('float32', [B, H]), saved);
      const g = view([B, H]);
      assert.ok(
        compare(
          [
            outView('float32', [B, 3 * H]),
            outView('float32', [B, 3 * H]),
            outView('float32', [B, H]),
          ],
          (k, [a, bb, d]) => k.gruCellBackward(saved, c, g, a!, bb!, d!),
          `${what} gru backward`,
        ),
      );
    }
  });

  test('Adam and AdamW: bit-identical to ref (float64 arithmetic, float32 stores)', () => {
    const rng = new Rng(62);
    for (let trial = 0; trial < 12; trial++) {
      const n = rng.pick([1, 7, 1000, 40001]);
      const amsgrad = trial % 2 === 1;
      const params = {
        lr: 0.01,
        beta1: trial % 4 === 2 ? 0.3 : 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: trial % 3 === 0 ? 0 : 0.05,
        step: 1 + trial,
        decoupled: trial % 2 === 0,
        maximize: trial === 3,
      };
      const make = (): View => outView('float32', [n], rng);
      const grad = make();
      const init = [make(), make(), make(), make()];
      // The second moments are non-negative.
      for (const v of init.slice(2)) dataOf(v).forEach((x, i, a) => (a[i] = Math.abs(x)));
      const copies = (): View[] =>
        init.map((v) => {
          const st = newRefStorage('float32', n);
          st.data.set(dataOf(v) as never);
          return { ...v, storage: st };
        });
      const a = copies();
      const b = copies();
      ref.adamUpdate(a[0]!, grad, a[1]!, a[2]!, amsgrad ? a[3]! : null, params);
      const before = wasmKernelCalls();
      wasm.adamUpdate(b[0]!, grad, b[1]!, b[2]!, amsgrad ? b[3]! : null, params);
      assert.ok(wasmKernelCalls() > before);
      a.forEach((v, i) => assertArraysClose(dataOf(b[i]!), dataOf(v), 0, 0, `adam #${trial} ${i}`));
    }
  });

  test('strided Adam operands and float64 run the reference kernels', () => {
    const rng = new Rng(63);
    const params = {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
      step: 3,
      decoupled: true,
      maximize: false,
    };
    for (const dtype of ['float32', 'float64'] as const) {
      // float32 transposed (not contiguous), float64 contiguous.
      const make = (): View => {
        const v = randomView(rng, dtype, [7, 9], 'positive', 'contiguous');
        return dtype === 'float32' ? { ...v, shape: [9, 7], strides: [1, 9] } : v;
      };
      const views = [make(), make(), make(), make()];
      const a = views.map(cloneView);
      const b = views.map(cloneView);
      ref.adamUpdate(a[0]!, a[1]!, a[2]!, a[3]!, null, params);
      const before = wasmKernelCalls();
      wasm.adamUpdate(b[0]!, b[1]!, b[2]!, b[3]!, null, params);
      assert.equal(wasmKernelCalls(), before, dtype);
      a.forEach((v, i) => assertArraysClose(dataOf(b[i]!), dataOf(v), 0, 0, `${dtype} adam ${i}`));
    }
  });
});
