/**
 * The fused training kernels on the wasm backend (wasm/assembly/fused.ts, rnn.ts): layer norm,
 * Adam, softmax-cross-entropy and the LSTM and GRU cells in WebAssembly for float32, with the
 * reference kernels' arithmetic (layer norm and Adam in float64, as ref). Inputs may have any strides; outputs the kernels write
 * contiguously must be contiguous (they are when ops allocate them). Other dtypes, layouts and
 * small calls run the reference kernels.
 */
import type { AdamParams, View } from '../backend.js';
import { refBackend } from '../ref/index.js';
import { coalesce, isContiguousView } from '../ref/strided.js';
import { alloc, begin, kernelsOrNull, wasmTuning } from './instance.js';
import { copyIn, copyOut, output, outputBytes, stagedBytes } from './stage.js';

const ref = refBackend.kernels;

const f32 = (v: View | null): boolean => v === null || v.dtype === 'float32';

/** The stride of a 1-D view (0 when it has one element, whatever its stride). */
const stride1 = (v: View): number => (v.shape[0]! <= 1 ? 0 : v.strides[0]!);

/**
 * Stages `inputs` (null: absent, address 0) and finds each output's `size` float32 elements (its
 * view itself when resident, else a staging block; a view of null is not wanted: a block), in a
 * memory reserved for them and `extraBytes` more (the kernel's scratch, slack); runs `kernel` on
 * the addresses, then copies each staged output into its view. False, with nothing run, when the
 * memory cannot grow that far.
 */
function runStaged(
  inputs: readonly (View | null)[],
  outputs: readonly (readonly [size: number, view: View | null])[],
  extraBytes: number,
  kernel: (ins: number[], outs: number[]) => void,
): boolean {
  let bytes = extraBytes;
  for (const v of inputs) if (v) bytes += stagedBytes(v);
  for (const [size, view] of outputs) bytes += view ? outputBytes(view, size, inputs) : size * 4;
  if (!begin(bytes)) return false;
  const ins = inputs.map((v) => (v ? copyIn(v) : 0));
  const outs = outputs.map(([size, view]) => (view ? output(view, size, inputs) : alloc(size * 4)));
  kernel(ins, outs);
  outputs.forEach(([size, view], i) => {
    if (view) copyOut(outs[i]!, size, view);
  });
  return true;
}

export function layerNormForward(
  x: View,
  weight: View | null,
  bias: View | null,
  eps: number,
  y: View,
  mean: View,
  rstd: View,
): void {
  const k = kernelsOrNull();
  const [R, N] = x.shape as [number, number];
  const ok =
    k !== null &&
    [x, weight, bias, y, mean, rstd].every(f32) &&
    [y, mean, rstd].every(isContiguousView) &&
    R * N >= wasmTuning.minElements &&
    N > 0;
  const ran =
    ok &&
    runStaged(
      [x, weight, bias],
      [
        [R * N, y],
        [R, mean],
        [R, rstd],
      ],
      3 * N * 8 + 80,
      ([px, pw, pb], [py, pm, pr]) =>
        k.layerNormForward(
          R,
          N,
          px,
          x.strides[0]!,
          x.strides[1]!,
          pw,
          weight ? stride1(weight) : 0,
          pb,
          bias ? stride1(bias) : 0,
          eps,
          py,
          pm,
          pr,
          alloc(3 * N * 8),
        ),
    );
  if (!ran) ref.layerNormForward(x, weight, bias, eps, y, mean, rstd);
}

export function layerNormBackward(
  x: View,
  weight: View | null,
  mean: View,
  rstd: View,
  gy: View,
  gx: View,
  gWeight: View | null,
  gBias: View | null,
): void {
  const k = kernelsOrNull();
  const [R, N] = x.shape as [number, number];
  const ok =
    k !== null &&
    [x, weight, mean, rstd, gy, gx, gWeight, gBias].every(f32) &&
    [mean, rstd, gx].every(isContiguousView) &&
    (gWeight === null || isContiguousView(gWeight)) &&
    (gBias === null || isContiguousView(gBias)) &&
    R * N >= wasmTuning.minElements &&
    N > 0;
  const ran =
    ok &&
    runStaged(
      [x, weight, mean, rstd, gy],
      [
        [R * N, gx],
        [N, gWeight],
        [N, gBias],
      ],
      6 * N * 8 + 80,
      ([px, pw, pm, pr, pg], [po, pgw, pgb]) =>
        k.layerNormBackward(
          R,
          N,
          px,
          x.strides[0]!,
          x.strides[1]!,
          pw,
          weight ? stride1(weight) : 0,
          pm,
          pr,
          pg,
          gy.strides[0]!,
          gy.strides[1]!,
          po,
          gWeight ? pgw : 0,
          gBias ? pgb : 0,
          alloc(6 * N * 8),
        ),
    );
  if (!ran) ref.layerNormBackward(x, weight, mean, rstd, gy, gx, gWeight, gBias);
}

