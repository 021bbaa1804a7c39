/**
 * Module.registerForwardHook (src/nn/module.ts), PyTorch's register_forward_hook: hooks run after
 * forward with (module, args, output), in registration order; a returned value replaces the
 * output; calls through a parent are seen; remove() unregisters; the instance's own `forward` is
 * non-enumerable, so parameters, state dicts and ModuleList indices are unchanged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const { Linear, Sequential, ReLU, Module } = nb.nn;

describe('Module.registerForwardHook', () => {
  test('sees args and output, in registration order, through a parent', () => {
    const fc = new Linear(3, 2);
    const net = new Sequential(fc, new ReLU());
    const seen: string[] = [];
    let captured: { args: readonly unknown[]; out: unknown } | null = null;
    fc.registerForwardHook((m, args, out) => {
      assert.equal(m, fc);
      captured = { args, out };
      seen.push('first');
    });
    fc.registerForwardHook(() => void seen.push('second'));
    const x = nb.randn([4, 3]);
    net.forward(x);
    assert.deepEqual(seen, ['first', 'second']);
    assert.equal(captured!.args[0], x);
    assert.deepEqual((captured!.out as nb.Tensor).shape, [4, 2]);
  });

  test('a returned value replaces the output; remove() unregisters', () => {
    const fc = new Linear(2, 2);
    const zeros = nb.zeros([1, 2]);
    const h = fc.registerForwardHook(() => zeros);
    assert.equal(fc.forward(nb.ones([1, 2])), zeros);
    h.remove();
    h.remove(); // idempotent
    assert.notEqual(fc.forward(nb.ones([1, 2])), zeros);
  });

  test('module structure is unchanged by hooks', () => {
    const net = new Sequential(new Linear(3, 3), new Linear(3, 1));
    const keys = Object.keys(net.stateDict());
    const count = net.length;
    for (const m of net.modules()) m.registerForwardHook(() => undefined);
    assert.deepEqual(Object.keys(net.stateDict()), keys);
    assert.equal(net.length, count);
    assert.equal(net.parameters().length, 4);
    assert.ok(!Object.keys(net.get(0)).includes('forward'));
    net.to('float64'); // walks own fields
    assert.equal(net.forward(nb.randn([2, 3], { dtype: 'float64' })).dtype, 'float64');
  });

  test('a module without forward is a ValueError', () => {
    class Holder extends Module {
      fc = new Linear(1, 1);
    }
    assert.throws(() => new Holder().registerForwardHook(() => undefined), nb.ValueError);
  });
});
