/**
 * The recurrent cells as functions of precomputed input gates, and `unbindSteps`, which splits a
 * (T, ...) tensor into its T time steps with one backward for all of them.
 *
 * The cells follow PyTorch's definitions (torch.nn.RNNCell, LSTMCell, GRUCell):
 *   Elman (1990):                  h' = φ(W_ih·x + b_ih + W_hh·h + b_hh)
 *   Hochreiter & Schmidhuber (1997), with the forget gate of Gers et al. (2000), gate order i, f, g, o:
 *     i, f, o = σ(·), g = tanh(·),  c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
 *   Cho et al. (2014), gate order r, z, n, the reset gate applied to (W_hn·h + b_hn):
 *     r, z = σ(W_i{r,z}·x + b_i{r,z} + W_h{r,z}·h + b_h{r,z}),
 *     n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
 *
 * Each step function receives `gi` = x·W_ihᵀ (+ b_ih, and for RNN/LSTM possibly b_hh folded in),
 * computed for all time steps by one matmul per layer, and `gh` = h·W_hhᵀ, one matmul per step for
 * all gates; the gates are narrow() views of their sum. With fused kernels on
 * (F.setFusedKernels), the LSTM and GRU steps run their pointwise gate math as one forward and one
 * backward kernel each (lstmCellForward/Backward, gruCellForward/Backward) instead of ~15 ops.
 */
import { fusedKernelsEnabled } from '../ops/fused-switch.js';
import { record } from '../autograd/node.js';
import { isFloat } from '../core/dtype.js';
import { empty, kernelsFor } from '../ops/util.js';
import { sum } from '../ops/reduce.js';
import { add, mul, relu, sigmoid, sub, tanh, where, ge } from '../ops/elementwise.js';
import { cat, stack } from '../ops/join.js';
import { matmul } from '../ops/matmul.js';
import { narrow, select } from '../ops/movement.js';
import { zeros, zerosLike } from '../ops/creation.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { scalarTensor } from '../ops/util.js';
import type { Tensor } from '../tensor.js';

/** The non-linearity of a plain (Elman) RNN. */
export type RNNNonlinearity = 'tanh' | 'relu' | 'leaky_relu';

/**
 * φ(u) for the Elman cell. 'leaky_relu' is u for u ≥ 0 and p·u otherwise (so φ'(0) = 1, the
 * convention of the BPTT closed form in nb.lab).
 */
export function rnnActivation(
  u: Tensor,
  nonlinearity: RNNNonlinearity,
  negativeSlope = 0.01,
): Tensor {
  switch (nonlinearity) {
    case 'tanh':
      return tanh(u);
    case 'relu':
      return relu(u);
    case 'leaky_relu':
      return where(ge(u, 0), u, mul(u, negativeSlope));
  }
}

/**
 * One Elman step. gi: (B, H) input part x·W_ihᵀ (+ biases), gh: (B, H) = h·W_hhᵀ, bhh: (H) or null
 * when it was folded into gi. Returns h' (B, H).
 */
export function rnnStep(
  gi: Tensor,
  gh: Tensor,
  bhh: Tensor | null,
  nonlinearity: RNNNonlinearity,
  negativeSlope?: number,
): Tensor {
  let u = add(gi, gh); // (B, H)
  if (bhh) u = add(u, bhh);
  return rnnActivation(u, nonlinearity, negativeSlope);
}

/**
 * One LSTM step. gi: (B, 4H) input gates (order i, f, g, o), gh: (B, 4H) = h·W_hhᵀ, c: (B, H).
 * Returns [h', c'], each (B, H).
 */
