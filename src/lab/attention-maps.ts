/**
 * Attention maps of a model on a text: every attention module's weights, per layer and head,
 * captured while the model runs (forward hooks, so the model's own code path computes them), a
 * table of numbers per head (entropy, attended distance, weight on the previous, first and same
 * token) and Vega-Lite heat maps with the tokens on the axes. Works on any model built from
 * `nn.MultiheadAttention` (nn.Transformer and its stacks, `models.TransformerSeq2Seq`) or from
 * `models.CausalSelfAttention` (`models.GPT`). Head taxonomy after Clark et al. (2019), "What Does
 * BERT Look At?", Voita et al. (2019) and Olsson et al. (2022, previous-token heads); the first
 * token as an attention sink after Xiao et al. (2023).
 */
import { noGrad } from '../autograd/grad-mode.js';
import { ShapeError, ValueError } from '../core/errors.js';
import { scope } from '../memory.js';
import { tensor } from '../ops/creation.js';
import { where } from '../ops/elementwise.js';
import { causalAllowed } from '../nn/attention.js';
import { CausalSelfAttention } from '../models/gpt.js';
import { TransformerSeq2Seq } from '../models/seq2seq.js';
import type { Module } from '../nn/module.js';
import {
  MultiheadAttention,
  type MultiheadAttentionForwardOptions,
} from '../nn/multihead-attention.js';
import { Tensor } from '../tensor.js';
import { fmtNum, toJson, type LabReport, type LabTable } from './experiments.js';
import type { Json, VegaLiteSpec } from './plots.js';

/** One attention module's weights on one sequence. */
export interface AttentionMap {
  /** Dotted module path (`transformer.h.0.attn`, `transformer.decoder.layers.1.multihead_attn`). */
  module: string;
  /** The path with its layer index replaced by `*`: the maps of one stack share it. */
  group: string;
  /** Index of the layer within its group (the first number in the path; 0 if none). */
  layer: number;
  /** Self-attention (queries and keys from one sequence) or cross-attention. */
  kind: 'self' | 'cross';
  /** Self-attention whose weights above the diagonal are all exactly 0. */
  causal: boolean;
  numHeads: number;
  queryLabels: string[];
  keyLabels: string[];
  /** weights[h][i][j]: head h, query i, key j (rows sum to 1). */
  weights: number[][][];
}

export interface AttentionMapsOptions {
  /** Labels of `tokens` for the axes (default: the ids). */
  labels?: readonly string[];
  /** `TransformerSeq2Seq`: the decoder's input ids (BOS first); required for that model. */
  target?: readonly number[] | Int32Array;
  /** Labels of `target`. */
  targetLabels?: readonly string[];
  /**
   * Runs the model on the tokens (int32, shape (1, T)); default: `forward(tokens)` for a GPT or
   * any other model, `forward(tokens, target)` for a TransformerSeq2Seq.
   */
  run?: (model: Module, tokens: Tensor) => unknown;
}

export interface AttentionMapsResult {
  tokens: number[];
  labels: string[];
  target: number[] | null;
  targetLabels: string[] | null;
  /** In the order the modules ran. */
  maps: AttentionMap[];
}

/** The numbers of one head. */
export interface AttentionHeadStats {
  module: string;
  group: string;
  layer: number;
  head: number;
  kind: 'self' | 'cross';
  /** Mean over queries of −Σ_j w_ij·ln w_ij (nats): 0 when a query sees one key. */
  entropy: number;
  /** Mean over queries of ln(number of keys with non-zero weight): the entropy if uniform. */
  uniformEntropy: number;
  /** Mean over queries of max_j w_ij. */
  maxWeight: number;
  /** Self-attention: mean over queries of Σ_j w_ij·|i − j|; null for cross-attention. */
  meanDistance: number | null;
  /** Self-attention: mean over queries i ≥ 1 of w_{i,i−1}. */
  previousToken: number | null;
  /** Mean of w_{i,0} over queries (i ≥ 1 for self-attention, where row 0 of a causal map is forced). */
  firstToken: number;
  /** Self-attention: mean over queries of w_ii. */
  sameToken: number | null;
  /** max_i |Σ_j w_ij − 1|. */
  rowSumError: number;
}

type AttentionModule = MultiheadAttention | CausalSelfAttention;

const isAttention = (m: Module): m is AttentionModule =>
  m instanceof MultiheadAttention || m instanceof CausalSelfAttention;

