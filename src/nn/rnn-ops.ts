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
 * all gates; the gates are narrow() views of their sum.
 */
import { record } from '../autograd/node.js';
import { add, mul, relu, sigmoid, sub, tanh, where, ge } from '../ops/elementwise.js';
import { cat, stack } from '../ops/join.js';
import { matmul } from '../ops/matmul.js';
import { narrow, select } from '../ops/movement.js';
import { zeros } from '../ops/creation.js';
import { noGrad } from '../autograd/grad-mode.js';
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
  const H = h.shape[h.ndim - 1]!;
  if (bhh) gh = add(gh, bhh);
  const rz = sigmoid(add(narrow(gi, -1, 0, 2 * H), narrow(gh, -1, 0, 2 * H))); // (B, 2H)
  const r = narrow(rz, -1, 0, H);
  const z = narrow(rz, -1, H, H);
  const n = tanh(add(narrow(gi, -1, 2 * H, H), mul(r, narrow(gh, -1, 2 * H, H)))); // (B, H)
  // (1 − z) ⊙ n + z ⊙ h, written with one multiplication.
  return add(n, mul(z, sub(h, n)));
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