export function lstmStep(gi: Tensor, gh: Tensor, c: Tensor, bhh: Tensor | null): [Tensor, Tensor] {
  if (fusedCellApplies(gi, gh, c, bhh, 4)) return lstmStepFused(gi, gh, c, bhh);
  const H = c.shape[c.ndim - 1]!;
  let gates = add(gi, gh); // (B, 4H)
  if (bhh) gates = add(gates, bhh);
  const s = sigmoid(gates); // σ over all four blocks; the g block of it is unused
  const i = narrow(s, -1, 0, H);
  const f = narrow(s, -1, H, H);
  const g = tanh(narrow(gates, -1, 2 * H, H));
  const o = narrow(s, -1, 3 * H, H);
  const c2 = add(mul(f, c), mul(i, g)); // (B, H)
  return [mul(o, tanh(c2)), c2];
}

/**
 * One GRU step. gi: (B, 3H) = x·W_ihᵀ + b_ih (order r, z, n), gh: (B, 3H) = h·W_hhᵀ, h: (B, H),
 * bhh: (3H) or null. Returns h' (B, H).
 */
export function gruStep(gi: Tensor, gh: Tensor, h: Tensor, bhh: Tensor | null): Tensor {
  if (fusedCellApplies(gi, gh, h, bhh, 3)) return gruStepFused(gi, gh, h, bhh);
  const H = h.shape[h.ndim - 1]!;
  if (bhh) gh = add(gh, bhh);
  const rz = sigmoid(add(narrow(gi, -1, 0, 2 * H), narrow(gh, -1, 0, 2 * H))); // (B, 2H)
  const r = narrow(rz, -1, 0, H);
  const z = narrow(rz, -1, H, H);
  const n = tanh(add(narrow(gi, -1, 2 * H, H), mul(r, narrow(gh, -1, 2 * H, H)))); // (B, H)
  // (1 − z) ⊙ n + z ⊙ h, written with one multiplication.
  return add(n, mul(z, sub(h, n)));
}

// ---- Fused cells ------------------------------------------------------------------------------

/** The fused kernels take float (B, G·H) gates, a (B, H) state and a (G·H) bias, one dtype. */
function fusedCellApplies(
  gi: Tensor,
  gh: Tensor,
  state: Tensor,
  bias: Tensor | null,
  G: number,
): boolean {
  if (!fusedKernelsEnabled() || !isFloat(gi.dtype) || state.ndim !== 2) return false;
  const [B, H] = state.shape as [number, number];
  const gates = (t: Tensor): boolean =>
    t.dtype === gi.dtype && t.ndim === 2 && t.shape[0] === B && t.shape[1] === G * H;
  return (
    B * H > 0 &&
    gates(gi) &&
    gates(gh) &&
    state.dtype === gi.dtype &&
    (!bias || (bias.dtype === gi.dtype && bias.ndim === 1 && bias.shape[0] === G * H))
  );
}

/**
 * lstmStep in two kernels. The forward writes [h', c'] into one (2, B, H) buffer, and the activated
 * gates, which the backward reads. h' and c' are views of it that pass their gradients to one
 * "anchor" node (as unbindSteps does), whose backward, after both, runs the backward kernel on
 * them: no zero-padded (2, B, H) gradient per output. Under createGraph the backward is written in
 * Tensor ops, recomputing the gates so that they are differentiable too.
 */
function lstmStepFused(gi: Tensor, gh: Tensor, c: Tensor, bhh: Tensor | null): [Tensor, Tensor] {
  const [B, H] = c.shape as [number, number];
  const k = kernelsFor(gi);
  const out = empty([2, B, H], gi.dtype); // [h', c']
  const gates = empty([B, 4 * H], gi.dtype); // i, f, g, o after their non-linearities
  k.lstmCellForward(gi, gh, bhh, c, out, gates);
  const views = noGrad(() => [select(out, 0, 0), select(out, 0, 1)] as const);
  const slots: [Tensor | null, Tensor | null] = [null, null];
  const inputs = bhh ? [gi, gh, c, bhh] : [gi, gh, c];
  const anchor = record(
    scalarTensor(0, gi.dtype),
    'lstmCell',
    inputs,
    () => {
      const [gH, gC] = slots;
      slots[0] = slots[1] = null;
      if (isGradEnabled()) return lstmGradOps(gi, gh, c, bhh, gH, gC);
      const dGates = empty([B, 4 * H], gi.dtype);
      const dc = empty([B, H], gi.dtype);
      k.lstmCellBackward(gates, c, out, gH, gC, dGates, dc);
      return [dGates, dGates, dc, bhh ? sum(dGates, 0) : null];
    },
    [gates, c, out],
  );
  if (!anchor.requiresGrad) return [views[0], views[1]];
  const zero = scalarTensor(0, gi.dtype); // what each output passes to the anchor
  const output = (q: 0 | 1): Tensor =>
    record(
      views[q],
      'lstmCell',
      [anchor],
      (g) => {
        slots[q] = slots[q] === null ? g : add(slots[q]!, g);
        return [zero];
      },
      [zero],
    );
  return [output(0), output(1)];
}

