/**
 * nb.lab.countOps: exact counts of the scalar multiplications, additions and other operations that
 * code performs, per op, forward and backward — in the spirit of PyTorch's FlopCounterMode
 * (torch/utils/flop_counter.py), which counts each aten op with a formula of its shapes.
 *
 * Mechanism: while `fn` runs, every kernel of the active backend's `Kernels` table is wrapped by a
 * counter that evaluates a closed-form cost from the kernel's shapes (matmul (Bt, M, K)·(Bt, K, N)
 * is Bt·M·N·K multiplications and Bt·M·N·(K − 1) additions, whatever loop order the backend
 * uses), and the tape listener of src/autograd/node.ts says which op each kernel call belongs to:
 * - forward: a kernel is named after what it computes (`matmul`, `exp`, `sum`, `gt`, `copy`, ...)
 *   and renamed after the op that records it when it wrote that op's output (a `copy` into the
 *   output of `cat` is counted under `cat`);
 * - backward: every kernel that runs inside the backward closure of a node is counted under that
 *   node's op name (the backward of `matmul` = its two products); seeding and gradient
 *   accumulation between steps are counted under `accumulate`.
 * `labelOps(label, fn)` prefixes the ops run inside fn (`attention/matmul`); the prefix follows
 * an op into backward.
 *
 * Costs per kernel call (n = elements written, r = length reduced over):
 * - matmul: mul Bt·M·N·K, add Bt·M·N·(K − 1);
 * - binary add/sub: add n; mul: mul n; every other binary op (div, pow, max, comparisons, logic):
 *   other n; unary square: mul n; every other unary function (exp, sigmoid, relu, neg, ...):
 *   other n; where: other n;
 * - reduce sum: add (n)·(r − 1); max/min and argmax/argmin: other n·(r − 1);
 * - indexAdd/scatterAdd: add (elements of src); copy, cast, fill, indexSelect, gather: data
 *   movement only (0 arithmetic, but the call is counted).
 */
import { type GradNode, setTapeListener, type TapeListener } from '../autograd/node.js';
import type {
  Backend,
  BinaryOp,
  KernelName,
  Kernels,
  Storage,
  UnaryOp,
  View,
} from '../backend/backend.js';
import { getBackend } from '../backend/registry.js';
import { ValueError } from '../core/errors.js';
import type { Tensor } from '../tensor.js';

/** Scalar operations attributed to one op (or a total). */
export interface OpCount {
  /** Scalar multiplications. */
  mul: number;
  /** Scalar additions and subtractions. */
  add: number;
  /** Every other scalar operation (division, exp, comparisons, max, ...), one per element. */
  other: number;
  /** Kernel calls. */
  calls: number;
}

export type OpPhase = 'forward' | 'backward';

/** One counted kernel call. */
export interface KernelEvent {
  /** The op it is attributed to, with its label prefix (`attention/matmul`). */
  op: string;
  /** What the kernel computed: `matmul`, `binary:mul`, `unary:exp`, `reduce:sum`, `copy`, .... */
  kernel: string;
  phase: OpPhase;
  /** The shapes the kernel saw: its inputs, then its output (matmul: (Bt, M, K), (Bt, K, N), (Bt, M, N)). */
  shapes: number[][];
  mul: number;
  add: number;
  other: number;
}

/** The result of {@link countOps}. */
export interface OpCountReport<T> {
  /** What `fn` returned. */
  result: T;
  /** Counts per op in the forward computation. */
  forward: Record<string, OpCount>;
  /** Counts per op (the op whose gradient was computed) in backward passes. */
  backward: Record<string, OpCount>;
  totals: { forward: OpCount; backward: OpCount; all: OpCount };
  /** Every kernel call in order. */
  events: KernelEvent[];
}

export interface CountOpsOptions {
  /** Backends whose kernels are counted (default: the current one). */
  backends?: readonly Backend[];
}