const MAXIMIZE = 1;
const DECOUPLED = 2;
const AMSGRAD = 4;

export function adamUpdate(
  param: View,
  grad: View,
  expAvg: View,
  expAvgSq: View,
  maxExpAvgSq: View | null,
  o: AdamParams,
): void {
  const k = kernelsOrNull();
  const views = maxExpAvgSq
    ? [param, grad, expAvg, expAvgSq, maxExpAvgSq]
    : [param, grad, expAvg, expAvgSq];
  let n = 1;
  for (const d of param.shape) n *= d;
  // Every operand contiguous (their dims merge into one of stride 1).
  const merged = coalesce(
    param.shape,
    views.map((v) => v.strides),
  );
  const flat = merged.shape.length === 1 && merged.strides.every((s) => s[0] === 1 || n <= 1);
  const ok = k !== null && views.every(f32) && flat && n >= wasmTuning.minElements;
  const flags =
    (o.maximize ? MAXIMIZE : 0) | (o.decoupled ? DECOUPLED : 0) | (maxExpAvgSq ? AMSGRAD : 0);
  // The kernel updates its operands in place: they are copied back (unless resident: updated in
  // place), not allocated as outputs.
  const ran =
    ok &&
    runStaged([param, grad, expAvg, expAvgSq, maxExpAvgSq], [], 16, ([pp, pg, pm, pv, px]) => {
      k.adamUpdate(
        n,
        pp,
        pg,
        pm,
        pv,
        px,
        flags,
        1 - o.beta1,
        o.beta2,
        1 - o.beta2,
        o.weightDecay,
        1 - o.lr * o.weightDecay,
        o.lr / (1 - o.beta1 ** o.step),
        Math.sqrt(1 - o.beta2 ** o.step),
        o.eps,
      );
      copyOut(pp, n, param);
      copyOut(pm, n, expAvg);
      copyOut(pv, n, expAvgSq);
      if (maxExpAvgSq) copyOut(px, n, maxExpAvgSq);
    });
  if (!ran) ref.adamUpdate(param, grad, expAvg, expAvgSq, maxExpAvgSq, o);
}

export function crossEntropyForward(
  logits: View,
  target: View,
  ignoreIndex: number,
  labelSmoothing: number,
  loss: View,
  lse: View,
): void {
  const k = kernelsOrNull();
  const [R, C] = logits.shape as [number, number];
  const ok =
    k !== null &&
    [logits, loss, lse].every(f32) &&
    target.dtype === 'int32' &&
    isContiguousView(loss) &&
    isContiguousView(lse) &&
    R * C >= wasmTuning.minElements &&
    C > 0 &&
    (ignoreIndex | 0) === ignoreIndex;
  const ran =
    ok &&
    runStaged(
      [logits, target],
      [
        [R, loss],
        [R, lse],
      ],
      48,
      ([px, pt], [pl, ps]) =>
        k.crossEntropyForward(
          R,
          C,
          px,
          logits.strides[0]!,
          logits.strides[1]!,
          pt,
          stride1(target),
          ignoreIndex,
          labelSmoothing,
          pl,
          ps,
        ),
    );
  if (!ran) ref.crossEntropyForward(logits, target, ignoreIndex, labelSmoothing, loss, lse);
}

export function crossEntropyBackward(
  logits: View,
  target: View,
  lse: View,
  gLoss: View,
  ignoreIndex: number,
  labelSmoothing: number,
  gx: View,
): void {
  const k = kernelsOrNull();
  const [R, C] = logits.shape as [number, number];
  const ok =
    k !== null &&
    [logits, lse, gLoss, gx].every(f32) &&
    target.dtype === 'int32' &&
    isContiguousView(gx) &&
    R * C >= wasmTuning.minElements &&
    C > 0 &&
    (ignoreIndex | 0) === ignoreIndex;
  const ran =
    ok &&
    runStaged([logits, target, lse, gLoss], [[R * C, gx]], 32, ([px, pt, pl, pg], [po]) =>
      k.crossEntropyBackward(
        R,
        C,
        px,
        logits.strides[0]!,
        logits.strides[1]!,
        pt,
        stride1(target),
        pl,
        stride1(lse),
        pg,
        stride1(gLoss),
        ignoreIndex,
        labelSmoothing,
        po,
      ),
    );
  if (!ran) ref.crossEntropyBackward(logits, target, lse, gLoss, ignoreIndex, labelSmoothing, gx);
}