/** The fused LSTM backward in differentiable Tensor ops (for createGraph); null gradients are 0. */
function lstmGradOps(
  gi: Tensor,
  gh: Tensor,
  c: Tensor,
  bhh: Tensor | null,
  gH: Tensor | null,
  gC: Tensor | null,
): (Tensor | null)[] {
  const H = c.shape[1]!;
  let u = add(gi, gh);
  if (bhh) u = add(u, bhh);
  const s = sigmoid(u);
  const [i, f, o] = [0, 1, 3].map((q) => narrow(s, 1, q * H, H)) as [Tensor, Tensor, Tensor];
  const g = tanh(narrow(u, 1, 2 * H, H));
  const tc = tanh(add(mul(f, c), mul(i, g)));
  const gh2 = gH ?? zerosLike(c);
  const fromH = mul(mul(gh2, o), sub(1, mul(tc, tc)));
  const dct = gC ? add(gC, fromH) : fromH;
  const dGates = cat(
    [
      mul(mul(dct, g), mul(i, sub(1, i))),
      mul(mul(dct, c), mul(f, sub(1, f))),
      mul(mul(dct, i), sub(1, mul(g, g))),
      mul(mul(gh2, tc), mul(o, sub(1, o))),
    ],
    1,
  );
  return [dGates, dGates, mul(dct, f), bhh ? sum(dGates, 0) : null];
}

/**
 * gruStep in two kernels; the forward saves [r, z, n, W_hn·h + b_hn] (B, 4H) for the backward.
 * Under createGraph the backward is written in Tensor ops.
 */
function gruStepFused(gi: Tensor, gh: Tensor, h: Tensor, bhh: Tensor | null): Tensor {
  const [B, H] = h.shape as [number, number];
  const k = kernelsFor(gi);
  const out = empty([B, H], gi.dtype);
  const saved = empty([B, 4 * H], gi.dtype);
  k.gruCellForward(gi, gh, bhh, h, out, saved);
  const inputs = bhh ? [gi, gh, h, bhh] : [gi, gh, h];
  return record(
    out,
    'gruCell',
    inputs,
    (gOut) => {
      if (isGradEnabled()) return gruGradOps(gi, gh, h, bhh, gOut);
      const dgi = empty([B, 3 * H], gi.dtype);
      const dgh = empty([B, 3 * H], gi.dtype);
      const dh = empty([B, H], gi.dtype);
      k.gruCellBackward(saved, h, gOut, dgi, dgh, dh);
      return [dgi, dgh, dh, bhh ? sum(dgh, 0) : null];
    },
    [saved, h],
  );
}

