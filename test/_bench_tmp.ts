import * as nb from '/work/main/src/index.js';
const [B, T, E, H] = [8, 128, 256, 8];
const mha = new nb.nn.MultiheadAttention({ embedDim: E, numHeads: H, batchFirst: true });
const x = nb.randn([B, T, E], { requiresGrad: true });
const mask = nb.nn.Transformer.generateSquareSubsequentMask(T);
function time(name: string, fn: () => void, n = 3) {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  console.log(name, ((performance.now() - t0) / n).toFixed(1), 'ms');
}
time('mha fwd', () => nb.scope(() => { nb.noGrad(() => mha.forward(x, x, x, { attnMask: mask, needWeights: false })); }));
time('mha fwd+bwd', () => nb.scope(() => { const [y] = mha.forward(x, x, x, { attnMask: mask, needWeights: false }); y.sum().backward(); }));
time('mha isCausal fwd', () => nb.scope(() => { nb.noGrad(() => mha.forward(x, x, x, { isCausal: true, needWeights: false })); }));
const w = nb.randn([3 * E, E]);
time('proj matmul only', () => nb.scope(() => { nb.noGrad(() => x.matmul(w.mT)); }));
const q = nb.randn([B, H, T, E / H]);
time('qk^T matmul', () => nb.scope(() => { nb.noGrad(() => q.matmul(q.mT)); }));
const s = nb.randn([B, H, T, T]);
time('softmax', () => nb.scope(() => { nb.noGrad(() => s.softmax(-1)); }));
time('exp', () => nb.scope(() => { nb.noGrad(() => s.exp()); }));
time('max', () => nb.scope(() => { nb.noGrad(() => s.max(-1, true)); }));
time('where', () => nb.scope(() => { nb.noGrad(() => nb.where(mask.eq(0), s, -Infinity)); }));
