/**
 * Positional-encoding instruments for THEORY.md §1 ("Attention Is All You Need", Vaswani et al.,
 * 2017, §3.5). They read nabla's own table, `nn.sinusoidalPositionalEncoding` in float64, with
 * PE[pos, 2i] = sin(pos·ω_i), PE[pos, 2i+1] = cos(pos·ω_i), ω_i = 10000^(−2i/d), and measure:
 * - the table itself, as heat-map data;
 * - the similarity PE[pos]·PE[pos+k] = Σ_i cos(k·ω_i), a function of k alone (the spread over pos
 *   is reported);
 * - PE[pos+k] = R_k·PE[pos] with R_k block-diagonal, one rotation per (sin, cos) pair:
 *   [sin((p+k)ω), cos((p+k)ω)] = [[cos kω, sin kω], [−sin kω, cos kω]]·[sin pω, cos pω].
 */
import { ValueError } from '../core/errors.js';
import { sinusoidalPositionalEncoding } from '../nn/positional-encoding.js';

/**
 * The frequencies ω_i = 10000^(−2i/d), i = 0 … ⌈d/2⌉ − 1, of the sinusoidal table.
 *
 * @example
 * nb.lab.peFrequencies(4); // [1, 0.01]
 */
export function peFrequencies(dModel: number): number[] {
  return Array.from({ length: Math.ceil(dModel / 2) }, (_, i) =>
    Math.pow(10000, (-2 * i) / dModel),
  );
}

/** The (maxLen, dModel) table as rows of float64 numbers. */
export interface PeTable {
  maxLen: number;
  dModel: number;
  /** rows[pos][j] = PE[pos, j]. */
  rows: number[][];
}

function checkSizes(op: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ValueError(`${op}: ${name} must be a positive integer, got ${v}`);
    }
  }
}

/**
 * nabla's sinusoidal table in float64, as rows (heat-map data for plots).
 *
 * @example
 * nb.lab.peTable(50, 16).rows[0]; // [0, 1, 0, 1, ...]
 */
export function peTable(maxLen: number, dModel: number): PeTable {
  checkSizes('peTable', { maxLen, dModel });
  const flat = sinusoidalPositionalEncoding(maxLen, dModel, 'float64').dataSync();
  const rows = Array.from({ length: maxLen }, (_, p) =>
    Array.from(flat.subarray(p * dModel, (p + 1) * dModel)),
  );
  return { maxLen, dModel, rows };
}

export interface PeSimilarityRow {
  k: number;
  /** Mean over pos of PE[pos]·PE[pos+k]. */
  mean: number;
  /** max over pos − min over pos of PE[pos]·PE[pos+k]: 0 up to rounding if it depends on k only. */
  spread: number;
  /** Σ_i cos(k·ω_i) (even dModel). */
  predicted: number;
}

/**
 * PE[pos]·PE[pos+k] for k = 0 … maxOffset over every pos with pos + k < maxLen: its mean, its
 * spread across pos (≈ 0: the dot product depends only on k) and the closed form Σ_i cos(k·ω_i).
 *
 * @example
 * const s = nb.lab.peSimilarity(128, 32, 64);
 * s[0].mean; // d/2 = 16
 */
export function peSimilarity(maxLen: number, dModel: number, maxOffset: number): PeSimilarityRow[] {
  checkSizes('peSimilarity', { maxLen, dModel });
  if (dModel % 2 !== 0) {
    throw new ValueError(`peSimilarity: dModel must be even (sin/cos pairs), got ${dModel}`);
  }
  if (!Number.isInteger(maxOffset) || maxOffset < 0 || maxOffset >= maxLen) {
    throw new ValueError(`peSimilarity: maxOffset must be in [0, maxLen), got ${maxOffset}`);
  }
  const { rows } = peTable(maxLen, dModel);
  const freqs = peFrequencies(dModel);
  const out: PeSimilarityRow[] = [];
  for (let k = 0; k <= maxOffset; k++) {
    let lo = Infinity;
    let hi = -Infinity;
    let total = 0;
    for (let pos = 0; pos + k < maxLen; pos++) {
      let dot = 0;
      for (let j = 0; j < dModel; j++) dot += rows[pos]![j]! * rows[pos + k]![j]!;
      lo = Math.min(lo, dot);
      hi = Math.max(hi, dot);
      total += dot;
    }
    out.push({
      k,
      mean: total / (maxLen - k),
      spread: hi - lo,
      predicted: freqs.reduce((s, w) => s + Math.cos(k * w), 0),
    });
  }
  return out;
}

