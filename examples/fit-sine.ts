/**
 * Fit y = sin(2x) on [-2, 2] with a 1 → 32 → 1 tanh MLP and hand-written gradient descent.
 * Run from the repository root after `npm install` (which builds dist/):
 *   node --import tsx examples/fit-sine.ts
 */
import * as nb from 'nabla';

nb.manualSeed(0);
const x = nb.linspace(-2, 2, 64).reshape(64, 1); // (N, 1)
const y = x.mul(2).sin(); // (N, 1)

const H = 32;
const w1 = nb.randn([1, H], { requiresGrad: true });
const b1 = nb.zeros([H], { requiresGrad: true });
const w2 = nb.randn([H, 1], { std: 1 / Math.sqrt(H), requiresGrad: true });
const b2 = nb.zeros([1], { requiresGrad: true });
const params = [w1, b1, w2, b2];
const lr = 0.05;

for (let step = 0; step <= 3000; step++) {
  const pred = x.matmul(w1).add(b1).tanh().matmul(w2).add(b2); // (N, 1)
  const loss = pred.sub(y).square().mean();
  if (step % 500 === 0) console.log(`step ${step}: mse ${loss.item().toFixed(5)}`);
  loss.backward();
  nb.noGrad(() => {
    for (const p of params) {
      p.sub_(p.grad!.mul(lr));
      p.grad = null;
    }
  });
}

// A few points of the fit beside the target.
nb.noGrad(() => {
  const at = nb.tensor([[-1.5], [-0.5], [0.75], [1.8]]); // (4, 1)
  const fit = at.matmul(w1).add(b1).tanh().matmul(w2).add(b2).dataSync();
  const target = at.mul(2).sin().dataSync();
  at.dataSync().forEach((xi, i) => {
    console.log(`x ${xi.toFixed(2)}: fit ${fit[i]!.toFixed(3)}, sin(2x) ${target[i]!.toFixed(3)}`);
  });
});
