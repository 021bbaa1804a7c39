/**
 * Module behaviour (src/nn/module.ts): parameter discovery and naming (snake_case, numbered list
 * items, nesting), train/eval propagation, stateDict / loadStateDict (strict and not, shape
 * errors by name), zeroGrad, dtype conversion with tied weights, buffers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const { Module, Parameter, ModuleList, Sequential, Linear, LayerNorm, Embedding, Dropout } = nb.nn;

/** A small model with every kind of member: submodules, a list, a raw parameter, a buffer. */
class Block extends Module {
  selfAttn = new Linear(4, 4);
  norm = new LayerNorm(4);
  forward(x: nb.Tensor): nb.Tensor {
    return this.norm.forward(this.selfAttn.forward(x).add(x));
  }
}

class Net extends Module {
  inProj = new Linear(3, 4, { bias: false });
  layers = new ModuleList([new Block(), new Block()]);
  headWeight = new Parameter(nb.zeros([2, 4]));
  /** Underscore fields are private state, never parameters. */
  _cache = new Parameter(nb.zeros([1]));
  notAParam = nb.zeros([5]);
  constructor() {
    super();
    this.registerBuffer('step_count', nb.zeros([1], { dtype: 'int32' }));
    this.registerBuffer('running_scale', nb.ones([4]));
    this.registerBuffer('scratch', nb.zeros([3]), false);
  }
  forward(x: nb.Tensor): nb.Tensor {
    let h = this.inProj.forward(x);
    for (const b of this.layers) h = b.forward(h);
    return nb.F.linear(h, this.headWeight);
  }
}

const NET_PARAMS = [
  'in_proj.weight',
  'layers.0.self_attn.weight',
  'layers.0.self_attn.bias',
  'layers.0.norm.weight',
  'layers.0.norm.bias',
  'layers.1.self_attn.weight',
  'layers.1.self_attn.bias',
  'layers.1.norm.weight',
  'layers.1.norm.bias',
  'head_weight',
];

/** A language-model-like module whose output projection shares the embedding table. */
class Tied extends Module {
  embed = new Embedding(5, 3);
  head = new Linear(3, 5, { bias: false });
  constructor() {
    super();
    this.head.weight = this.embed.weight;
  }
}

describe('parameters and names', () => {
  test('toSnakeCase follows PyTorch names, digits staying with their word', () => {
    assert.equal(nb.nn.toSnakeCase('weight'), 'weight');
    assert.equal(nb.nn.toSnakeCase('selfAttn'), 'self_attn');
    assert.equal(nb.nn.toSnakeCase('inProjWeight'), 'in_proj_weight');
    assert.equal(nb.nn.toSnakeCase('weightHhL0'), 'weight_hh_l0');
    assert.equal(nb.nn.toSnakeCase('biasIhL1Reverse'), 'bias_ih_l1_reverse');
  });

  test('namedParameters: field order, snake_case, numbered list items, nesting', () => {
    const net = new Net();
    assert.deepEqual(
      net.namedParameters().map(([n]) => n),
      NET_PARAMS,
    );
    const params = net.parameters();
    assert.equal(params.length, NET_PARAMS.length);
    assert.ok(params.every((p) => p instanceof Parameter && p.requiresGrad && p.isLeaf));
    assert.equal(params[0], net.inProj.weight);
    assert.equal(params.at(-1), net.headWeight);
    assert.equal(net.numParameters(), 12 + 2 * (16 + 4 + 4 + 4) + 8);
    // With a prefix, as PyTorch's named_parameters(prefix=...).
    assert.equal(net.namedParameters('model')[0]![0], 'model.in_proj.weight');
  });

  test('namedChildren / namedModules: direct children, then depth-first dotted names', () => {
    const net = new Net();
    assert.deepEqual(
      [...net.namedChildren()].map(([n]) => n),
      ['in_proj', 'layers'],
    );
    assert.deepEqual(
      [...net.namedModules()].map(([n]) => n),
      [
        '',
        'in_proj',
        'layers',
        'layers.0',
        'layers.0.self_attn',
        'layers.0.norm',
        'layers.1',
        'layers.1.self_attn',
        'layers.1.norm',
      ],
    );
    assert.equal([...net.modules()].length, 9);
  });

  test('declared class fields come in declaration order, whatever the assignment order', () => {
    class Declared extends Module {
      second: InstanceType<typeof Linear>;
      first: InstanceType<typeof Linear>;
      constructor() {
        super();
        this.first = new Linear(1, 1, { bias: false });
        this.second = new Linear(1, 1, { bias: false });
      }
    }
    assert.deepEqual(Object.keys(new Declared().stateDict()), ['second.weight', 'first.weight']);
  });

  test('renameField overrides the snake_case name', () => {
    class Renamed extends Module {
      w = new Parameter(nb.zeros([2]));
      constructor() {
        super();
        this.renameField('w', 'in_proj_weight');
      }
    }
    assert.deepEqual(Object.keys(new Renamed().stateDict()), ['in_proj_weight']);
  });

  test('ModuleList and Sequential: "0", "1", ... with length, negative get and iteration', () => {
    const list = new ModuleList([new Linear(2, 2), new Linear(2, 3)]);
    list.append(new Linear(3, 1));
    assert.equal(list.length, 3);
    assert.equal(list.get(-1), list.get(2));
    assert.throws(() => list.get(3), nb.ValueError);
    assert.deepEqual(
      [...list].map((m) => (m as InstanceType<typeof Linear>).outFeatures),
      [2, 3, 1],
    );
    assert.deepEqual(Object.keys(list.stateDict()), [
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '2.weight',
      '2.bias',
    ]);

    const seq = new Sequential(new Linear(2, 4), new nb.nn.Tanh(), new Linear(4, 1));
    assert.deepEqual(Object.keys(seq.stateDict()), ['0.weight', '0.bias', '2.weight', '2.bias']);
    const x = nb.randn([5, 2]);
    const manual = (seq.get(2) as InstanceType<typeof Linear>).forward(
      (seq.get(0) as InstanceType<typeof Linear>).forward(x).tanh(),
    );
    assert.deepEqual(seq.forward(x).toArray(), manual.toArray());
    // Nested Sequential inside a ModuleList.
    const outer = new ModuleList([new Sequential(new Linear(1, 1))]);
    assert.deepEqual(Object.keys(outer.stateDict()), ['0.0.weight', '0.0.bias']);
  });
});