interface Cost {
  kernel: string;
  mul: number;
  add: number;
  other: number;
  /** The storage the kernel wrote (to match it with the op that records its output). */
  written: Storage;
  shapes: number[][];
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function cost(
  kernel: string,
  out: View,
  inputs: readonly View[],
  counts: { mul?: number; add?: number; other?: number },
): Cost {
  return {
    kernel,
    mul: counts.mul ?? 0,
    add: counts.add ?? 0,
    other: counts.other ?? 0,
    written: out.storage,
    shapes: [...inputs.map((v) => [...v.shape]), [...out.shape]],
  };
}

const MUL_UNARY: ReadonlySet<UnaryOp> = new Set<UnaryOp>(['square']);
const ADD_BINARY: ReadonlySet<BinaryOp> = new Set<BinaryOp>(['add', 'sub']);

/** Reduction length of `x` over `axes` and the number of outputs. */
function reduction(x: View, axes: readonly number[], out: View): { outputs: number; r: number } {
  return { outputs: sizeOf(out.shape), r: sizeOf(axes.map((a) => x.shape[a]!)) };
}

/**
 * The cost formula of every kernel. A mapped type over KernelName: a kernel added to the backend
 * interface without a formula here fails type-checking.
 */
const COSTS: { [K in KernelName]: (...args: Parameters<Kernels[K]>) => Cost } = {
  fill: (out) => cost('fill', out, [], {}),
  copy: (src, dst) => cost(src.dtype === dst.dtype ? 'copy' : 'cast', dst, [src], {}),
  unary: (op, x, out) => {
    const n = sizeOf(out.shape);
    return cost(`unary:${op}`, out, [x], MUL_UNARY.has(op) ? { mul: n } : { other: n });
  },
  binary: (op, a, b, out) => {
    const n = sizeOf(out.shape);
    const counts = ADD_BINARY.has(op) ? { add: n } : op === 'mul' ? { mul: n } : { other: n };
    return cost(`binary:${op}`, out, [a, b], counts);
  },
  where: (cond, a, b, out) => cost('where', out, [cond, a, b], { other: sizeOf(out.shape) }),
  reduce: (op, x, axes, out) => {
    const { outputs, r } = reduction(x, axes, out);
    const n = outputs * Math.max(r - 1, 0);
    return cost(`reduce:${op}`, out, [x], op === 'sum' ? { add: n } : { other: n });
  },
  argReduce: (op, x, axis, out) => {
    const { outputs, r } = reduction(x, [axis], out);
    return cost(`argReduce:${op}`, out, [x], { other: outputs * Math.max(r - 1, 0) });
  },
  // With a bias (a linear layer), one more addition per output element.
  matmul: (a, b, out, bias) => {
    const [bt, m, n] = out.shape as [number, number, number];
    const k = a.shape[2]!;
    return cost('matmul', out, bias ? [a, b, bias] : [a, b], {
      mul: bt * m * n * k,
      add: bt * m * n * (Math.max(k - 1, 0) + (bias ? 1 : 0)),
    });
  },
  indexSelect: (x, _axis, index, out) => cost('indexSelect', out, [x, index], {}),
  indexAdd: (out, _axis, index, src) =>
    cost('indexAdd', out, [index, src], { add: sizeOf(src.shape) }),
  gather: (x, _axis, index, out) => cost('gather', out, [x, index], {}),
  scatterAdd: (out, _axis, index, src) =>
    cost('scatterAdd', out, [index, src], { add: sizeOf(src.shape) }),
  // Fused attention, counted as if no pair were masked (the kernels skip masked ones): forward
  // q·kᵀ and p·v; backward recomputes q·kᵀ and forms dv, dp, dq, dk.
  attentionForward: (q, k, v, _allowed, _bias, _params, out) => {
    const { pairs, E, Ev } = attentionSizes(q, k, v);
    return cost('attentionForward', out, [q, k, v], {
      mul: pairs * (E + Ev),
      add: pairs * (E + Ev),
      other: pairs,
    });
  },
  attentionBackward: (q, k, v, _allowed, _bias, _params, _out, _lse, dOut, dq) => {
    const { pairs, E, Ev } = attentionSizes(q, k, v);
    return cost('attentionBackward', dq, [q, k, v, dOut], {
      mul: pairs * (3 * E + 2 * Ev + 2),
      add: pairs * (3 * E + 2 * Ev + 1),
      other: pairs,
    });
  },
  // Fused training kernels: approximate per-element counts (transcendentals count as 'other').
  layerNormForward: (x, _w, _b, _eps, y) => {
    const n = sizeOf(x.shape);
    return cost('layerNormForward', y, [x], { mul: 3 * n, add: 4 * n, other: x.shape[0]! });
  },
  layerNormBackward: (x, _w, _m, _r, gy, gx) => {
    const n = sizeOf(x.shape);
    return cost('layerNormBackward', gx, [x, gy], { mul: 6 * n, add: 6 * n });
  },
  crossEntropyForward: (x, t, _i, _e, loss) => {
    const n = sizeOf(x.shape);
    return cost('crossEntropyForward', loss, [x, t], { add: 3 * n, other: n });
  },
  crossEntropyBackward: (x, t, _l, _g, _i, _e, gx) => {
    const n = sizeOf(x.shape);
    return cost('crossEntropyBackward', gx, [x, t], { mul: n, add: 2 * n, other: n });
  },
  lstmCellForward: (gi, gh, _b, c, out) => {
    const n = sizeOf(c.shape);
    return cost('lstmCellForward', out, [gi, gh, c], { mul: 3 * n, add: 9 * n, other: 5 * n });
  },
  lstmCellBackward: (gates, c, _out, _gH, _gC, dGates) => {
    const n = sizeOf(c.shape);
    return cost('lstmCellBackward', dGates, [gates, c], {
      mul: 16 * n,
      add: 6 * n,
      other: n,
    });
  },
  gruCellForward: (gi, gh, _b, h, out) => {
    const n = sizeOf(h.shape);
    return cost('gruCellForward', out, [gi, gh, h], { mul: 2 * n, add: 8 * n, other: 3 * n });
  },
  gruCellBackward: (saved, h, gOut, dgi) => {
    const n = sizeOf(h.shape);
    return cost('gruCellBackward', dgi, [saved, h, gOut], { mul: 12 * n, add: 6 * n });
  },
  adamUpdate: (param, grad) => {
    const n = sizeOf(param.shape);
    return cost('adamUpdate', param, [param, grad], { mul: 6 * n, add: 5 * n, other: 2 * n });
  },
};

/** Query–key pairs (over the batch) and feature sizes of a fused attention call. */
function attentionSizes(q: View, k: View, v: View): { pairs: number; E: number; Ev: number } {
  const nd = q.shape.length;
  const pairs = (sizeOf(q.shape) / q.shape[nd - 1]!) * k.shape[nd - 2]!;
  return { pairs, E: q.shape[nd - 1]!, Ev: v.shape[nd - 1]! };
}

/** The op name a kernel gets before (or without) an op recording it. */
function kernelOpName(kernel: string): string {
  const i = kernel.indexOf(':');
  return i < 0 ? kernel : kernel.slice(i + 1);
}

// ---- Labels -----------------------------------------------------------------------------------

const labels: string[] = [];

function labelPrefix(): string {
  return labels.length === 0 ? '' : `${labels.join('/')}/`;
}

/**
 * Runs `fn` with its ops counted under `label/…` by an enclosing {@link countOps} (labels nest:
 * `outer/inner/matmul`); their backward keeps the label. Without an active count it only runs fn.
 *
 * @example
 * const r = nb.lab.countOps(() => nb.lab.labelOps('scores', () => q.matmul(k.mT)));
 * r.forward['scores/matmul'].mul; // T·T·D
 */
export function labelOps<T>(label: string, fn: () => T): T {
  labels.push(label);
  try {
    return fn();
  } finally {
    labels.pop();
  }
}

// ---- The counting layer -----------------------------------------------------------------------

interface Counter {
  events: KernelEvent[];
}

interface PendingEvent {
  event: KernelEvent;
  written: Storage;
  prefix: string;
}

const counters: Counter[] = [];
const wrapped = new Map<Kernels, { restore: () => void; users: number }>();
/** Label prefix of each recorded node, so that backward counts keep the forward label. */
let nodePrefix = new WeakMap<GradNode, string>();
/** Forward kernel calls since the last recorded op. */
let pending: PendingEvent[] = [];
/** Backward closures running (innermost last) and backward passes open. */
const steps: GradNode[] = [];
let passes = 0;
let previousListener: TapeListener | null = null;

function onKernel(c: Cost): void {
  if (counters.length === 0) return;
  const step = steps[steps.length - 1];
  let phase: OpPhase = 'forward';
  let op: string;
  if (step !== undefined) {
    phase = 'backward';
    op = `${nodePrefix.get(step) ?? labelPrefix()}${step.name}`;
  } else if (passes > 0) {
    phase = 'backward';
    op = `${labelPrefix()}accumulate`;
  } else {
    op = `${labelPrefix()}${kernelOpName(c.kernel)}`;
  }
  const event: KernelEvent = {
    op,
    kernel: c.kernel,
    phase,
    shapes: c.shapes,
    mul: c.mul,
    add: c.add,
    other: c.other,
  };
  for (const counter of counters) counter.events.push(event);
  if (phase === 'forward') pending.push({ event, written: c.written, prefix: labelPrefix() });
}

const listener: TapeListener = {
  op(name: string, out: Tensor): void {
    previousListener?.op(name, out);
    if (steps.length > 0) return; // ops inside a backward closure belong to that node
    const storage = out._buffer.handle;
    for (const p of pending) if (p.written === storage) p.event.op = `${p.prefix}${name}`;
    pending = [];
    if (out.gradFn !== null) nodePrefix.set(out.gradFn, labelPrefix());
  },
  backwardStep(node: GradNode, entering: boolean): void {
    previousListener?.backwardStep(node, entering);
    if (entering) steps.push(node);
    else steps.pop();
  },
  backwardPass(entering: boolean): void {
    previousListener?.backwardPass(entering);
    passes += entering ? 1 : -1;
    pending = [];
  },
};

function wrapKernel<K extends KernelName>(table: Kernels, name: K, original: Kernels[K]): void {
  const run = original as unknown as (...args: Parameters<Kernels[K]>) => void;
  const costOf = COSTS[name] as (...args: Parameters<Kernels[K]>) => Cost;
  const counted = (...args: Parameters<Kernels[K]>): void => {
    run.apply(table, args);
    onKernel(costOf(...args));
  };
  table[name] = counted as unknown as Kernels[K];
}

function wrapTable(table: Kernels): void {
  const entry = wrapped.get(table);
  if (entry) {
    entry.users++;
    return;
  }
  const originals: Kernels = { ...table };
  for (const name of Object.keys(COSTS) as KernelName[]) wrapKernel(table, name, originals[name]);
  wrapped.set(table, { restore: () => Object.assign(table, originals), users: 1 });
}

function unwrapTable(table: Kernels): void {
  const entry = wrapped.get(table);
  if (!entry) return;
  if (--entry.users === 0) {
    entry.restore();
    wrapped.delete(table);
  }
}

function emptyCount(): OpCount {
  return { mul: 0, add: 0, other: 0, calls: 0 };
}

function addTo(target: OpCount, e: { mul: number; add: number; other: number }): void {
  target.mul += e.mul;
  target.add += e.add;
  target.other += e.other;
  target.calls += 1;
}

/**
 * Per-op tables and totals of a list of kernel events (e.g. a filtered `report.events`).
 *
 * @example
 * const r = nb.lab.countOps(() => model.forward(x));
 * nb.lab.summarizeEvents(r.events.filter((e) => e.kernel === 'matmul')).totals.forward.mul;
 */
export function summarizeEvents(
  events: readonly KernelEvent[],
): Omit<OpCountReport<unknown>, 'result' | 'events'> {
  const forward: Record<string, OpCount> = {};
  const backward: Record<string, OpCount> = {};
  const totals = { forward: emptyCount(), backward: emptyCount(), all: emptyCount() };
  for (const e of events) {
    const table = e.phase === 'forward' ? forward : backward;
    addTo((table[e.op] ??= emptyCount()), e);
    addTo(totals[e.phase], e);
    addTo(totals.all, e);
  }
  return { forward, backward, totals };
}

/**
 * Runs `fn` and counts, exactly, the scalar operations of every backend kernel it calls, per op,
 * separately for forward computation and backward passes (see the file header for the formulas
 * and the attribution rules). Counts nest: an inner countOps sees its own calls, the outer one all.
 * Kernels of backends other than `options.backends` (default: the current one) are not counted.
 *
 * @example
 * const x = nb.randn([4, 3]);
 * const w = nb.randn([3, 5], { requiresGrad: true });
 * const r = nb.lab.countOps(() => x.matmul(w).sum().backward());
 * r.forward.matmul; // { mul: 60, add: 40, other: 0, calls: 1 }
 * r.backward.matmul.mul; // 60: xᵀ·g (only w needs a gradient)
 */
export function countOps<T>(fn: () => T, options: CountOpsOptions = {}): OpCountReport<T> {
  const tables = [...new Set((options.backends ?? [getBackend()]).map((b) => b.kernels))];
  const counter: Counter = { events: [] };
  if (counters.length === 0) {
    previousListener = setTapeListener(listener);
    pending = [];
    nodePrefix = new WeakMap();
  }
  counters.push(counter);
  for (const t of tables) wrapTable(t);
  let result: T;
  try {
    result = fn();
  } finally {
    for (const t of tables) unwrapTable(t);
    counters.splice(counters.indexOf(counter), 1);
    if (counters.length === 0) {
      setTapeListener(previousListener);
      previousListener = null;
      pending = [];
    }
  }
  if (result instanceof Promise) {
    throw new ValueError(
      'countOps(fn): fn must be synchronous (kernels are counted while it runs)',
    );
  }
  return { result, ...summarizeEvents(counter.events), events: counter.events };
}
