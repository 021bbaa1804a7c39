/**
 * The fused training kernels on the wasm backend (wasm/assembly/fused.ts, rnn.ts): layer norm,
 * Adam, softmax-cross-entropy and the LSTM and GRU cells in WebAssembly for float32, with the
 * reference kernels' arithmetic (layer norm and Adam in float64, as ref). Inputs may have any strides; outputs the kernels write
 * contiguously must be contiguous (they are when ops allocate them). Other dtypes, layouts and
 * small calls run the reference kernels.
 */
import type { AdamParams, View } from '../backend.js';
import { refBackend } from '../ref/index.js';
import { coalesce } from '../ref/strided.js';
import { alloc, begin, kernelsOrNull, wasmTuning } from './instance.js';
import { copyIn, copyOut, stagedBytes } from './stage.js';

const ref = refBackend.kernels;

/** Whether `v` is laid out contiguously from its offset (size-1 dims may have any stride). */
function contiguous(v: View): boolean {
  let acc = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d]! !== 1 && v.strides[d] !== acc) return false;
    acc *= v.shape[d]!;
  }
  return true;
}

const f32 = (v: View | null): boolean => v === null || v.dtype === 'float32';

/** The stride of a 1-D view (0 when it has one element, whatever its stride). */
const stride1 = (v: View): number => (v.shape[0]! <= 1 ? 0 : v.strides[0]!);

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
    [y, mean, rstd].every(contiguous) &&
    R * N >= wasmTuning.minElements &&
    N > 0;
  const bytes = () =>
    stagedBytes(x) +
    (weight ? stagedBytes(weight) : 0) +
    (bias ? stagedBytes(bias) : 0) +
    (R * N + 2 * R) * 4 +
    3 * N * 8 +
    80;
  if (!ok || !begin(bytes())) {
    ref.layerNormForward(x, weight, bias, eps, y, mean, rstd);
    return;
  }
  const px = copyIn(x);
  const pw = weight ? copyIn(weight) : 0;
  const pb = bias ? copyIn(bias) : 0;
  const py = alloc(R * N * 4);
  const pm = alloc(R * 4);
  const pr = alloc(R * 4);
  const scratch = alloc(3 * N * 8);
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
    scratch,
  );
  copyOut(py, R * N, y);
  copyOut(pm, R, mean);
  copyOut(pr, R, rstd);
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
    [mean, rstd, gx].every(contiguous) &&
    (gWeight === null || contiguous(gWeight)) &&
    (gBias === null || contiguous(gBias)) &&
    R * N >= wasmTuning.minElements &&
    N > 0;
  const bytes = () =>
    stagedBytes(x) +
    (weight ? stagedBytes(weight) : 0) +
    stagedBytes(mean) +
    stagedBytes(rstd) +
    stagedBytes(gy) +
    (R * N + 2 * N) * 4 +
    6 * N * 8 +
    80;
  if (!ok || !begin(bytes())) {
    ref.layerNormBackward(x, weight, mean, rstd, gy, gx, gWeight, gBias);
    return;
  }
  const px = copyIn(x);
  const pw = weight ? copyIn(weight) : 0;
  const pm = copyIn(mean);
  const pr = copyIn(rstd);
  const pg = copyIn(gy);
  const po = alloc(R * N * 4);
  const pgw = alloc(N * 4);
  const pgb = alloc(N * 4);
  const scratch = alloc(6 * N * 8);
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
    scratch,
  );
  copyOut(po, R * N, gx);
  if (gWeight) copyOut(pgw, N, gWeight);
  if (gBias) copyOut(pgb, N, gBias);
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
  if (!ok || !begin(views.length * (n * 4 + 16) + 16)) {
    ref.adamUpdate(param, grad, expAvg, expAvgSq, maxExpAvgSq, o);
    return;
  }
  const [pp, pg, pm, pv] = [param, grad, expAvg, expAvgSq].map(copyIn) as [
    number,
    number,
    number,
    number,
  ];
  const px = maxExpAvgSq ? copyIn(maxExpAvgSq) : 0;
  const flags =
    (o.maximize ? MAXIMIZE : 0) | (o.decoupled ? DECOUPLED : 0) | (maxExpAvgSq ? AMSGRAD : 0);
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
    contiguous(loss) &&
    contiguous(lse) &&
    R * C >= wasmTuning.minElements &&
    C > 0 &&
    (ignoreIndex | 0) === ignoreIndex;
  if (!ok || !begin(stagedBytes(logits) + stagedBytes(target) + 2 * R * 4 + 48)) {
    ref.crossEntropyForward(logits, target, ignoreIndex, labelSmoothing, loss, lse);
    return;
  }
  const px = copyIn(logits);
  const pt = copyIn(target);
  const pl = alloc(R * 4);
  const ps = alloc(R * 4);
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
  );
  copyOut(pl, R, loss);
  copyOut(ps, R, lse);
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
    contiguous(gx) &&
    R * C >= wasmTuning.minElements &&
    C > 0 &&
    (ignoreIndex | 0) === ignoreIndex;
  const bytes = () =>
    stagedBytes(logits) + stagedBytes(target) + stagedBytes(lse) + stagedBytes(gLoss) + R * C * 4;
  if (!ok || !begin(bytes() + 32)) {
    ref.crossEntropyBackward(logits, target, lse, gLoss, ignoreIndex, labelSmoothing, gx);
    return;
  }
  const px = copyIn(logits);
  const pt = copyIn(target);
  const pl = copyIn(lse);
  const pg = copyIn(gLoss);
  const po = alloc(R * C * 4);
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
  );
  copyOut(po, R * C, gx);
}