/** (B, H, L, S) or (H, L, S) weights → the first sequence's H × L × S nested arrays. */
function firstSequence(w: Tensor): number[][][] {
  const [H, L, S] = w.shape.slice(-3) as [number, number, number];
  const data = w.contiguous().dataSync();
  return Array.from({ length: H }, (_, h) =>
    Array.from({ length: L }, (_, i) =>
      Array.from(data.subarray((h * L + i) * S, (h * L + i + 1) * S), Number),
    ),
  );
}

/**
 * MultiheadAttention: the module's own forward again, asked for per-head weights. The class's
 * method is called directly, so the hooked instance method (and this hook) does not run twice.
 */
function mhaWeights(m: MultiheadAttention, args: readonly unknown[]): [number[][][], boolean] {
  const [q, k, v, o] = args as [Tensor, Tensor, Tensor, MultiheadAttentionForwardOptions?];
  const [, w] = MultiheadAttention.prototype.forward.call(m, q, k, v, {
    ...o,
    needWeights: true,
    averageAttnWeights: false,
  });
  return [firstSequence(w!), q === k];
}

/**
 * CausalSelfAttention (GPT) returns no weights: they are recomputed from its input with its own
 * `c_attn` projection and formula, softmax(q·kᵀ/√D) under the causal mask. The test checks that
 * these weights times the values, through `c_proj`, give the module's output.
 */
function causalWeights(m: CausalSelfAttention, args: readonly unknown[]): number[][][] {
  const [x, cache] = args as [Tensor, unknown];
  if (cache) throw new ValueError('attentionMaps: run the model without a KV cache');
  const [B, T, C] = x.shape as [number, number, number];
  const H = m.nHead;
  const D = C / H;
  const [q0, k0] = m.cAttn.forward(x).split(C, 2) as [Tensor, Tensor, Tensor];
  const q = q0.view(B, T, H, D).transpose(1, 2); // (B, H, T, D)
  const k = k0.view(B, T, H, D).transpose(1, 2); // (B, H, T, D)
  const scores = q.matmul(k.mT).mul(1 / Math.sqrt(D)); // (B, H, T, T)
  const att = where(causalAllowed(T, T), scores, -Infinity).softmax(-1); // (B, H, T, T)
  return firstSequence(att);
}

function isCausal(w: number[][][]): boolean {
  return w.every((rows) => rows.every((row, i) => row.every((x, j) => j <= i || x === 0)));
}

/** Printable axis labels: whitespace made visible. */
function visible(label: string): string {
  return label.replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/ /g, '␣') || '∅';
}

function toIds(tokens: readonly number[] | Int32Array | Tensor): number[] {
  if (tokens instanceof Tensor) {
    if (!(tokens.ndim === 1 || (tokens.ndim === 2 && tokens.shape[0] === 1)))
      throw new ShapeError(
        `attentionMaps: tokens must be one sequence, (T) or (1, T), got shape [${tokens.shape.join(', ')}]`,
      );
    return Array.from(tokens.dataSync(), Number);
  }
  return Array.from(tokens, Number);
}

/**
 * Runs `model` on one token sequence and returns the attention weights of every attention
 * module, per head (the first sequence of the batch when a custom `run` passes several). The
 * model runs in eval mode (no dropout) without autograd; its mode is restored afterwards.
 *
 * @example
 * const gpt = new nb.models.GPT({ ...nb.models.gptPresets.tiny, vocabSize: 10 });
 * const { maps } = nb.lab.attentionMaps(gpt, [1, 2, 3, 4]);
 * maps[0].weights[0]; // head 0 of layer 0: 4 × 4, lower-triangular, rows sum to 1
 */