/**
 * R_k as a dense (dModel × dModel) matrix: block i acts on columns (2i, 2i+1), the (sin, cos)
 * pair of frequency ω_i, as [[cos kω_i, sin kω_i], [−sin kω_i, cos kω_i]] (rows = outputs).
 *
 * @example
 * nb.lab.peRotation(2, 1); // [[cos 1, sin 1], [−sin 1, cos 1]]
 */
export function peRotation(dModel: number, k: number): number[][] {
  checkSizes('peRotation', { dModel });
  if (dModel % 2 !== 0) {
    throw new ValueError(`peRotation: dModel must be even (sin/cos pairs), got ${dModel}`);
  }
  const R = Array.from({ length: dModel }, () => new Array<number>(dModel).fill(0));
  peFrequencies(dModel).forEach((w, i) => {
    const c = Math.cos(k * w);
    const s = Math.sin(k * w);
    R[2 * i]![2 * i] = c; // sin(a + kω) = sin a·cos kω + cos a·sin kω
    R[2 * i]![2 * i + 1] = s;
    R[2 * i + 1]![2 * i] = -s; // cos(a + kω) = cos a·cos kω − sin a·sin kω
    R[2 * i + 1]![2 * i + 1] = c;
  });
  return R;
}

export interface PeRotationResult {
  /** Per offset k: max over pos and features of |PE[pos+k] − R_k·PE[pos]|. */
  perOffset: { k: number; maxResidual: number }[];
  /** The maximum over every k. */
  maxResidual: number;
  /** max over k of |R_kᵀR_k − I| (each R_k is orthogonal: a rotation per pair). */
  maxOrthogonalityError: number;
}

/**
 * Checks PE[pos+k] = R_k·PE[pos] on nabla's float64 table for every k = 1 … maxLen − 1 (or the
 * given offsets) and every pos with pos + k < maxLen, with one R_k ({@link peRotation}) per k
 * independent of pos. Returns the residuals (≈ 1e-13: rounding of sin/cos at large angles).
 *
 * @example
 * nb.lab.peRotationCheck(64, 16).maxResidual < 1e-9; // true
 */
export function peRotationCheck(
  maxLen: number,
  dModel: number,
  offsets?: readonly number[],
): PeRotationResult {
  checkSizes('peRotationCheck', { maxLen, dModel });
  const { rows } = peTable(maxLen, dModel);
  const ks = offsets ?? Array.from({ length: maxLen - 1 }, (_, i) => i + 1);
  const perOffset: PeRotationResult['perOffset'] = [];
  let maxOrthogonalityError = 0;
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 0 || k >= maxLen) {
      throw new ValueError(`peRotationCheck: offsets must be integers in [0, maxLen), got ${k}`);
    }
    const R = peRotation(dModel, k);
    for (let a = 0; a < dModel; a++) {
      for (let b = 0; b < dModel; b++) {
        let dot = 0;
        for (let j = 0; j < dModel; j++) dot += R[j]![a]! * R[j]![b]!;
        maxOrthogonalityError = Math.max(maxOrthogonalityError, Math.abs(dot - (a === b ? 1 : 0)));
      }
    }
    let worst = 0;
    for (let pos = 0; pos + k < maxLen; pos++) {
      const x = rows[pos]!;
      const target = rows[pos + k]!;
      for (let r = 0; r < dModel; r++) {
        let y = 0; // (R_k·PE[pos])_r, the dense product
        for (let j = 0; j < dModel; j++) y += R[r]![j]! * x[j]!;
        worst = Math.max(worst, Math.abs(y - target[r]!));
      }
    }
    perOffset.push({ k, maxResidual: worst });
  }
  return {
    perOffset,
    maxResidual: perOffset.reduce((m, r) => Math.max(m, r.maxResidual), 0),
    maxOrthogonalityError,
  };
}
