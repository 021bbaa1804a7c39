/**
 * Reverse-mode differentiation: sort the graph below the root once (depth-first, post-order),
 * then walk it from the root down, accumulating each tensor's gradient from all its uses before
 * passing it on (micrograd's algorithm, with hooks, retained gradients and in-place checks).
 */
import { GradError, ShapeError } from '../core/errors.js';
import { formatShape, shapesEqual } from '../core/shape.js';
import { keep } from '../memory.js';
import { onesLike } from '../ops/creation.js';
import { nextTensorId, type Tensor } from '../tensor.js';
import { copyOf } from '../ops/util.js';
import { enableGrad, noGrad } from './grad-mode.js';
import { tapeListener } from './node.js';
import { gatherSliceGrads, type SlicePart } from './slice-grads.js';

export interface BackwardOptions {
  /** Keep the graph's saved values so that backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward computation itself, for higher-order gradients. */
  createGraph?: boolean;
}

/** Tensors of the graph below `root` that require grad, inputs before the ops that use them. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t._gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i]!;
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Adds `g` into `t.grad` (a fresh contiguous copy the first time, so it never aliases another:
 * with createGraph too, where `g` may be an expanded view or shared with a sibling input, and the
 * clone is recorded so that the gradient stays differentiable). `owned`: `g` is a buffer of this
 * pass that nothing else can see (see `ownedByPass`), kept as it is instead of copied.
 * The gradient belongs to `t`, not to the scope that runs backward: it is kept out of it.
 */
function accumulate(t: Tensor, g: Tensor, createGraph: boolean, owned = false): void {
  if (t.grad === null || t.grad.isDisposed) {
    t.grad = keep(createGraph ? g.clone() : leafGradient(g, owned));
  } else if (createGraph || t.grad.requiresGrad) {
    t.grad = keep(t.grad.add(g));
  } else {
    // In place, as PyTorch accumulates: no new buffer per backward (gradient accumulation over
    // many micro-batches keeps memory flat), and references to `.grad` stay valid.
    t.grad.add_(g);
  }
}

/**
 * True when a leaf may keep `g` itself as its gradient (as PyTorch steals a gradient nobody else
 * holds): `g` was made by this backward pass (its id is at least `firstId`), went to this tensor
 * only (`handedOut` counts where each gradient was passed), is one whole contiguous buffer that no
 * other live tensor views, and no hook saw it (a hook may have kept it). Saves a copy per
 * parameter per step.
 */
function ownedByPass(
  t: Tensor,
  g: Tensor,
  firstId: number,
  handedOut: ReadonlyMap<Tensor, number>,
): boolean {
  return (
    g.id >= firstId &&
    handedOut.get(g) === 1 &&
    t._hooks === null &&
    g.dtype === t.dtype &&
    g._gradFn === null &&
    !g.requiresGrad &&
    g.offset === 0 &&
    g.isContiguous() &&
    g._buffer.refs === 1 &&
    g.size === g._buffer.handle.size
  );
}

/**
 * A leaf's first gradient, from `g`: `g` itself when owned (see `ownedByPass`), else a copy. A
 * leaf's gradient outlives the step and is usually dropped (zeroGrad) rather than disposed, so it
 * lives in storage the garbage collector frees: where `g`'s must be freed explicitly (the wasm
 * backend's resident storage, which only a finalizer would give back), it is copied there and an
 * owned `g` freed at once.
 */
function leafGradient(g: Tensor, owned: boolean): Tensor {
  if (owned && g.storage.explicitFree !== true) return g;
  const copy = copyOf(g, true);
  if (owned) g.dispose();
  return copy;
}

export function backward(root: Tensor, grad?: Tensor, options: BackwardOptions = {}): void {
  const listener = tapeListener();
  if (listener === null) return backwardPass(root, grad, options);
  listener.backwardPass(true);
  try {
    backwardPass(root, grad, options);
  } finally {
    listener.backwardPass(false);
  }
}

