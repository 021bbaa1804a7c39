/**
 * The fused LSTM and GRU cells (rnn-ops' lstmStep/gruStep with fused kernels on) against the
 * composite cells, on ref and native: the multi-layer, bidirectional modules and the cell modules,
 * outputs, final states and every gradient; float64 gradchecks of the steps themselves (with
 * strided gate views); second-order gradients through a sequence (createGraph).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { gruStep, lstmStep } from '../../src/nn/rnn-ops.js';
import { gradcheck, inputs } from '../core/helpers.js';
import { BACKENDS, compareFused, onBackend, withFused } from './fused-helpers.js';

describe('fused recurrent cells', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['float32', 'float64'] as const) {
      test(`LSTM and GRU modules match the composite cells (${backend.name}, ${dtype})`, () => {
        onBackend(backend, () => {
          for (const kind of ['LSTM', 'GRU'] as const) {
            for (const options of [
              { numLayers: 2, bidirectional: true },
              { bias: false },
              { numLayers: 1, batchFirst: true },
            ]) {
              compareFused(
                () => {
                  nb.manualSeed(7);
                  const m =
                    kind === 'LSTM' ? new nb.nn.LSTM(5, 7, options) : new nb.nn.GRU(5, 7, options);
                  m.to(dtype);
                  const x = nb.randn(options.batchFirst ? [3, 4, 5] : [4, 3, 5], {
                    dtype,
                    requiresGrad: true,
                  });
                  const h0 = nb.randn(
                    [(options.numLayers ?? 1) * (options.bidirectional ? 2 : 1), 3, 7],
                    {
                      dtype,
                      requiresGrad: true,
                    },
                  );
                  let outputs: nb.Tensor[];
                  if (m instanceof nb.nn.LSTM) {
                    const c0 = h0.mul(0.5).detach().requiresGrad_();
                    const [y, [hn, cn]] = m.forward(x, [h0, c0]);
                    outputs = [y, hn, cn];
                  } else {
                    const [y, hn] = (m as nb.nn.GRU).forward(x, h0);
                    outputs = [y, hn];
                  }
                  return { outputs, leaves: [x, h0, ...m.parameters()] };
                },
                dtype,
                `${kind} ${JSON.stringify(options)}`,
              );
            }
          }
          compareFused(
            () => {
              nb.manualSeed(8);
              const cell = new nb.nn.LSTMCell(3, 6).to(dtype);
              const x = nb.randn([2, 3], { dtype, requiresGrad: true });
              const [h, c] = cell.forward(x);
              const [h2, c2] = cell.forward(x.mul(-1), [h, c]);
              return { outputs: [h2, c2], leaves: [x, ...cell.parameters()] };
            },
            dtype,
            'LSTMCell',
          );
          compareFused(
            () => {
              nb.manualSeed(9);
              const cell = new nb.nn.GRUCell(3, 6).to(dtype);
              const x = nb.randn([2, 3], { dtype, requiresGrad: true });
              const h = cell.forward(x);
              return { outputs: [cell.forward(x.mul(-1), h)], leaves: [x, ...cell.parameters()] };
            },
            dtype,
            'GRUCell',
          );
        });
      });
    }
  }

  test('the steps take the fused path only when it is on', () => {
    /** Whether an op named `name` produced t or one of the tensors it was computed from. */
    const reaches = (t: nb.Tensor, name: string): boolean =>
      t.gradFn !== null &&
      (t.gradFn.name === name || t.gradFn.inputs.some((u) => reaches(u, name)));
    const [gi, gh] = [nb.randn([2, 12], { requiresGrad: true }), nb.randn([2, 12])];
    const c = nb.randn([2, 3]);
    assert.ok(withFused(true, () => reaches(lstmStep(gi, gh, c, null)[0], 'lstmCell')));
    assert.ok(!withFused(false, () => reaches(lstmStep(gi, gh, c, null)[0], 'lstmCell')));
    const g9 = nb.randn([2, 9], { requiresGrad: true });
    assert.ok(withFused(true, () => reaches(gruStep(g9, g9, c, null), 'gruCell')));
    assert.ok(!withFused(false, () => reaches(gruStep(g9, g9, c, null), 'gruCell')));
  });

  test('float64 finite-difference gradchecks of lstmStep and gruStep (strided gates, biases)', () => {
    withFused(true, () => {
      const H = 3;
      // Gates as column slices of wider tensors: row-strided views.
      const [giW, gh, c, b] = inputs([[2, 4 * H + 2], [2, 4 * H], [2, H], [4 * H]], {
        seed: 31,
        gap: 0.02,
      });
      const lstm = (giW: nb.Tensor, gh: nb.Tensor, c: nb.Tensor, b: nb.Tensor): nb.Tensor => {
        const [h2, c2] = lstmStep(giW.narrow(1, 1, 4 * H), gh, c, b);
        return h2.mul(c2.add(0.5));
      };
      gradcheck(lstm as (...t: nb.Tensor[]) => nb.Tensor, [giW!, gh!, c!, b!]);
      const [gi3, gh3, h, b3] = inputs([[2, 3 * H], [3 * H, 2], [2, H], [3 * H]], {
        seed: 32,
        gap: 0.02,
      });
      gradcheck(
        ((gi: nb.Tensor, ghT: nb.Tensor, h: nb.Tensor, b: nb.Tensor) =>
          gruStep(gi, ghT.T, h, b)) as (...t: nb.Tensor[]) => nb.Tensor,
        [gi3!, gh3!, h!, b3!],
      );
    });
  });

  test('second-order gradients through a sequence (createGraph) match the composite cells', () => {
    for (const kind of ['LSTM', 'GRU'] as const) {
      const run = (on: boolean): number[] =>
        withFused(on, () => {
          nb.manualSeed(13);
          const m = (kind === 'LSTM' ? new nb.nn.LSTM(2, 3) : new nb.nn.GRU(2, 3)).to('float64');
          const x = nb.randn([4, 2, 2], { dtype: 'float64', requiresGrad: true });
          nb.enableGrad(() => {
            const out = m instanceof nb.nn.LSTM ? m.forward(x)[0] : (m as nb.nn.GRU).forward(x)[0];
            out.square().sum().backward(undefined, { createGraph: true });
          });
          const g = m.parameters()[1]!.grad!; // weight_hh_l0
          x.grad = null;
          g.square().sum().backward();
          return Array.from(x.grad!.dataSync());
        });
      const fused = run(true);
      const composite = run(false);
      assert.ok(
        fused.some((v) => Math.abs(v) > 1e-4),
        `${kind}: vacuous second-order gradient`,
      );
      fused.forEach((v, i) =>
        assert.ok(Math.abs(v - composite[i]!) < 1e-10, `${kind} element ${i}`),
      );
    }
  });
});
