/** Sinusoidal and learned positional encodings: table values, layouts, offsets, state, errors. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose } from '../core/helpers.js';

describe('sinusoidalPositionalEncoding', () => {
  test('PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)', () => {
    for (const d of [8, 7]) {
      const pe = nb.nn.sinusoidalPositionalEncoding(20, d, 'float64');
      assert.deepEqual(pe.shape, [20, d]);
      const P = pe.toArray() as number[][];
      for (const pos of [0, 1, 5, 19]) {
        for (let j = 0; j < d; j++) {
          const i = Math.floor(j / 2);
          const angle = pos / Math.pow(10000, (2 * i) / d);
          const want = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
          assert.ok(Math.abs(P[pos]![j]! - want) < 1e-12, `pos ${pos}, column ${j}`);
        }
      }
    }
    // Known values: position 1, d = 4 -> [sin 1, cos 1, sin 0.01, cos 0.01].
    const pe = nb.nn.sinusoidalPositionalEncoding(2, 4);
    assertClose(pe.select(0, 1), [Math.sin(1), Math.cos(1), Math.sin(0.01), Math.cos(0.01)], 1e-7);
    assert.equal(pe.dtype, 'float32');
  });

  test('rejects bad sizes', () => {
    assert.throws(() => nb.nn.sinusoidalPositionalEncoding(0, 4), nb.ValueError);
    assert.throws(() => nb.nn.sinusoidalPositionalEncoding(4, 2.5), nb.ValueError);
  });
});

describe('SinusoidalPositionalEncoding', () => {
  test('adds the table to (T, B, d), (B, T, d) and (T, d) inputs; non-persistent buffer', () => {
    const pe = nb.nn.sinusoidalPositionalEncoding(10, 6);
    const seqFirst = new nb.nn.SinusoidalPositionalEncoding(6, { maxLen: 10, dropout: 0 });
    const batchFirst = new nb.nn.SinusoidalPositionalEncoding(6, { maxLen: 10, batchFirst: true });
    batchFirst.eval(); // default dropout 0.1 is off in eval mode
    assert.deepEqual(Object.keys(seqFirst.stateDict()), []);
    assert.deepEqual(
      seqFirst.namedBuffers().map(([n]) => n),
      ['pe'],
    );
    const x = nb.randn([4, 3, 6]);
    const y = seqFirst.forward(x);
    assertClose(y.sub(x).select(1, 2), pe.narrow(0, 0, 4), 1e-6);
    const yb = batchFirst.forward(x.transpose(0, 1));
    assertClose(yb.transpose(0, 1), y, 1e-6);
    const u = seqFirst.forward(x.select(1, 0)); // unbatched (T, d)
    assertClose(u, y.select(1, 0), 1e-6);
  });

  test('an offset encodes later positions (incremental decoding)', () => {
    const enc = new nb.nn.SinusoidalPositionalEncoding(6, {
      maxLen: 10,
      dropout: 0,
      batchFirst: true,
    });
    const x = nb.randn([2, 5, 6]);
    const full = enc.forward(x);
    const step = enc.forward(x.narrow(1, 3, 1), 3);
    assertClose(step, full.narrow(1, 3, 1), 1e-6);
  });

  test('dropout in training mode only', () => {
    const enc = new nb.nn.SinusoidalPositionalEncoding(4, {
      maxLen: 8,
      dropout: 0.5,
      generator: new nb.Generator(3),
    });
    const x = nb.ones([8, 2, 4]);
    const y = enc.forward(x).dataSync();
    assert.ok(Array.from(y).some((v) => v === 0));
    enc.eval();
    const pe = nb.nn.sinusoidalPositionalEncoding(8, 4);
    assertClose(enc.forward(x).select(1, 0), pe.add(1), 1e-6);
  });

  test('clear errors when positions exceed maxLen or the width is wrong', () => {
    const enc = new nb.nn.SinusoidalPositionalEncoding(4, { maxLen: 5, dropout: 0 });
    assert.throws(() => enc.forward(nb.zeros([6, 1, 4])), /exceed maxLen 5/);
    assert.throws(() => enc.forward(nb.zeros([3, 1, 4]), 3), /positions 3\.\.5 .* exceed maxLen 5/);
    assert.throws(() => enc.forward(nb.zeros([3, 1, 5])), nb.ShapeError);
    assert.throws(() => enc.forward(nb.zeros([3, 1, 4]), -1), nb.ValueError);
  });

  test('to(float64) converts the table', () => {
    const enc = new nb.nn.SinusoidalPositionalEncoding(4, { maxLen: 5, dropout: 0 }).to('float64');
    assert.equal(enc.forward(nb.zeros([2, 1, 4], { dtype: 'float64' })).dtype, 'float64');
  });
});

describe('LearnedPositionalEncoding', () => {
  test('state-dict key weight (maxLen, d); adds rows offset..offset+T-1; gradients only there', () => {
    nb.manualSeed(5);
    const enc = new nb.nn.LearnedPositionalEncoding(6, 3, { batchFirst: true });
    assert.deepEqual(
      Object.entries(enc.stateDict()).map(([k, t]) => `${k}:${t.shape}`),
      ['weight:6,3'],
    );
    const x = nb.randn([2, 2, 3]);
    const y = enc.forward(x, 1);
    assertClose(y.sub(x).select(0, 1), enc.weight.narrow(0, 1, 2), 1e-6);
    y.sum().backward();
    const g = enc.weight.grad!.toArray() as number[][];
    assert.deepEqual(g[0], [0, 0, 0]);
    assert.deepEqual(g[1], [2, 2, 2]);
    assert.deepEqual(g[2], [2, 2, 2]);
    assert.deepEqual(g[3], [0, 0, 0]);
  });

  test('seq-first layout and errors', () => {
    const enc = new nb.nn.LearnedPositionalEncoding(4, 2);
    const x = nb.zeros([3, 5, 2]); // (T, B, d)
    assertClose(enc.forward(x).select(1, 4), enc.weight.narrow(0, 0, 3), 1e-7);
    assert.throws(() => enc.forward(nb.zeros([5, 1, 2])), /exceed maxLen 4/);
    assert.throws(() => enc.forward(nb.zeros([2, 1, 2]), 3), nb.ShapeError);
    assert.throws(() => new nb.nn.LearnedPositionalEncoding(0, 2), nb.ValueError);
  });
});