function backwardPass(root: Tensor, grad: Tensor | undefined, options: BackwardOptions): void {
  root._check('backward');
  if (!root.requiresGrad) {
    throw new GradError(
      'backward: this tensor does not require grad and has no grad function; ' +
        'create its inputs with { requiresGrad: true } (and not inside noGrad)',
    );
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new GradError(
        `backward: a gradient can be created implicitly only for a one-element output, got shape ${formatShape(root.shape)}; ` +
          'pass backward(gradient) of the same shape, or reduce to a scalar first (e.g. .sum())',
      );
    }
    // A fresh 1, not root·0 + 1: that is NaN when the output is ±inf or NaN (e.g. a loss over
    // -inf-masked logits), and would poison every gradient. PyTorch seeds with ones_like.
    grad = onesLike(root);
  } else {
    grad._check('backward');
    if (!shapesEqual(grad.shape, root.shape)) {
      throw new ShapeError(
        `backward: gradient of shape ${formatShape(grad.shape)} does not match the output's ${formatShape(root.shape)}`,
      );
    }
    if (grad.dtype !== root.dtype) {
      throw new GradError(
        `backward: gradient dtype ${grad.dtype} does not match the output's ${root.dtype}`,
      );
    }
  }
  const retain = options.retainGraph ?? options.createGraph ?? false;
  const createGraph = options.createGraph ?? false;
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  // Tensors made from here on are this pass's own; each gradient's count of the tensors given it.
  const firstId = nextTensorId();
  const handedOut = new Map<Tensor, number>();
  const handOut = (g: Tensor): void => void handedOut.set(g, (handedOut.get(g) ?? 0) + 1);
  // Gradients of slices of a tensor, written into one buffer when the tensor is reached.
  const sliceParts = new Map<Tensor, SlicePart[]>();

  const run = (): void => {
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k]!;
      let g = grads.get(t);
      const parts = sliceParts.get(t);
      if (parts !== undefined) {
        sliceParts.delete(t);
        g = gatherSliceGrads(t.shape, g, parts);
        handOut(g);
      }
      if (g === undefined) continue;
      grads.delete(t);
      if (t._hooks) {
        for (const hook of [...t._hooks]) {
          const replaced = hook(g);
          if (replaced !== undefined && replaced !== null) {
            if (!shapesEqual(replaced.shape, g.shape)) {
              throw new ShapeError(
                `gradient hook returned shape ${formatShape(replaced.shape)}, expected ${formatShape(g.shape)}`,
              );
            }
            g = replaced;
          }
        }
      }
      const node = t._gradFn;
      if (node === null) {
        accumulate(t, g, createGraph, !createGraph && ownedByPass(t, g, firstId, handedOut));
        continue;
      }
      if (t._retainsGrad) accumulate(t, g, createGraph);
      const slice = createGraph ? null : node.sliceOf;
      if (slice !== null) {
        const input = node.inputs[0]!;
        if (input.requiresGrad) {
          const list = sliceParts.get(input) ?? [];
          list.push({ ...slice, grad: g });
          sliceParts.set(input, list);
        }
        if (!retain) node.release();
        continue;
      }
      const inputGrads = node.apply(g);
      node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        if (gi === null || gi === undefined || !input.requiresGrad) return;
        if (!shapesEqual(gi.shape, input.shape)) {
          throw new ShapeError(
            `internal error in the backward of '${node.name}': gradient of shape ${formatShape(gi.shape)} for an input of shape ${formatShape(input.shape)}`,
          );
        }
        const prev = grads.get(input);
        handOut(gi);
        const sum = prev === undefined ? gi : prev.add(gi);
        if (sum !== gi) handOut(sum);
        grads.set(input, sum);
      });
      if (!retain) node.release();
    }
  };
  if (createGraph) enableGrad(run);
  else noGrad(run);
}