export function attentionMaps(
  model: Module,
  tokens: readonly number[] | Int32Array | Tensor,
  options: AttentionMapsOptions = {},
): AttentionMapsResult {
  const ids = toIds(tokens);
  if (ids.length === 0) throw new ValueError('attentionMaps: tokens is empty');
  const target = options.target ? Array.from(options.target, Number) : null;
  const seq2seq = model instanceof TransformerSeq2Seq;
  if (seq2seq && !target && !options.run)
    throw new ValueError(
      'attentionMaps: a TransformerSeq2Seq needs options.target, the decoder input ids (BOS first)',
    );
  const labelsOf = (xs: number[], given: readonly string[] | undefined, what: string): string[] => {
    if (given && given.length !== xs.length)
      throw new ValueError(
        `attentionMaps: ${what} has ${given.length} labels for ${xs.length} tokens`,
      );
    return (given ?? xs.map(String)).map(visible);
  };
  const labels = labelsOf(ids, options.labels, 'labels');
  const targetLabels = target ? labelsOf(target, options.targetLabels, 'targetLabels') : null;

  const modules = [...model.namedModules()].filter(([, m]) => isAttention(m));
  if (modules.length === 0)
    throw new ValueError(
      `attentionMaps: ${model.constructor.name} has no MultiheadAttention or CausalSelfAttention module`,
    );
  const maps: AttentionMap[] = [];
  const handles = modules.map(([path, m]) =>
    m.registerForwardHook((mod, args) => {
      const [weights, self] =
        mod instanceof CausalSelfAttention
          ? [causalWeights(mod, args), true]
          : mhaWeights(mod as MultiheadAttention, args);
      const [, L, S] = [weights.length, weights[0]!.length, weights[0]![0]!.length];
      // Encoder–decoder: the decoder's queries (and self-attention keys) are the target.
      const decoder = seq2seq && /(^|\.)decoder(\.|$)/.test(path);
      const pick = (n: number, useTarget: boolean): string[] => {
        const l = useTarget && targetLabels ? targetLabels : labels;
        return l.length === n ? l : Array.from({ length: n }, (_, i) => String(i));
      };
      const layerMatch = /\.(\d+)(\.|$)/.exec(path);
      maps.push({
        module: path,
        group: path.replace(/\.\d+(\.|$)/, '.*$1'),
        layer: layerMatch ? Number(layerMatch[1]) : 0,
        kind: self ? 'self' : 'cross',
        causal: self && L === S && isCausal(weights),
        numHeads: weights.length,
        queryLabels: pick(L, decoder),
        keyLabels: pick(S, decoder && self),
        weights,
      });
    }),
  );
  const training = model.training;
  model.eval();
  try {
    noGrad(() =>
      scope(() => {
        const x = tensor(Int32Array.from(ids), { shape: [1, ids.length] });
        if (options.run) options.run(model, x);
        else if (seq2seq)
          model.forward(x, tensor(Int32Array.from(target!), { shape: [1, target!.length] }));
        else (model as unknown as { forward(x: Tensor): unknown }).forward(x);
      }),
    );
  } finally {
    for (const h of handles) h.remove();
    model.train(training);
  }
  if (maps.length === 0) throw new ValueError('attentionMaps: the run called no attention module');
  return { tokens: ids, labels, target, targetLabels, maps };
}

/**
 * The numbers of every head of one map.
 *
 * @example
 * const stats = nb.lab.attentionHeadStats(nb.lab.attentionMaps(gpt, [1, 2, 3]).maps[0]);
 */
export function attentionHeadStats(map: AttentionMap): AttentionHeadStats[] {
  const self = map.kind === 'self';
  return map.weights.map((rows, head) => {
    let entropy = 0;
    let uniform = 0;
    let maxW = 0;
    let dist = 0;
    let same = 0;
    let prev = 0;
    let first = 0;
    let firstRows = 0;
    let rowSumError = 0;
    rows.forEach((row, i) => {
      let sum = 0;
      let nonZero = 0;
      let m = 0;
      row.forEach((w, j) => {
        sum += w;
        if (w > 0) {
          nonZero++;
          entropy -= w * Math.log(w);
        }
        m = Math.max(m, w);
        dist += w * Math.abs(i - j);
      });
      rowSumError = Math.max(rowSumError, Math.abs(sum - 1));
      uniform += Math.log(Math.max(nonZero, 1));
      maxW += m;
      if (self) {
        same += row[i] ?? 0;
        if (i >= 1) prev += row[i - 1]!;
      }
      if (!self || i >= 1) {
        first += row[0]!;
        firstRows++;
      }
    });
    const L = rows.length;
    return {
      module: map.module,
      group: map.group,
      layer: map.layer,
      head,
      kind: map.kind,
      entropy: entropy / L,
      uniformEntropy: uniform / L,
      maxWeight: maxW / L,
      meanDistance: self ? dist / L : null,
      previousToken: self ? (L > 1 ? prev / (L - 1) : 0) : null,
      firstToken: firstRows > 0 ? first / firstRows : rows[0]![0]!,
      sameToken: self ? same / L : null,
      rowSumError,
    };
  });
}

/** A readable name of a group of maps. */
export function attentionGroupTitle(map: Pick<AttentionMap, 'group' | 'kind' | 'causal'>): string {
  const what = map.kind === 'cross' ? 'cross-attention' : 'self-attention';
  const where = /(^|\.)encoder\./.test(map.group)
    ? 'encoder '
    : /(^|\.)decoder\./.test(map.group)
      ? 'decoder '
      : '';
  return `${where}${what}${map.causal ? ' (causal)' : ''}`;
}

