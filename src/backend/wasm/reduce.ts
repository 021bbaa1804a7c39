/**
 * float32 sum/max/min reductions on the wasm backend (wasm/assembly/reduce.ts): the kept dims must
 * merge into at most two and the reduced ones into one (after ref's coalesce); otherwise, for other
 * dtypes and for empty reductions, the reference kernel runs.
 */
import { sizeOf } from '../../core/shape.js';
import type { ReduceOp, View } from '../backend.js';
import { refBackend } from '../ref/index.js';
import { coalesce } from '../ref/strided.js';
import { alloc, begin, kernelsOrNull } from './instance.js';
import { copyIn, copyOut, output, outputBytes, stagedBytes } from './stage.js';

const CODES: Record<ReduceOp, number> = { sum: 0, max: 1, min: 2 };

export function reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
  const k = kernelsOrNull();
  const plan = k && x.dtype === 'float32' && out.dtype === 'float32' ? split(x, axes) : null;
  const n = plan ? plan.ni * plan.nj : 0;
  const ok = k && plan && plan.nk > 0;
  if (!ok || !begin(stagedBytes(x) + outputBytes(out, n, [x]) + plan.nj * 8 + 16)) {
    refBackend.kernels.reduce(op, x, axes, out);
    return;
  }
  if (n === 0) return;
  const px = copyIn(x);
  const po = output(out, n, [x]);
  const scratch = alloc(plan.nj * 8);
  k.reduce(CODES[op], plan.ni, plan.nj, plan.nk, px, plan.si, plan.sj, plan.sk, po, scratch);
  copyOut(po, n, out);
}

/** Kept dims merged into (ni, nj) and reduced dims into nk, with x's strides; null if they don't. */
function split(
  x: View,
  axes: readonly number[],
): { ni: number; nj: number; nk: number; si: number; sj: number; sk: number } | null {
  const keptShape: number[] = [];
  const keptStrides: number[] = [];
  const redShape: number[] = [];
  const redStrides: number[] = [];
  for (let d = 0; d < x.shape.length; d++) {
    const into = axes.includes(d) ? [redShape, redStrides] : [keptShape, keptStrides];
    into[0]!.push(x.shape[d]!);
    into[1]!.push(x.strides[d]!);
  }
  const nk = sizeOf(redShape);
  if (nk === 0) return { ni: 0, nj: 0, nk: 0, si: 0, sj: 0, sk: 0 };
  const kept = coalesce(keptShape, [keptStrides]);
  const red = coalesce(redShape, [redStrides]);
  if (kept.shape.length > 2 || red.shape.length > 1) return null;
  const two = kept.shape.length === 2;
  const ks = kept.strides[0]!;
  return {
    ni: two ? kept.shape[0]! : 1,
    nj: kept.shape[kept.shape.length - 1]!,
    nk,
    si: two ? ks[0]! : 0,
    sj: ks[ks.length - 1]!,
    sk: red.strides[0]![0]!,
  };
}
