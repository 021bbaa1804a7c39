/**
 * Parity of RNN, LSTM, GRU and their cells with PyTorch (fixtures from scripts/fixtures/gen_rnn.py):
 * parameters are loaded by PyTorch's state-dict names; outputs, final states and the gradients of
 * the input, the initial states and every parameter must match within float32 tolerances,
 * |nabla − torch| <= 1e-5 + 1e-4·|torch| (the references are float64, nabla runs float32).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as nb from '../../src/index.js';
import { assertClose } from '../core/helpers.js';

const ATOL = 1e-5;
const RTOL = 1e-4;

interface Encoded {
  shape: number[];
  data: number[];
}

interface RecurrentCase {
  name: string;
  module: 'RNN' | 'LSTM' | 'GRU' | 'RNNCell' | 'LSTMCell' | 'GRUCell';
  options: Record<string, unknown> & { inputSize: number; hiddenSize: number };
  params: Record<string, Encoded>;
  inputs: Record<string, Encoded>;
  lengths: number[] | null;
  upstream: Record<string, Encoded>;
  outputs: Record<string, Encoded>;
  grads: Record<string, Encoded>;
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/rnn.json', import.meta.url), 'utf8'),
) as { cases: RecurrentCase[] };

function decode(e: Encoded, requiresGrad = false): nb.Tensor {
  return nb.tensor(Float32Array.from(e.data), { shape: e.shape, requiresGrad });
}

type AnyRecurrent =
  nb.nn.RNN | nb.nn.LSTM | nb.nn.GRU | nb.nn.RNNCell | nb.nn.LSTMCell | nb.nn.GRUCell;

function build(c: RecurrentCase): AnyRecurrent {
  const { inputSize, hiddenSize, ...rest } = c.options;
  switch (c.module) {
    case 'RNN':
      return new nb.nn.RNN(inputSize, hiddenSize, rest);
    case 'LSTM':
      return new nb.nn.LSTM(inputSize, hiddenSize, rest);
    case 'GRU':
      return new nb.nn.GRU(inputSize, hiddenSize, rest);
    case 'RNNCell':
      return new nb.nn.RNNCell(inputSize, hiddenSize, rest);
    case 'LSTMCell':
      return new nb.nn.LSTMCell(inputSize, hiddenSize, rest);
    case 'GRUCell':
      return new nb.nn.GRUCell(inputSize, hiddenSize, rest);
  }
}

/** Runs the case's forward; returns the named outputs (output, hN, cN or h, c). */
function run(
  c: RecurrentCase,
  m: AnyRecurrent,
  inputs: Record<string, nb.Tensor>,
): Record<string, nb.Tensor> {
  const opts = c.lengths ? { lengths: c.lengths } : {};
  const x = inputs.x!;
  if (m instanceof nb.nn.LSTM) {
    const state = inputs.h0 ? ([inputs.h0, inputs.c0!] as [nb.Tensor, nb.Tensor]) : undefined;
    const [output, [hN, cN]] = m.forward(x, state, opts);
    return { output, hN, cN };
  }
  if (m instanceof nb.nn.RNN || m instanceof nb.nn.GRU) {
    const [output, hN] = m.forward(x, inputs.h0, opts);
    return { output, hN };
  }
  if (m instanceof nb.nn.LSTMCell) {
    const [h, cc] = m.forward(x, inputs.h ? [inputs.h, inputs.c!] : undefined);
    return { h, c: cc };
  }
  return { h: m.forward(x, inputs.h) };
}

describe('recurrent modules match PyTorch', () => {
  test('the fixture covers every module kind', () => {
    const kinds = new Set(fixture.cases.map((c) => c.module));
    for (const k of ['RNN', 'LSTM', 'GRU', 'RNNCell', 'LSTMCell', 'GRUCell'])
      assert.ok(kinds.has(k as never), k);
    assert.ok(fixture.cases.filter((c) => c.lengths).length >= 3);
  });

  for (const c of fixture.cases) {
    test(c.name, () => {
      const m = build(c);
      // Loading by PyTorch's keys checks the parameter names (strict: no missing/unexpected key).
      m.loadStateDict(Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, decode(v)])));
      assert.deepEqual(Object.keys(m.stateDict()), Object.keys(c.params), 'state-dict key order');
      const inputs = Object.fromEntries(
        Object.entries(c.inputs).map(([k, v]) => [k, decode(v, true)]),
      );
      const outs = run(c, m, inputs);
      assert.deepEqual(Object.keys(outs).sort(), Object.keys(c.outputs).sort());
      let loss: nb.Tensor | null = null;
      for (const [k, expected] of Object.entries(c.outputs)) {
        assertClose(outs[k]!, nb.tensor(expected.data, { shape: expected.shape }), ATOL, RTOL);
        const term = outs[k]!.mul(decode(c.upstream[k]!)).sum();
        loss = loss ? loss.add(term) : term;
      }
      loss!.backward();
      const params = new Map(m.namedParameters());
      let checked = 0;
      for (const [k, expected] of Object.entries(c.grads)) {
        const t = k.startsWith('param:') ? params.get(k.slice(6)) : inputs[k];
        assert.ok(t, `no tensor for gradient ${k}`);
        assert.ok(t.grad, `${k} received no gradient`);
        assertClose(t.grad, nb.tensor(expected.data, { shape: expected.shape }), ATOL, RTOL);
        checked++;
      }
      // Every parameter and every input was compared.
      assert.equal(checked, params.size + Object.keys(inputs).length);
    });
  }
});