/** Row and column strides of a 2-D view (0 along a dim of size 1). */
const s2 = (v: View): [number, number] => [
  v.shape[0]! <= 1 ? 0 : v.strides[0]!,
  v.shape[1]! <= 1 ? 0 : v.strides[1]!,
];

/** Stages `views` (null: absent, address 0); null when the memory cannot grow that far. */
function stage(views: (View | null)[], outBytes: number): number[] | null {
  let bytes = outBytes + 64;
  for (const v of views) if (v) bytes += stagedBytes(v);
  if (!begin(bytes)) return null;
  return views.map((v) => (v ? copyIn(v) : 0));
}

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
    contiguous(out) &&
    contiguous(gates) &&
    B * H >= wasmTuning.minElements / 4;
  const staged = ok ? stage([gi, gh, bias, c], 6 * B * H * 4) : null;
  if (!staged) {
    ref.lstmCellForward(gi, gh, bias, c, out, gates);
    return;
  }
  const [pi, ph, pb, pc] = staged as [number, number, number, number];
  const po = alloc(2 * B * H * 4);
  const pg = alloc(4 * B * H * 4);
  k!.lstmCellForward(
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
  );
  copyOut(po, 2 * B * H, out);
  copyOut(pg, 4 * B * H, gates);
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
    contiguous(dGates) &&
    contiguous(dc) &&
    B * H >= wasmTuning.minElements / 4;
  const staged = ok ? stage([gates, c, out, gH, gC], 5 * B * H * 4) : null;
  if (!staged) {
    ref.lstmCellBackward(gates, c, out, gH, gC, dGates, dc);
    return;
  }
  const [pg, pc, po, ph, pC] = staged as [number, number, number, number, number];
  const pd = alloc(4 * B * H * 4);
  const pdc = alloc(B * H * 4);
  k!.lstmCellBackward(
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
  );
  copyOut(pd, 4 * B * H, dGates);
  copyOut(pdc, B * H, dc);
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
    contiguous(out) &&
    contiguous(saved) &&
    B * H >= wasmTuning.minElements / 4;
  const staged = ok ? stage([gi, gh, bias, h], 5 * B * H * 4) : null;
  if (!staged) {
    ref.gruCellForward(gi, gh, bias, h, out, saved);
    return;
  }
  const [pi, ph, pb, phh] = staged as [number, number, number, number];
  const po = alloc(B * H * 4);
  const ps = alloc(4 * B * H * 4);
  k!.gruCellForward(
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
  );
  copyOut(po, B * H, out);
  copyOut(ps, 4 * B * H, saved);
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
    [dgi, dgh, dh].every(contiguous) &&
    B * H >= wasmTuning.minElements / 4;
  const staged = ok ? stage([saved, h, gOut], 7 * B * H * 4) : null;
  if (!staged) {
    ref.gruCellBackward(saved, h, gOut, dgi, dgh, dh);
    return;
  }
  const [ps, ph, pg] = staged as [number, number, number];
  const pi = alloc(3 * B * H * 4);
  const pgh = alloc(3 * B * H * 4);
  const pdh = alloc(B * H * 4);
  k!.gruCellBackward(B, H, ps, ...s2(saved), ph, ...s2(h), pg, ...s2(gOut), pi, pgh, pdh);
  copyOut(pi, 3 * B * H, dgi);
  copyOut(pgh, 3 * B * H, dgh);
  copyOut(pdh, B * H, dh);
}