const labelExpr = (labels: readonly string[]): string => `${JSON.stringify(labels)}[datum.value]`;

/**
 * Heat maps of one group of maps (same group and sequences): one cell per layer (rows) and head
 * (columns), query tokens down, key tokens across, colour = weight in [0, 1].
 *
 * @example
 * const { maps } = nb.lab.attentionMaps(gpt, [1, 2, 3, 4]);
 * const spec = nb.lab.attentionMapSpec(maps, 'self-attention');
 */
export function attentionMapSpec(maps: readonly AttentionMap[], title: string): VegaLiteSpec {
  if (maps.length === 0) throw new ValueError('attentionMapSpec: no maps');
  const { queryLabels, keyLabels } = maps[0]!;
  const L = queryLabels.length;
  const S = keyLabels.length;
  const values: Json[] = [];
  for (const m of maps) {
    if (m.queryLabels.length !== L || m.keyLabels.length !== S)
      throw new ShapeError('attentionMapSpec: the maps of one plot must have the same sequences');
    m.weights.forEach((rows, head) =>
      rows.forEach((row, i) =>
        row.forEach((w, j) => {
          // Masked pairs (exactly 0) are left blank, which also keeps the SVG small.
          if (w > 0) values.push({ layer: m.layer, head, i, j, w: Number(w.toPrecision(4)) });
        }),
      ),
    );
  }
  const cell = Math.max(9, Math.min(18, Math.floor(320 / Math.max(L, S))));
  // Labels longer than a cell is wide are slanted.
  const slant = Math.max(...keyLabels.map((l) => l.length)) > 2 ? -45 : 0;
  const range = (n: number): Json[] => Array.from({ length: n }, (_, i) => i);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    facet: {
      row: { field: 'layer', type: 'ordinal', title: 'layer' },
      column: { field: 'head', type: 'ordinal', title: 'head' },
    },
    spec: {
      width: cell * S,
      height: cell * L,
      mark: { type: 'rect', aria: false },
      encoding: {
        x: {
          field: 'j',
          type: 'ordinal',
          title: 'key',
          scale: { domain: range(S) },
          axis: { labelExpr: labelExpr(keyLabels), labelAngle: slant, labelFontSize: 9 },
        },
        y: {
          field: 'i',
          type: 'ordinal',
          title: 'query',
          scale: { domain: range(L) },
          axis: { labelExpr: labelExpr(queryLabels), labelFontSize: 9 },
        },
        color: {
          field: 'w',
          type: 'quantitative',
          title: 'weight',
          scale: { scheme: 'blues', domain: [0, 1] },
        },
      },
    },
    config: { view: { strokeWidth: 0 } },
  };
}

/** Maps grouped by `group`, in order of first appearance. */
function byGroup(maps: readonly AttentionMap[]): AttentionMap[][] {
  const groups = new Map<string, AttentionMap[]>();
  for (const m of maps) groups.set(m.group, [...(groups.get(m.group) ?? []), m]);
  return [...groups.values()];
}

export interface AttentionMapsReportOptions {
  /** One line on the model (shown in the report). */
  description?: string;
  /** Wall time to report, seconds (default 0). */
  seconds?: number;
}

const fmtOpt = (x: number | null): string => (x === null ? '—' : fmtNum(x, 3));

/**
 * The lab report of captured attention maps: the theory, one table per head, a heat map per group.
 *
 * @example
 * const report = nb.lab.attentionMapsReport(nb.lab.attentionMaps(gpt, [1, 2, 3, 4]));
 */
