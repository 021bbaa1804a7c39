/**
 * Typed errors: each misuse throws the right class, and the message names the op and the shapes,
 * values or dtypes involved, so that the user can act on it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { idx } from './helpers.js';

/** Asserts that `fn` throws an instance of `cls` whose message contains every fragment. */
function throwsWith(
  fn: () => unknown,
  cls: new (...args: never[]) => Error,
  ...fragments: (string | RegExp)[]
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.ok(e instanceof nb.NablaError, 'every typed error is a NablaError');
    assert.equal(e.name, cls.name);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `'${f}' not in: ${e.message}`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

describe('ShapeError', () => {
  test('mismatched broadcast shapes in add name the op, both shapes and the dim', () => {
    throwsWith(
      () => nb.ones([2, 3]).add(nb.ones([4])),
      nb.ShapeError,
      'add',
      '[2, 3]',
      '[4]',
      'broadcast',
    );
    throwsWith(
      () => nb.ones([3, 2]).mul(nb.ones([3, 3])),
      nb.ShapeError,
      'mul',
      '[3, 2]',
      '[3, 3]',
    );
  });

  test('matmul inner-dim mismatch names both shapes and the sizes', () => {
    throwsWith(
      () => nb.ones([2, 3]).matmul(nb.ones([4, 5])),
      nb.ShapeError,
      'matmul',
      '[2, 3]',
      '[4, 5]',
      '3 vs 4',
    );
    throwsWith(() => nb.ones([3]).matmul(nb.ones([4])), nb.ShapeError, 'matmul', '[3]', '[4]');
    throwsWith(
      () => nb.ones([2, 2, 3]).matmul(nb.ones([3, 3, 1])),
      nb.ShapeError,
      'matmul',
      '[2]',
      '[3]',
    );
  });

  test('reshape to the wrong size names the target and source shapes', () => {
    throwsWith(
      () => nb.ones([2, 3]).reshape(4, 2),
      nb.ShapeError,
      'reshape',
      '[4, 2]',
      '[2, 3]',
      '6 elements',
    );
    throwsWith(() => nb.ones([2, 3]).reshape(-1, 4), nb.ShapeError, 'reshape', '[-1, 4]');
    throwsWith(() => nb.ones([2, 3]).reshape(-1, -1), nb.ShapeError, 'reshape', '-1');
  });

  test('view of a non-viewable layout suggests reshape', () => {
    throwsWith(() => nb.ones([2, 3]).T.view(6), nb.ShapeError, 'view', '[3, 2]', 'reshape');
  });

  test('ragged nested array in nb.tensor names the path', () => {
    throwsWith(
      () =>
        nb.tensor([
          [1, 2],
          [3, 4, 5],
        ]),
      nb.ShapeError,
      'tensor',
      'ragged',
      'data[1]',
      'length 3',
    );
    throwsWith(() => nb.tensor([[1, 2], 3] as never), nb.ShapeError, 'tensor', 'data[1]');
    throwsWith(() => nb.tensor([1, [2]] as never), nb.ShapeError, 'tensor', 'data[1]');
  });

  test('typed array with a shape that does not fit', () => {
    throwsWith(
      () => nb.tensor(new Float32Array(5), { shape: [2, 3] }),
      nb.ShapeError,
      'tensor',
      '[2, 3]',
      '5',
    );
  });

  test('invalid shapes in creation ops', () => {
    throwsWith(() => nb.zeros([2, -1]), nb.ShapeError, 'full', '[2, -1]');
    throwsWith(() => nb.ones([1.5]), nb.ShapeError, '[1.5]');
  });

  test('expand, cat, stack, item', () => {
    throwsWith(() => nb.ones([2, 3]).expand(4, 3), nb.ShapeError, 'expand', '[2, 3]', '[4, 3]');
    throwsWith(
      () => nb.cat([nb.ones([2, 3]), nb.ones([2, 4])], 0),
      nb.ShapeError,
      'cat',
      '[2, 3]',
      '[2, 4]',
    );
    throwsWith(() => nb.stack([nb.ones([2]), nb.ones([3])]), nb.ShapeError, 'stack', '[2]', '[3]');
    throwsWith(() => nb.ones([2]).item(), nb.ShapeError, 'item', '[2]');
  });

  test('maskedFill with a mask that does not broadcast to the tensor', () => {
    throwsWith(
      () => nb.ones([3]).maskedFill(nb.tensor([[true, false, true]]), 0),
      nb.ShapeError,
      'maskedFill',
      '[1, 3]',
      '[3]',
    );
    throwsWith(
      () => nb.ones([3]).maskedFill(nb.tensor([true, false]), 0),
      nb.ShapeError,
      'maskedFill',
      '[2]',
    );
  });

  test('in-place write of an incompatible shape', () => {
    throwsWith(() => nb.zeros([2]).copy_(nb.ones([3])), nb.ShapeError, 'copy_');
    throwsWith(() => nb.zeros([2]).add_(nb.ones([2, 2])), nb.ShapeError, 'add_', '[2, 2]', '[2]');
  });
});

describe('DimError', () => {
  test('sum(5) on a 2-D tensor names the op, the dim and the valid range', () => {
    throwsWith(() => nb.ones([2, 3]).sum(5), nb.DimError, 'sum', '5', '2 dimension', '[-2, 1]');
  });

  test('bad dims in other ops', () => {
    throwsWith(() => nb.ones([2, 3]).softmax(2), nb.DimError, 'softmax', '2');
    throwsWith(() => nb.ones([2, 3]).mean(-3), nb.DimError, 'mean', '-3');
    throwsWith(() => nb.ones([2, 3]).transpose(0, 2), nb.DimError, 'transpose', '2');
    throwsWith(() => nb.ones([2, 3]).permute(0, 0), nb.DimError, 'permute', '[0, 0]');
    throwsWith(() => nb.ones([2, 3]).permute(0), nb.DimError, 'permute', '[2, 3]');
    throwsWith(() => nb.ones([2, 3]).sum([0, 0]), nb.DimError, 'sum', 'more than once');
    throwsWith(() => nb.cat([nb.ones([2]), nb.ones([2])], 1), nb.DimError, 'cat', '1');
    throwsWith(() => nb.ones([2]).unsqueeze(3), nb.DimError, 'unsqueeze', '3');
  });
});

describe('IndexError', () => {
  test('out-of-range index in indexSelect names the index, the dim and its size', () => {
    throwsWith(
      () => nb.ones([3, 2]).indexSelect(0, idx([0, 3])),
      nb.IndexError,
      'indexSelect',
      'index 3',
      'size 3',
    );
    throwsWith(
      () => nb.ones([3, 2]).indexSelect(1, idx([-1])),
      nb.IndexError,
      'indexSelect',
      'index -1',
      'size 2',
    );
  });

  test('out-of-range index in gather and scatterAdd', () => {
    throwsWith(
      () => nb.ones([2, 3]).gather(1, idx([[0, 3]])),
      nb.IndexError,
      'gather',
      'index 3',
      'size 3',
    );
    throwsWith(
      () => nb.scatterAdd(nb.zeros([2]), 0, idx([5]), nb.ones([1])),
      nb.IndexError,
      'scatterAdd',
      'index 5',
    );
    throwsWith(
      () => nb.indexAdd(nb.zeros([2, 2]), 0, idx([2]), nb.ones([1, 2])),
      nb.IndexError,
      'indexAdd',
      'index 2',
    );
  });

  test('out-of-range token in embedding names embedding and the table size', () => {
    throwsWith(
      () => nb.embedding(idx([[1, 7]]), nb.ones([5, 2])),
      nb.IndexError,
      'embedding',
      'index 7',
      '5',
    );
  });

  test('select and narrow out of range', () => {
    throwsWith(() => nb.ones([2, 3]).select(1, 3), nb.IndexError, 'select', 'index 3', 'size 3');
    throwsWith(
      () => nb.ones([4]).narrow(0, 2, 3),
      nb.IndexError,
      'narrow',
      'start 2',
      'length 3',
      'size 4',
    );
  });
});

describe('DTypeError', () => {
  test('float32 + float64 names the op and both dtypes', () => {
    throwsWith(
      () => nb.ones([2]).add(nb.ones([2], { dtype: 'float64' })),
      nb.DTypeError,
      'add',
      'float32',
      'float64',
    );
    throwsWith(
      () => nb.ones([2, 2]).matmul(nb.ones([2, 2], { dtype: 'float64' })),
      nb.DTypeError,
      'matmul',
      'float32',
      'float64',
    );
    throwsWith(
      () => nb.cat([nb.ones([2]), nb.ones([2], { dtype: 'float64' })]),
      nb.DTypeError,
      'cat',
      'float64',
    );
  });

  test('int indices given as float', () => {
    throwsWith(
      () => nb.ones([3]).indexSelect(0, nb.tensor([0, 1])),
      nb.DTypeError,
      'indexSelect',
      'int32',
      'float32',
    );
    throwsWith(
      () => nb.ones([2, 2]).gather(0, nb.tensor([[0, 1]])),
      nb.DTypeError,
      'gather',
      'float32',
    );
    throwsWith(
      () => nb.embedding(nb.tensor([0, 1]), nb.ones([3, 2])),
      nb.DTypeError,
      'embedding',
      'float32',
    );
  });

  test('ops that need float or non-bool inputs', () => {
    throwsWith(() => nb.tensor([true]).add(nb.tensor([false])), nb.DTypeError, 'add', 'bool');
    throwsWith(() => nb.tensor([1], { dtype: 'int32' }).mean(), nb.DTypeError, 'mean', 'int32');
    throwsWith(
      () => nb.tensor([1], { dtype: 'int32' }).softmax(0),
      nb.DTypeError,
      'softmax',
      'int32',
    );
    throwsWith(() => nb.where(nb.ones([1]), 1, 0), nb.DTypeError, 'where', 'bool', 'float32');
    throwsWith(() => nb.ones([2]).maskedFill(nb.ones([2]), 0), nb.DTypeError, 'maskedFill');
    throwsWith(() => nb.ones([2], { dtype: 'float16' as never }), nb.DTypeError, 'float16');
    throwsWith(() => nb.randn([2], { dtype: 'int32' }), nb.DTypeError, 'randn', 'int32');
  });

  test('gradcheck needs float64 inputs', () => {
    throwsWith(
      () => nb.gradcheck((x) => x.sum(), [nb.ones([2], { requiresGrad: true })]),
      nb.DTypeError,
      'gradcheck',
      'float64',
    );
  });
});

describe('ValueError', () => {
  test('dropout with p = 1.5 names the op and the value', () => {
    throwsWith(() => nb.dropout(nb.ones([2]), 1.5), nb.ValueError, 'dropout', '1.5');
    throwsWith(() => nb.dropout(nb.ones([2]), -0.1), nb.ValueError, 'dropout', '-0.1');
    throwsWith(() => nb.F.dropout(nb.ones([2]), NaN), nb.ValueError, 'dropout', 'NaN');
  });

  test('var of one element with correction 1 is an error, not NaN', () => {
    throwsWith(() => nb.ones([1]).var(), nb.ValueError, 'var', '1 element', 'correction 1');
    throwsWith(() => nb.ones([3, 1]).std(1), nb.ValueError, 'var', 'correction 1', '[3, 1]');
    // correction 0 is fine with one element.
    assert.equal(nb.ones([1]).var(undefined, { correction: 0 }).item(), 0);
  });

  test('mean of an empty tensor is an error', () => {
    throwsWith(() => nb.zeros([0]).mean(), nb.ValueError, 'mean', 'zero elements', '[0]');
    throwsWith(() => nb.zeros([2, 0]).mean(1), nb.ValueError, 'mean', '[2, 0]');
  });

  test('bad arguments of creation and random ops', () => {
    throwsWith(() => nb.arange(0, 5, 0), nb.ValueError, 'arange', 'step');
    throwsWith(() => nb.arange(5, 0, 1), nb.ValueError, 'arange', 'sign of step');
    throwsWith(() => nb.linspace(0, 1, -2), nb.ValueError, 'linspace', '-2');
    throwsWith(() => nb.randint(3, 3, [2]), nb.ValueError, 'randint', '[3, 3)');
    throwsWith(() => nb.manualSeed(NaN), nb.ValueError, 'manualSeed', 'NaN');
    throwsWith(() => nb.ones([2]).clamp(), nb.ValueError, 'clamp');
    throwsWith(() => nb.ones([4]).split(0), nb.ValueError, 'split', '0');
    throwsWith(() => nb.ones([4]).chunk(0), nb.ValueError, 'chunk', '0');
    throwsWith(() => nb.ones([4]).slice(0, 0, 4, 0), nb.ValueError, 'slice', 'step');
    throwsWith(() => nb.setBackend('nope'), nb.ValueError, 'setBackend', 'nope', 'ref');
  });
});

describe('GradError', () => {
  test('backward without a gradient on a non-scalar names the shape', () => {
    const y = nb.ones([2, 3], { requiresGrad: true }).mul(2);
    throwsWith(() => y.backward(), nb.GradError, 'backward', '[2, 3]');
  });

  test('backward on a tensor that does not require grad', () => {
    throwsWith(() => nb.ones([1]).backward(), nb.GradError, 'backward', 'requiresGrad');
  });

  test('second backward through a freed graph names the op', () => {
    const y = nb.ones([2], { requiresGrad: true }).exp().sum();
    y.backward();
    throwsWith(() => y.backward(), nb.GradError, 'second time', 'retainGraph');
  });

  test('in-place changes: of a saved tensor, and of a leaf outside noGrad', () => {
    const w = nb.ones([2], { requiresGrad: true });
    const y = w.sin().sum();
    nb.noGrad(() => w.mul_(2));
    throwsWith(() => y.backward(), nb.GradError, "'sin'", '[2]', 'in-place');
    throwsWith(() => w.mul_(2), nb.GradError, 'mul_', 'noGrad');
  });

  test('requiresGrad on an int tensor names the dtype', () => {
    throwsWith(
      () => nb.tensor([1], { dtype: 'int32' }).requiresGrad_(),
      nb.GradError,
      'requiresGrad',
      'int32',
    );
  });
});

describe('DisposedError', () => {
  test('use of a disposed tensor names the op and the shape', () => {
    const t = nb.ones([2, 2]);
    t.dispose();
    throwsWith(() => t.add(1), nb.DisposedError, 'add', '[2, 2]', 'disposed');
    throwsWith(() => nb.ones([2, 2]).mul(t), nb.DisposedError, 'mul', 'disposed');
    throwsWith(() => t.sum(), nb.DisposedError, 'sum', 'disposed');
    throwsWith(() => t.matmul(t), nb.DisposedError, 'matmul', 'disposed');
    throwsWith(() => t.dataSync(), nb.DisposedError, 'dataSync', 'disposed');
  });

  test('the message uses the tensor name when it has one', () => {
    const t = nb.ones([3]);
    t.name = 'weights';
    t.dispose();
    throwsWith(() => t.exp(), nb.DisposedError, "'weights'", 'exp');
  });
});

describe('GradcheckError', () => {
  test('a corrupted gradient fails gradcheck with a readable report', () => {
    const x = nb.tensor([0.5, -1, 2], { dtype: 'float64', requiresGrad: true });
    const broken = (x: nb.Tensor): nb.Tensor => {
      const y = x.square();
      // The hook triples the gradient flowing back: the analytical gradient becomes 3·2x.
      if (y.requiresGrad) y.registerHook((g) => g.mul(3));
      return y;
    };
    throwsWith(
      () => nb.gradcheck(broken, [x]),
      nb.GradcheckError,
      'gradcheck failed',
      'input 0',
      '[3]',
      'max abs error',
      'analytical',
      'numerical',
      /element \d: analytical -?\d/,
    );
    // Without the corruption the same function passes and reports small errors.
    const [report] = nb.gradcheck((x) => x.square(), [x]);
    assert.ok(report!.maxAbsError < 1e-6);
  });

  test('a function that does not depend on its inputs is reported', () => {
    const x = nb.tensor([1], { dtype: 'float64', requiresGrad: true });
    throwsWith(
      () => nb.gradcheck(() => nb.ones([1], { dtype: 'float64' }), [x]),
      nb.GradcheckError,
      'gradcheck',
      'does not depend',
    );
  });
});