/** The fused GRU backward in differentiable Tensor ops (for createGraph). */
function gruGradOps(
  gi: Tensor,
  gh: Tensor,
  h: Tensor,
  bhh: Tensor | null,
  g: Tensor,
): (Tensor | null)[] {
  const H = h.shape[1]!;
  const ghb = bhh ? add(gh, bhh) : gh;
  const rz = sigmoid(add(narrow(gi, 1, 0, 2 * H), narrow(ghb, 1, 0, 2 * H)));
  const r = narrow(rz, 1, 0, H);
  const z = narrow(rz, 1, H, H);
  const ghn = narrow(ghb, 1, 2 * H, H);
  const n = tanh(add(narrow(gi, 1, 2 * H, H), mul(r, ghn)));
  const an = mul(mul(g, sub(1, z)), sub(1, mul(n, n)));
  const ar = mul(mul(an, ghn), mul(r, sub(1, r)));
  const az = mul(mul(g, sub(h, n)), mul(z, sub(1, z)));
  const dgh = cat([ar, az, mul(an, r)], 1);
  return [cat([ar, az, an], 1), dgh, mul(g, z), bhh ? sum(dgh, 0) : null];
}

/**
 * The per-step products h_t·W for t = 0..T−1 of one recurrent layer (W = W_hhᵀ, (H, G·H)), with
 * the weight's gradient computed once for the whole sequence. Backpropagating each step's matmul
 * separately would build a (H, G·H) gradient per step and add them up one by one, T products and
 * T additions the size of the weight; here the steps pass their output gradients g_t to an
 * "anchor" node, which runs after all of them and returns ∂L/∂W = Σ_t h_tᵀ g_t as one matmul of
 * the stacked states and gradients, (H, T·B) @ (T·B, G·H) (what cuDNN does). Returns the product
 * function `(h, t) => h·W`; each t is used once.
 */
export function recurrentProducts(w: Tensor, T: number): (h: Tensor, t: number) => Tensor {
  const hs = new Array<Tensor | undefined>(T);
  const gs = new Array<Tensor | undefined>(T);
  const anchor = record(scalarTensor(0, w.dtype), 'recurrentProducts', [w], () => {
    const used = [...gs.keys()].filter((t) => gs[t] !== undefined);
    const states = cat(used.map((t) => hs[t]!)); // (n·B, H)
    const grads = cat(used.map((t) => gs[t]!)); // (n·B, G·H)
    gs.fill(undefined);
    return [matmul(states.mT, grads)]; // (H, G·H)
  });
  if (!anchor.requiresGrad) return (h) => matmul(h, w);
  const zero = scalarTensor(0, w.dtype);
  return (h, t) => {
    const out = noGrad(() => matmul(h, w)); // (B, G·H)
    hs[t] = h;
    return record(
      out,
      'recurrentProducts',
      [h, anchor],
      (g) => {
        gs[t] = gs[t] === undefined ? g : add(gs[t]!, g);
        return [h.requiresGrad ? matmul(g, w.mT) : null, zero];
      },
      [h, w, zero],
    );
  };
}

/**
 * The T slices x[0], ..., x[T−1] of a (T, ...) tensor, as views. Unlike T calls to select(), whose
 * backwards each build a zero-padded gradient of x's full size (O(T²) work and memory over a
 * sequence), the gradients of all slices are gathered and stacked once: the slices hang from one
 * scalar "anchor" node whose backward, which runs after all of theirs, returns that stack.
 */
export function unbindSteps(x: Tensor): Tensor[] {
  const T = x.shape[0]!;
  const views = noGrad(() => Array.from({ length: T }, (_, t) => select(x, 0, t)));
  const stepShape = x.shape.slice(1);
  const slots: (Tensor | undefined)[] = new Array<Tensor | undefined>(T);
  const anchor = record(scalarTensor(0, x.dtype), 'unbindSteps', [x], () => {
    const gs = Array.from(slots, (g) => g ?? zeros(stepShape, { dtype: x.dtype }));
    slots.fill(undefined);
    return [stack(gs, 0)];
  });
  if (!anchor.requiresGrad) return views;
  // Each slice passes a zero to the anchor (listed as saved, so that a scope keeps it).
  const zero = scalarTensor(0, x.dtype);
  return views.map((v, t) =>
    record(
      v,
      'unbindSteps',
      [anchor],
      (g) => {
        slots[t] = slots[t] === undefined ? g : add(slots[t]!, g);
        return [zero];
      },
      [zero],
    ),
  );
}