/** Row and column strides of a 2-D view (0 along a dim of size 1). */
const s2 = (v: View): [number, number] => [
  v.shape[0]! <= 1 ? 0 : v.strides[0]!,
  v.shape[1]! <= 1 ? 0 : v.strides[1]!,
];

export function lstmCellForward(
  gi: View,
  gh: View,
  bias: View | null,
  c: View,
  out: View,
  gates: View,
): void {
  const k = kernelsOrNull();
  const [B, H] = c.shape as [number, number];
  const ok =
    k !== null &&
    [gi, gh, bias, c, out, gates].every(f32) &&
    isContiguousView(out) &&
    isContiguousView(gates) &&
    B * H >= wasmTuning.minElements / 4;
  const ran =
    ok &&
    runStaged(
      [gi, gh, bias, c],
      [
        [2 * B * H, out],
        [4 * B * H, gates],
      ],
      64,
      ([pi, ph, pb, pc], [po, pg]) =>
        k.lstmCellForward(
          B,
          H,
          pi,
          ...s2(gi),
          ph,
          ...s2(gh),
          pb,
          bias ? stride1(bias) : 0,
          pc,
          ...s2(c),
          po,
          pg,
        ),
    );
  if (!ran) ref.lstmCellForward(gi, gh, bias, c, out, gates);
}

export function lstmCellBackward(
  gates: View,
  c: View,
  out: View,
  gH: View | null,
  gC: View | null,
  dGates: View,
  dc: View,
): void {
  const k = kernelsOrNull();
  const [B, H] = c.shape as [number, number];
  const ok =
    k !== null &&
    [gates, c, out, gH, gC, dGates, dc].every(f32) &&
    isContiguousView(dGates) &&
    isContiguousView(dc) &&
    B * H >= wasmTuning.minElements / 4;
  const ran =
    ok &&
    runStaged(
      [gates, c, out, gH, gC],
      [
        [4 * B * H, dGates],
        [B * H, dc],
      ],
      64,
      ([pg, pc, po, ph, pC], [pd, pdc]) =>
        k.lstmCellBackward(
          B,
          H,
          pg,
          ...s2(gates),
          pc,
          ...s2(c),
          po,
          out.strides[0]!,
          B <= 1 ? 0 : out.strides[1]!,
          H <= 1 ? 0 : out.strides[2]!,
          ph,
          ...(gH ? s2(gH) : [0, 0]),
          pC,
          ...(gC ? s2(gC) : [0, 0]),
          pd,
          pdc,
        ),
    );
  if (!ran) ref.lstmCellBackward(gates, c, out, gH, gC, dGates, dc);
}

export function gruCellForward(
  gi: View,
  gh: View,
  bias: View | null,
  h: View,
  out: View,
  saved: View,
): void {
  const k = kernelsOrNull();
  const [B, H] = h.shape as [number, number];
  const ok =
    k !== null &&
    [gi, gh, bias, h, out, saved].every(f32) &&
    isContiguousView(out) &&
    isContiguousView(saved) &&
    B * H >= wasmTuning.minElements / 4;
  const ran =
    ok &&
    runStaged(
      [gi, gh, bias, h],
      [
        [B * H, out],
        [4 * B * H, saved],
      ],
      64,
      ([pi, ph, pb, phh], [po, ps]) =>
        k.gruCellForward(
          B,
          H,
          pi,
          ...s2(gi),
          ph,
          ...s2(gh),
          pb,
          bias ? stride1(bias) : 0,
          phh,
          ...s2(h),
          po,
          ps,
        ),
    );
  if (!ran) ref.gruCellForward(gi, gh, bias, h, out, saved);
}

export function gruCellBackward(
  saved: View,
  h: View,
  gOut: View,
  dgi: View,
  dgh: View,
  dh: View,
): void {
  const k = kernelsOrNull();
  const [B, H] = h.shape as [number, number];
  const ok =
    k !== null &&
    [saved, h, gOut, dgi, dgh, dh].every(f32) &&
    [dgi, dgh, dh].every(isContiguousView) &&
    B * H >= wasmTuning.minElements / 4;
  const ran =
    ok &&
    runStaged(
      [saved, h, gOut],
      [
        [3 * B * H, dgi],
        [3 * B * H, dgh],
        [B * H, dh],
      ],
      64,
      ([ps, ph, pg], [pi, pgh, pdh]) =>
        k.gruCellBackward(B, H, ps, ...s2(saved), ph, ...s2(h), pg, ...s2(gOut), pi, pgh, pdh),
    );
  if (!ran) ref.gruCellBackward(saved, h, gOut, dgi, dgh, dh);
}
