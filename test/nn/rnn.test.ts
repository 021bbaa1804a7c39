/**
 * Recurrent modules: names, shapes, initialisation, options and errors; float64 gradient checks
 * (the leaky-ReLU RNN, which has no PyTorch twin, and every module with variable lengths);
 * variable lengths against running each sequence alone; cells against one-step modules; and the
 * single-backward `unbindSteps`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { unbindSteps } from '../../src/nn/rnn-ops.js';
import { assertClose, gradcheck } from '../core/helpers.js';

function shapes(m: nb.nn.Module): Record<string, number[]> {
  return Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, [...v.shape]]));
}

describe('recurrent modules: parameters', () => {
  test("PyTorch's names, order and shapes (2 layers, bidirectional GRU)", () => {
    const gru = new nb.nn.GRU(3, 5, { numLayers: 2, bidirectional: true });
    const expected: Record<string, number[]> = {};
    for (const l of [0, 1]) {
      for (const sfx of ['', '_reverse']) {
        const inSize = l === 0 ? 3 : 10;
        expected[`weight_ih_l${l}${sfx}`] = [15, inSize];
        expected[`weight_hh_l${l}${sfx}`] = [15, 5];
        expected[`bias_ih_l${l}${sfx}`] = [15];
        expected[`bias_hh_l${l}${sfx}`] = [15];
      }
    }
    assert.deepEqual(shapes(gru), expected);
    assert.deepEqual(Object.keys(shapes(gru)), Object.keys(expected));
    assert.equal(gru.flatWeight('weight_hh', 1, 1), gru.parameters()[13]);
  });

  test('bias: false drops the biases; cells use weight_ih, weight_hh, bias_ih, bias_hh', () => {
    assert.deepEqual(Object.keys(new nb.nn.LSTM(2, 3, { bias: false }).stateDict()), [
      'weight_ih_l0',
      'weight_hh_l0',
    ]);
    assert.deepEqual(shapes(new nb.nn.LSTMCell(2, 3)), {
      weight_ih: [12, 2],
      weight_hh: [12, 3],
      bias_ih: [12],
      bias_hh: [12],
    });
    assert.deepEqual(shapes(new nb.nn.GRUCell(2, 3, { bias: false })), {
      weight_ih: [9, 2],
      weight_hh: [9, 3],
    });
    assert.deepEqual(Object.keys(shapes(new nb.nn.RNNCell(2, 3))), [
      'weight_ih',
      'weight_hh',
      'bias_ih',
      'bias_hh',
    ]);
  });

  test('initialisation is U(−1/√H, 1/√H) for every parameter', () => {
    nb.manualSeed(1);
    const H = 16;
    for (const m of [
      new nb.nn.RNN(4, H, { numLayers: 2, bidirectional: true }),
      new nb.nn.LSTM(4, H),
      new nb.nn.GRU(4, H),
      new nb.nn.LSTMCell(4, H),
    ]) {
      for (const [name, p] of m.namedParameters()) {
        const v = Array.from(p.dataSync());
        const bound = 1 / Math.sqrt(H);
        assert.ok(
          v.every((x) => Math.abs(x) <= bound),
          name,
        );
        // Spread over the interval (not constant, not a narrower law).
        assert.ok(Math.max(...v) > 0.8 * bound && Math.min(...v) < -0.8 * bound, name);
      }
    }
  });

  test('the options object form of the constructor', () => {
    const rnn = new nb.nn.RNN({ inputSize: 3, hiddenSize: 4, numLayers: 2, nonlinearity: 'relu' });
    assert.equal(rnn.inputSize, 3);
    assert.equal(rnn.numLayers, 2);
    assert.equal(rnn.nonlinearity, 'relu');
    const lstm = new nb.nn.LSTM({ inputSize: 3, hiddenSize: 4, batchFirst: true });
    assert.equal(lstm.batchFirst, true);
  });
});

describe('recurrent modules: shapes and layouts', () => {
  test('time-major, batchFirst and unbatched inputs', () => {
    nb.manualSeed(2);
    const lstm = new nb.nn.LSTM(3, 4, { numLayers: 2, bidirectional: true });
    const x = nb.randn([5, 2, 3]);
    const [out, [h, c]] = lstm.forward(x);
    assert.deepEqual(
      [out.shape, h.shape, c.shape],
      [
        [5, 2, 8],
        [4, 2, 4],
        [4, 2, 4],
      ],
    );
    // batchFirst: same numbers, batch-major layout, states unchanged.
    const bf = new nb.nn.LSTM(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true });
    bf.loadStateDict(lstm.stateDict());
    const [outB, [hB]] = bf.forward(x.transpose(0, 1));
    assertClose(outB, out.transpose(0, 1), 0);
    assertClose(hB, h, 0);
    // Unbatched (T, I): the batch of one without its batch dim.
    const [outU, [hU, cU]] = lstm.forward(x.select(1, 1));
    assert.deepEqual(
      [outU.shape, hU.shape, cU.shape],
      [
        [5, 8],
        [4, 4],
        [4, 4],
      ],
    );
    assertClose(outU, out.select(1, 1), 1e-6);
    assertClose(hU, h.select(1, 1), 1e-6);
  });

  test('cells accept batched and unbatched input, default zero state', () => {
    const cell = new nb.nn.GRUCell(3, 4);
    const x = nb.randn([2, 3]);
    assert.deepEqual(cell.forward(x).shape, [2, 4]);
    assertClose(cell.forward(x.select(0, 0)), cell.forward(x, nb.zeros([2, 4])).select(0, 0), 1e-7);
    const [h, c] = new nb.nn.LSTMCell(3, 4).forward(nb.randn([3]));
    assert.deepEqual([h.shape, c.shape], [[4], [4]]);
  });

  test('errors name the problem', () => {
    const rnn = new nb.nn.RNN(3, 4, { numLayers: 2 });
    assert.throws(() => rnn.forward(nb.randn([5, 2, 7])), /inputSize = 3/);
    assert.throws(
      () => rnn.forward(nb.randn([5, 2, 3]), nb.zeros([1, 2, 4])),
      /h0 must have shape \[2, 2, 4\]/,
    );
    assert.throws(() => rnn.forward(nb.randn([5, 2, 3], { dtype: 'float64' })), nb.DTypeError);
    assert.throws(() => rnn.forward(nb.randn([2, 3, 4, 5])), nb.ShapeError);
    assert.throws(
      () => rnn.forward(nb.randn([5, 2, 3]), null, { lengths: [5, 6] }),
      /\[1, T = 5\]/,
    );
    assert.throws(() => rnn.forward(nb.randn([5, 2, 3]), null, { lengths: [5] }), nb.ShapeError);
    assert.throws(() => rnn.forward(nb.randn([5, 3]), null, { lengths: [5] }), nb.ValueError);
    assert.throws(() => new nb.nn.RNN(3, 0), nb.ValueError);
    assert.throws(() => new nb.nn.RNN(3, 4, { nonlinearity: 'gelu' as never }), nb.ValueError);
    assert.throws(() => new nb.nn.GRU(3, 4, { dropout: 1.5 }), nb.ValueError);
    assert.throws(
      () =>
        new nb.nn.LSTMCell(3, 4).forward(nb.randn([2, 3]), [nb.zeros([2, 5]), nb.zeros([2, 5])]),
      nb.ShapeError,
    );
  });

  test('dropout between layers in training mode only', () => {
    nb.manualSeed(5);
    const gru = new nb.nn.GRU(3, 8, { numLayers: 2, dropout: 0.5 });
    const x = nb.randn([4, 2, 3]);
    const a = gru.forward(x)[0].dataSync();
    const b = gru.forward(x)[0].dataSync();
    assert.ok(
      a.some((v, i) => v !== b[i]),
      'two training passes draw different masks',
    );
    gru.eval();
    assertClose(gru.forward(x)[0], gru.forward(x)[0], 0);
  });

  test('float64 via to(), noGrad forward, and scope', () => {
    const lstm = new nb.nn.LSTM(2, 3).to('float64');
    const x = nb.randn([4, 1, 2], { dtype: 'float64' });
    assert.equal(lstm.forward(x)[0].dtype, 'float64');
    const [o] = nb.noGrad(() => lstm.forward(x));
    assert.equal(o.requiresGrad, false);
    const loss = nb.scope(() => lstm.forward(x)[0].sum());
    loss.backward();
    assert.ok(lstm.parameters().every((p) => p.grad !== null));
  });

  test('step hooks see every layer, direction and step, and can be removed', () => {
    const rnn = new nb.nn.RNN(2, 3, { numLayers: 2, bidirectional: true });
    const seen: string[] = [];
    const handle = rnn.registerStepHook(({ layer, direction, t, h }) => {
      assert.deepEqual(h.shape, [4, 3]);
      seen.push(`${layer}${direction}${t}`);
    });
    rnn.forward(nb.randn([5, 4, 2]));
    assert.equal(seen.length, 2 * 2 * 5);
    assert.deepEqual(seen.slice(5, 10), ['014', '013', '012', '011', '010']);
    handle.remove();
    rnn.forward(nb.randn([5, 4, 2]));
    assert.equal(seen.length, 20);
  });
});

describe('recurrent modules: gradient checks in float64', () => {
  const cases: [string, () => nb.nn.RNN | nb.nn.LSTM | nb.nn.GRU][] = [
    [
      'leaky-ReLU RNN, p = 0.2, 2 layers, bidirectional',
      () =>
        new nb.nn.RNN(2, 3, {
          numLayers: 2,
          bidirectional: true,
          nonlinearity: 'leaky_relu',
          negativeSlope: 0.2,
        }),
    ],
    [
      'leaky-ReLU RNN, p = 0.5, batchFirst',
      () =>
        new nb.nn.RNN(2, 3, { nonlinearity: 'leaky_relu', negativeSlope: 0.5, batchFirst: true }),
    ],
    ['tanh RNN, bidirectional', () => new nb.nn.RNN(2, 3, { bidirectional: true })],
    [
      'LSTM, 2 layers, bidirectional',
      () => new nb.nn.LSTM(2, 3, { numLayers: 2, bidirectional: true }),
    ],
    [
      'GRU, 2 layers, bidirectional',
      () => new nb.nn.GRU(2, 3, { numLayers: 2, bidirectional: true }),
    ],
  ];
  for (const [name, make] of cases) {
    for (const lengths of [undefined, [4, 1, 3]]) {
      test(`${name}${lengths ? ', variable lengths' : ''}: input, initial states, every parameter`, () => {
        nb.manualSeed(9);
        const m = make().to('float64');
        const L = m.numLayers * m.numDirections;
        const x = nb.randn(m.batchFirst ? [3, 4, 2] : [4, 3, 2], {
          dtype: 'float64',
          requiresGrad: true,
        });
        const h0 = nb.randn([L, 3, 3], { dtype: 'float64', std: 0.5, requiresGrad: true });
        const c0 = nb.randn([L, 3, 3], { dtype: 'float64', std: 0.5, requiresGrad: true });
        const isLstm = m instanceof nb.nn.LSTM;
        const fn = (x: nb.Tensor, h0: nb.Tensor, c0: nb.Tensor): nb.Tensor => {
          const opts = lengths ? { lengths } : {};
          const parts = isLstm
            ? (() => {
                const [o, [h, c]] = (m as nb.nn.LSTM).forward(x, [h0, c0], opts);
                return [o, h, c];
              })()
            : (m as nb.nn.RNN).forward(x, h0, opts);
          return nb.cat(parts.map((t) => t.flatten()));
        };
        const inputs = isLstm
          ? [x, h0, c0, ...m.parameters()]
          : [x, h0, c0.detach(), ...m.parameters()];
        gradcheck(fn as (...t: nb.Tensor[]) => nb.Tensor, inputs);
      });
    }
  }

  test('second order: the gradient of ∂loss/∂W_hh with respect to the input (LSTM, GRU)', () => {
    for (const make of [() => new nb.nn.LSTM(2, 3), () => new nb.nn.GRU(2, 3)]) {
      nb.manualSeed(13);
      const m = make().to('float64');
      const x = nb.randn([4, 2, 2], { dtype: 'float64', requiresGrad: true });
      // fn(x) = ∂(Σ output²)/∂W_hh, built with createGraph so that it is differentiable in x.
      const fn = (x: nb.Tensor): nb.Tensor =>
        nb.enableGrad(() => {
          m.weightHhL0.grad = null;
          const out = m instanceof nb.nn.LSTM ? m.forward(x)[0] : (m as nb.nn.GRU).forward(x)[0];
          out.square().sum().backward(undefined, { createGraph: true });
          x.grad = null; // keep only the second-order gradient that gradcheck adds next
          return m.weightHhL0.grad!;
        });
      const [report] = nb.gradcheck(fn, [x], { atol: 1e-6, rtol: 1e-4 });
      assert.ok(report!.maxAbsError < 1e-6);
      // Not vacuous: the second-order gradient is non-zero.
      fn(x).sum().backward();
      assert.ok(x.grad!.abs().max().item() > 1e-3);
    }
  });

  test('leaky-ReLU RNNCell', () => {
    nb.manualSeed(10);
    const cell = new nb.nn.RNNCell(3, 4, {
      nonlinearity: 'leaky_relu',
      negativeSlope: 0.3,
      dtype: 'float64',
    });
    const x = nb.randn([2, 3], { dtype: 'float64', requiresGrad: true });
    const h = nb.randn([2, 4], { dtype: 'float64', requiresGrad: true });
    gradcheck((x, h) => cell.forward(x, h), [x, h, ...cell.parameters()]);
  });
});

describe('variable lengths', () => {
  for (const kind of ['RNN', 'LSTM', 'GRU'] as const) {
    test(`${kind}: each sequence as if run alone, zeros past its end, no gradient from padding`, () => {
      nb.manualSeed(11);
      const opts = { numLayers: 2, bidirectional: true, batchFirst: true };
      const m =
        kind === 'RNN'
          ? new nb.nn.RNN(2, 3, opts)
          : kind === 'LSTM'
            ? new nb.nn.LSTM(2, 3, opts)
            : new nb.nn.GRU(2, 3, opts);
      const lengths = [3, 6, 1];
      const x = nb.randn([3, 6, 2], { requiresGrad: true });
      const run = (input: nb.Tensor, o: object = {}): [nb.Tensor, nb.Tensor] => {
        if (m instanceof nb.nn.LSTM) {
          const [out, [h]] = m.forward(input, null, o);
          return [out, h];
        }
        return (m as nb.nn.RNN).forward(input, null, o);
      };
      const [out, hN] = run(x, { lengths: nb.tensor(lengths, { dtype: 'int32' }) });
      lengths.forEach((len, b) => {
        const [alone, hAlone] = run(x.narrow(0, b, 1).narrow(1, 0, len));
        assertClose(out.narrow(0, b, 1).narrow(1, 0, len), alone, 1e-6);
        assertClose(hN.narrow(1, b, 1), hAlone, 1e-6);
        if (len < 6)
          assertClose(out.narrow(0, b, 1).narrow(1, len, 6 - len), nb.zeros([1, 6 - len, 6]), 0);
      });
      out.sum().add(hN.sum()).backward();
      const g = x.grad!;
      lengths.forEach((len, b) => {
        if (len < 6)
          assertClose(g.narrow(0, b, 1).narrow(1, len, 6 - len), nb.zeros([1, 6 - len, 2]), 0);
        assert.ok(g.narrow(0, b, 1).narrow(1, 0, len).abs().sum().item() > 0);
      });
    });
  }

  test('full lengths give the unmasked result', () => {
    const gru = new nb.nn.GRU(2, 3, { bidirectional: true });
    const x = nb.randn([4, 2, 2]);
    const [a, ha] = gru.forward(x);
    const [b, hb] = gru.forward(x, null, { lengths: [4, 4] });
    assertClose(a, b, 0);
    assertClose(ha, hb, 0);
  });
});

describe('cells against the multi-layer modules', () => {
  test('an RNN, LSTM and GRU of one layer equal their cells stepped over time', () => {
    nb.manualSeed(12);
    const x = nb.randn([5, 2, 3]);
    const cells = [
      new nb.nn.RNNCell(3, 4, { nonlinearity: 'relu' }),
      new nb.nn.LSTMCell(3, 4),
      new nb.nn.GRUCell(3, 4),
    ];
    const mods = [
      new nb.nn.RNN(3, 4, { nonlinearity: 'relu' }),
      new nb.nn.LSTM(3, 4),
      new nb.nn.GRU(3, 4),
    ];
    cells.forEach((cell, i) => {
      const m = mods[i]!;
      m.loadStateDict(
        Object.fromEntries(Object.entries(cell.stateDict()).map(([k, v]) => [`${k}_l0`, v])),
      );
      let h = nb.zeros([2, 4]);
      let c = nb.zeros([2, 4]);
      const outs: nb.Tensor[] = [];
      for (let t = 0; t < 5; t++) {
        if (cell instanceof nb.nn.LSTMCell) [h, c] = cell.forward(x.select(0, t), [h, c]);
        else h = (cell as nb.nn.GRUCell).forward(x.select(0, t), h);
        outs.push(h);
      }
      const out = m instanceof nb.nn.LSTM ? m.forward(x)[0] : (m as nb.nn.GRU).forward(x)[0];
      assertClose(out, nb.stack(outs), 1e-6);
    });
  });
});

describe('unbindSteps', () => {
  test('slices with one stacked backward: gradients, unused steps, retainGraph, double backward', () => {
    const x = nb.randn([4, 2, 3], { dtype: 'float64', requiresGrad: true });
    gradcheck(
      (x) => {
        const s = unbindSteps(x);
        return s[0]!.mul(s[3]!).add(s[1]!.square()); // step 2 unused: zero gradient there
      },
      [x],
    );
    const s = unbindSteps(x);
    const y = s[2]!.mul(3).sum().add(s[2]!.sum());
    x.grad = null;
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assertClose(x.grad!.select(0, 2), nb.full([2, 3], 8, { dtype: 'float64' }), 0);
    assertClose(x.grad!.select(0, 0), nb.zeros([2, 3], { dtype: 'float64' }), 0);
    // Second order: d/dx Σ_t (x_t³) = 3x², and the gradient of Σ 3x² is 6x.
    const z = nb.randn([3, 2], { dtype: 'float64', requiresGrad: true });
    const cube = unbindSteps(z).reduce(
      (acc, t) => acc.add(t.pow(3).sum()),
      nb.scalar(0, { dtype: 'float64' }),
    );
    cube.backward(undefined, { createGraph: true });
    const g1 = z.grad!;
    z.grad = null;
    g1.sum().backward();
    assertClose(z.grad!, z.detach().mul(6), 1e-12);
  });

  test('without grad the slices are plain views', () => {
    const x = nb.randn([3, 2]);
    const s = unbindSteps(x);
    assert.equal(s.length, 3);
    assert.ok(s.every((t) => !t.requiresGrad));
    assertClose(s[1]!, x.select(0, 1), 0);
  });
});
