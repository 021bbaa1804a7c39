/**
 * Helpers for the fused-kernel tests: run a computation with the fused kernels on and off (the
 * composite version is the oracle), on the reference backend and on the native one when its addon
 * is built, and compare values and gradients.
 */
import * as nb from '../../src/index.js';
import { nativeBackend, nativeBackendInfo } from '../../src/backend/native/index.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { assertClose } from '../core/helpers.js';

/** The backends to test on: ref, and native when available. */
export const BACKENDS: readonly nb.Backend[] = nativeBackendInfo().available
  ? [refBackend, nativeBackend]
  : [refBackend];

/** Runs fn with `backend` current, then restores the previous one. */
export function onBackend<T>(backend: nb.Backend, fn: () => T): T {
  const previous = nb.getBackend();
  nb.setBackend(backend);
  try {
    return fn();
  } finally {
    nb.setBackend(previous);
  }
}

/** Runs fn with the fused kernels on or off, then restores the setting. */
export function withFused<T>(on: boolean, fn: () => T): T {
  const previous = nb.F.setFusedKernels(on);
  try {
    return fn();
  } finally {
    nb.F.setFusedKernels(previous);
  }
}

export interface Run {
  /** The outputs to compare. */
  outputs: nb.Tensor[];
  /** Leaves whose gradients to compare. */
  leaves: nb.Tensor[];
}

/** Tolerances of fused-vs-composite comparisons per dtype. */
export function tol(dtype: nb.DType): [number, number] {
  return dtype === 'float64' ? [1e-12, 1e-10] : [2e-5, 2e-4];
}

/**
 * Builds the computation twice (fused on, then off), backpropagates Σ outputs·r for fixed random
 * r, and asserts equal outputs and leaf gradients. `build` must create fresh leaves each call.
 * Returns the fused run's outputs (for further checks).
 */
export function compareFused(build: () => Run, dtype: nb.DType, label = ''): nb.Tensor[] {
  const runOnce = (on: boolean): { outs: nb.Tensor[]; grads: (nb.Tensor | null)[] } =>
    withFused(on, () => {
      const { outputs, leaves } = build();
      const g = new nb.Generator(99);
      let total: nb.Tensor | null = null;
      for (const o of outputs) {
        const r = nb.randn(o.shape, { dtype: o.dtype, generator: g });
        const term = o.mul(r).sum();
        total = total ? total.add(term) : term;
      }
      total!.backward();
      return { outs: outputs.map((o) => o.detach()), grads: leaves.map((l) => l.grad) };
    });
  const fused = runOnce(true);
  const composite = runOnce(false);
  const [atol, rtol] = tol(dtype);
  fused.outs.forEach((o, i) => {
    try {
      assertClose(o, composite.outs[i]!, atol, rtol);
    } catch (e) {
      throw new Error(`${label} output ${i}: ${(e as Error).message.slice(0, 400)}`);
    }
  });
  fused.grads.forEach((g, i) => {
    const want = composite.grads[i];
    if (want === null || want === undefined) {
      if (g !== null) throw new Error(`${label} leaf ${i}: unexpected gradient`);
      return;
    }
    try {
      assertClose(g!, want, atol, rtol);
    } catch (e) {
      throw new Error(`${label} grad ${i}: ${(e as Error).message.slice(0, 400)}`);
    }
  });
  return fused.outs;
}