export function attentionMapsReport(
  result: AttentionMapsResult,
  options: AttentionMapsReportOptions = {},
): LabReport {
  const groups = byGroup(result.maps);
  // Rows by stack (encoder, decoder self, cross), then layer, then head.
  const stats = groups.flat().flatMap(attentionHeadStats);
  const title = (m: AttentionMap): string => attentionGroupTitle(m);
  const headTable: LabTable = {
    title: 'Per head: where the attention weight goes (means over query positions)',
    columns: [
      'attention',
      'layer',
      'head',
      'entropy (nats)',
      'uniform entropy',
      'max weight',
      'mean distance |i − j|',
      'previous token',
      'first token',
      'same token',
    ],
    rows: stats.map((s) => [
      title(result.maps.find((m) => m.module === s.module)!),
      s.layer,
      s.head,
      fmtNum(s.entropy, 3),
      fmtNum(s.uniformEntropy, 3),
      fmtNum(s.maxWeight, 3),
      fmtOpt(s.meanDistance),
      fmtOpt(s.previousToken),
      fmtNum(s.firstToken, 3),
      fmtOpt(s.sameToken),
    ]),
    note:
      'Entropy 0: each query attends to one key; uniform entropy: the entropy if it spread its weight evenly over the keys it may see. ' +
      'Previous/first/same token: mean weight on key i − 1, key 0 (over queries i ≥ 1 in self-attention) and key i. ' +
      '— : not defined for cross-attention.',
  };
  const inputTable: LabTable = {
    title: 'The input',
    columns: ['sequence', 'tokens', 'labels'],
    rows: [
      ['tokens', result.tokens.length, result.labels.join(' ')],
      ...(result.target
        ? [['decoder input', result.target.length, result.targetLabels!.join(' ')]]
        : []),
    ],
  };
  const maxRowErr = Math.max(...stats.map((s) => s.rowSumError));
  const causal = result.maps.filter((m) => m.causal);
  const selfStats = stats.filter((s) => s.kind === 'self' && s.previousToken !== null);
  const by = (f: (s: AttentionHeadStats) => number, list = stats): AttentionHeadStats =>
    list.reduce((a, b) => (f(b) > f(a) ? b : a));
  const name = (s: AttentionHeadStats): string =>
    `${title(result.maps.find((m) => m.module === s.module)!)} layer ${s.layer} head ${s.head}`;
  const focused = by((s) => s.uniformEntropy - s.entropy);
  const findings = [
    `${result.maps.length} attention modules, ${stats.length} heads, on ${result.tokens.length} tokens${result.target ? ` (decoder: ${result.target.length})` : ''}${options.description ? ` — ${options.description}` : ''}.`,
    `Every row of every map sums to 1 within ${maxRowErr.toExponential(1)}${causal.length > 0 ? `; the ${causal.length} causal maps have exactly zero weight above the diagonal (no query sees a later token)` : ''}.`,
    `Most focused head: ${name(focused)}, entropy ${fmtNum(focused.entropy, 3)} nats against ${fmtNum(focused.uniformEntropy, 3)} if uniform (mean max weight ${fmtNum(focused.maxWeight, 3)}).`,
  ];
  if (selfStats.length > 0) {
    const prev = by((s) => s.previousToken!, selfStats);
    const first = by((s) => s.firstToken, selfStats);
    findings.push(
      `Strongest previous-token head: ${name(prev)} (${fmtNum(prev.previousToken!, 3)} of its weight on token i − 1); most weight on the first token: ${name(first)} (${fmtNum(first.firstToken, 3)}).`,
    );
  }
  return {
    id: 'attention-maps',
    title: 'Attention maps',
    theory: [
      'Each head computes weights w_ij = softmax_j(q_i·k_j/√D) (Vaswani et al., 2017): row i is a probability distribution over the keys that query i may see, so every row sums to 1; a causal mask sets w_ij = 0 for j > i, making the map lower-triangular.',
      'The numbers characterise a head: the entropy −Σ_j w_ij ln w_ij is 0 when query i looks at one key and ln(n_i) when it spreads evenly over its n_i keys; the mean distance Σ_j w_ij|i − j| says how far it looks; the weight on the previous token marks previous-token heads (Olsson et al., 2022), the weight on the first token the "attention sink" of trained language models (Xiao et al., 2023), and on the same token a near-identity head (Clark et al., 2019; Voita et al., 2019).',
      'How it is measured: a forward hook on every attention module sees the inputs of the real forward pass and computes that module’s weights from them — MultiheadAttention is called again asking for per-head weights (Transformer layers call it without, which may take a fused kernel that never forms them), GPT’s causal attention is recomputed with its own projection and formula — in eval mode, for the first sequence.',
    ],
    findings,
    tables: [inputTable, headTable],
    plots: groups.map((g) => {
      const slug = g[0]!.group.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
      const t = `Attention weights: ${title(g[0]!)} (${g[0]!.group})`;
      return { id: `attention-${slug}`, title: t, spec: attentionMapSpec(g, t) };
    }),
    data: toJson({
      tokens: result.tokens,
      labels: result.labels,
      target: result.target,
      targetLabels: result.targetLabels,
      heads: stats,
      maps: result.maps,
    }),
    seconds: options.seconds ?? 0,
  };
}