describe('train / eval', () => {
  test('propagate to every submodule, lists included', () => {
    class WithDrop extends Module {
      drop = new Dropout(0.5);
      inner = new Sequential(new Linear(2, 2), new Dropout(0.9));
    }
    const m = new WithDrop();
    assert.ok([...m.modules()].every((x) => x.training));
    assert.equal(m.eval(), m);
    assert.ok([...m.modules()].every((x) => !x.training));
    // Dropout is the identity in eval mode.
    const x = nb.randn([3, 4]);
    assert.deepEqual(m.inner.get(1).forward(x).toArray(), x.toArray());
    m.train();
    assert.ok([...m.modules()].every((x) => x.training));
    m.train(false);
    assert.ok(!m.inner.get(1).training);
    // `training` is not mistaken for state.
    assert.deepEqual(Object.keys(m.stateDict()), ['inner.0.weight', 'inner.0.bias']);
  });
});

describe('stateDict', () => {
  test('parameters then persistent buffers per module, in registration order', () => {
    const net = new Net();
    assert.deepEqual(Object.keys(net.stateDict()), [...NET_PARAMS, 'step_count', 'running_scale']);
    assert.deepEqual(
      net.namedBuffers().map(([n]) => n),
      ['step_count', 'running_scale', 'scratch'],
    );
  });

  test('values are detached views of the live tensors', () => {
    const lin = new Linear(2, 2);
    const sd = lin.stateDict();
    assert.ok(!sd.weight!.requiresGrad);
    nb.noGrad(() => lin.weight.fill_(3));
    assert.deepEqual(sd.weight!.toArray(), [
      [3, 3],
      [3, 3],
    ]);
  });

  test('an absent bias or affine parameter is not a key', () => {
    assert.deepEqual(Object.keys(new Linear(2, 2, { bias: false }).stateDict()), ['weight']);
    assert.deepEqual(Object.keys(new LayerNorm(3, { elementwiseAffine: false }).stateDict()), []);
    assert.deepEqual(Object.keys(new LayerNorm(3, { bias: false }).stateDict()), ['weight']);
  });
});

describe('loadStateDict', () => {
  function sdOf(m: nb.nn.Module, fill: number): Record<string, nb.Tensor> {
    return Object.fromEntries(
      Object.entries(m.stateDict()).map(([k, v]) => [
        k,
        nb.full(v.shape, fill, { dtype: v.dtype }),
      ]),
    );
  }

  test('copies values in place (parameters keep their identity), converting dtypes', () => {
    const net = new Net();
    const before = net.parameters();
    const sd = sdOf(net, 0.5);
    sd['in_proj.weight'] = nb.full([4, 3], 0.25, { dtype: 'float64' });
    assert.deepEqual(net.loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] });
    assert.deepEqual(net.parameters(), before);
    assert.equal(net.inProj.weight.dtype, 'float32');
    assert.ok(net.inProj.weight.dataSync().every((v) => v === 0.25));
    assert.ok(net.headWeight.dataSync().every((v) => v === 0.5));
    assert.ok(
      net
        .getBuffer('running_scale')
        .dataSync()
        .every((v) => v === 0.5),
    );
    assert.ok(net.inProj.weight.requiresGrad && net.inProj.weight.isLeaf);
  });

  test('strict (default): missing and unexpected keys are named in a ValueError', () => {
    const net = new Net();
    const sd = sdOf(net, 1);
    delete sd['layers.1.norm.bias'];
    sd['layers.2.norm.bias'] = nb.zeros([4]);
    assert.throws(
      () => net.loadStateDict(sd),
      (e: Error) => {
        assert.ok(e instanceof nb.ValueError);
        assert.match(e.message, /missing keys: layers\.1\.norm\.bias/);
        assert.match(e.message, /unexpected keys: layers\.2\.norm\.bias/);
        return true;
      },
    );
    // Nothing was written.
    assert.ok(net.headWeight.dataSync().every((v) => v === 0));
  });

  test('strict: false returns the missing and unexpected keys and loads the rest', () => {
    const net = new Net();
    const sd = sdOf(net, 1);
    delete sd['head_weight'];
    sd['extra'] = nb.zeros([1]);
    assert.deepEqual(net.loadStateDict(sd, { strict: false }), {
      missingKeys: ['head_weight'],
      unexpectedKeys: ['extra'],
    });
    assert.ok(net.inProj.weight.dataSync().every((v) => v === 1));
    assert.ok(net.headWeight.dataSync().every((v) => v === 0));
  });

  test('a wrong shape is a ShapeError naming the key and both shapes, even with strict: false', () => {
    const net = new Net();
    const sd = sdOf(net, 1);
    sd['layers.0.self_attn.weight'] = nb.zeros([4, 5]);
    for (const strict of [true, false]) {
      assert.throws(() => net.loadStateDict(sd, { strict }), {
        name: 'ShapeError',
        message: /layers\.0\.self_attn\.weight: checkpoint \[4, 5\], model \[4, 4\]/,
      });
    }
  });
});

describe('zeroGrad, tied parameters and dtype conversion', () => {
  test('zeroGrad clears every gradient', () => {
    const net = new Net();
    net
      .forward(nb.randn([2, 3]))
      .sum()
      .backward();
    assert.ok(net.parameters().every((p) => p.grad !== null));
    net.zeroGrad();
    assert.ok(net.parameters().every((p) => p.grad === null));
  });

  test('a shared parameter: once in parameters(), under both keys in stateDict', () => {
    const m = new Tied();
    assert.equal(m.head.weight, m.embed.weight);
    assert.deepEqual(
      m.namedParameters().map(([n]) => n),
      ['embed.weight'],
    );
    assert.equal(m.numParameters(), 15);
    assert.deepEqual(Object.keys(m.stateDict()), ['embed.weight', 'head.weight']);
    // Loading goes through both keys into the one tensor.
    const w = nb.arange(0, 15).reshape(5, 3).float();
    m.loadStateDict({ 'embed.weight': w, 'head.weight': w });
    assert.deepEqual(m.head.weight.toArray(), w.toArray());
    // Gradients from both uses accumulate into the shared tensor.
    const ids = nb.tensor([1, 3], { dtype: 'int32' });
    m.head.forward(m.embed.forward(ids)).sum().backward();
    const g = m.embed.weight.grad!.toArray() as number[][];
    assert.ok(g[1]!.some((v) => v !== 0) && g[0]!.some((v) => v !== 0));
  });

  test("to('float64') converts parameters and float buffers and keeps tied parameters tied", () => {
    const m = new Tied();
    const before = m.embed.weight.toArray();
    assert.equal(m.to('float64'), m);
    assert.equal(m.embed.weight.dtype, 'float64');
    assert.equal(m.head.weight, m.embed.weight, 'still one Parameter');
    assert.ok(m.embed.weight instanceof Parameter && m.embed.weight.requiresGrad);
    assertArraysClose(m.embed.weight.toArray() as number[][], before as number[][]);
    assert.equal(m.parameters().length, 1);
    assert.deepEqual(Object.keys(m.stateDict()), ['embed.weight', 'head.weight']);

    const net = new Net().to('float64');
    assert.ok(net.parameters().every((p) => p.dtype === 'float64'));
    assert.equal(net.getBuffer('running_scale').dtype, 'float64');
    assert.equal(net.getBuffer('step_count').dtype, 'int32', 'integer buffers keep their dtype');
    // A float64 model is gradcheckable end to end.
    const x = nb.randn([2, 3], { dtype: 'float64' });
    nb.gradcheck((w) => nb.F.linear(x, w).sum(), [net.inProj.weight]);
  });

  test('apply visits children first; toString lists the tree', () => {
    const seen: string[] = [];
    new Sequential(new Linear(1, 1), new nb.nn.ReLU()).apply((m) => seen.push(m.constructor.name));
    assert.deepEqual(seen, ['Linear', 'ReLU', 'Sequential']);
    assert.match(new Net().toString(), /in_proj: Linear \(weight\[4, 3\]\)/);
  });
});

function assertArraysClose(a: number[][], b: number[][]): void {
  a.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) < 1e-7)));
}
