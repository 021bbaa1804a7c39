/**
 * Corpus BLEU (Papineni, Roukos, Ward & Zhu, "BLEU: a Method for Automatic Evaluation of Machine
 * Translation", ACL 2002), computed as sacreBLEU does (Post, "A Call for Clarity in Reporting
 * BLEU Scores", WMT 2018): n-gram matches are clipped by the largest count in any reference and
 * summed over the whole corpus before dividing (corpus level, not an average of sentence
 * scores); BLEU = BP · exp(Σₙ ln pₙ / N) for n = 1..N (N = 4), with the brevity penalty
 * BP = exp(1 − r/c) when the hypotheses' length c is below the reference length r (for each
 * sentence the reference closest in length, the shorter one on a tie), else 1. Scores are on
 * sacreBLEU's 0–100 scale. The default tokenizer is sacreBLEU's `13a` (mteval-v13a's rules);
 * `smooth: 'exp'` is sacreBLEU's default smoothing, off here (Papineni's definition: a corpus
 * without any 4-gram match scores 0).
 *
 * Also the exact-match rate of token sequences (the accuracy of synthetic tasks).
 */
import { ValueError } from '../core/errors.js';

/** Options of `corpusBleu`. */
export interface BleuOptions {
  /**
   * How a sentence becomes tokens: '13a' (default; sacreBLEU's and mteval-v13a's rules, which
   * split punctuation off words), 'none' (split on whitespace only), or a function.
   */
  tokenize?: '13a' | 'none' | ((sentence: string) => string[]);
  /** Lower-case before tokenising (default false). */
  lowercase?: boolean;
  /**
   * What a zero n-gram precision does: 'none' (default, Papineni's BLEU: the score is 0) or
   * 'exp' (sacreBLEU's default: the k-th zero precision becomes 1 / (2^k · total)).
   */
  smooth?: 'none' | 'exp';
  /** Largest n-gram order N (default 4). */
  maxOrder?: number;
}

/** A corpus BLEU score and its parts (sacreBLEU's BLEUScore fields). */
export interface BleuScore {
  /** BLEU on a 0–100 scale. */
  score: number;
  /** Clipped matches per order n = 1..N. */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
  /** Precisions per order, 0–100 (after smoothing). */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis length c / reference length r. */
  ratio: number;
  /** Total hypothesis length c (tokens). */
  sysLen: number;
  /** Total effective reference length r (tokens). */
  refLen: number;
}

/**
 * sacreBLEU's `13a` tokenizer (after mteval-v13a.pl): un-escapes four HTML entities, then puts
 * spaces around punctuation and symbols, around periods and commas not inside a number, and
 * after a dash that follows a digit.
 *
 * @example
 * nb.data.tokenize13a("Hello, world! It's 3.5-4 km."); // ['Hello', ',', 'world', '!', "It's", '3.5', '-', '4', 'km', '.']
 */
export function tokenize13a(line: string): string[] {
  let s = line
    .replace(/<skipped>/g, '')
    .replace(/-\n/g, '')
    .replace(/\n/g, ' ');
  if (s.includes('&'))
    s = s
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  s = ` ${s} `;
  s = s.replace(/([{-~[-` -&(-+:-@/])/g, ' $1 '); // symbols and punctuation (ASCII ranges)
  s = s.replace(/([^0-9])([.,])/g, '$1 $2 '); // period and comma unless preceded by a digit
  s = s.replace(/([.,])([^0-9])/g, ' $1 $2'); // ... unless followed by a digit
  s = s.replace(/([0-9])(-)/g, '$1 $2 '); // a dash after a digit
  return s.split(/\s+/).filter((t) => t.length > 0);
}

/** Counts of every n-gram of `tokens` (joined with a separator that tokens cannot contain). */
function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

function tokenizerOf(options: BleuOptions): (s: string) => string[] {
  const t = options.tokenize ?? '13a';
  const base =
    typeof t === 'function'
      ? t
      : t === '13a'
        ? tokenize13a
        : t === 'none'
          ? (s: string): string[] => s.split(/\s+/).filter((w) => w.length > 0)
          : null;
  if (base === null)
    throw new ValueError(
      `corpusBleu: tokenize must be '13a', 'none' or a function, got ${JSON.stringify(t)}`,
    );
  return options.lowercase ? (s) => base(s.toLowerCase()) : base;
}

/**
 * Corpus-level BLEU of `hypotheses` against `references`: `references[i]` is the reference of
 * hypothesis i, or a list of references for it.
 *
 * @example
 * const { score, bp } = nb.data.corpusBleu(
 *   ['the cat sat on the mat'],
 *   [['the cat sat on the mat', 'a cat was on the mat']],
 * ); // score 100, bp 1
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (string | readonly string[])[],
  options: BleuOptions = {},
): BleuScore {
  if (!Array.isArray(hypotheses) || !Array.isArray(references))
    throw new ValueError('corpusBleu: expected arrays of hypotheses and references');
  if (hypotheses.length !== references.length)
    throw new ValueError(
      `corpusBleu: ${hypotheses.length} hypotheses but ${references.length} references; each hypothesis needs its reference(s)`,
    );
  const N = options.maxOrder ?? 4;
  if (!Number.isInteger(N) || N < 1)
    throw new ValueError(`corpusBleu: maxOrder must be a positive integer, got ${N}`);
  const smooth = options.smooth ?? 'none';
  if (smooth !== 'none' && smooth !== 'exp')
    throw new ValueError(`corpusBleu: smooth must be 'none' or 'exp', got ${String(smooth)}`);
  const tokenize = tokenizerOf(options);
  const counts = new Array<number>(N).fill(0);
  const totals = new Array<number>(N).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((hypothesis, i) => {
    const r = references[i]!;
    const refs = (typeof r === 'string' ? [r] : r).map(tokenize);
    if (refs.length === 0) throw new ValueError(`corpusBleu: hypothesis ${i} has no reference`);
    const hyp = tokenize(hypothesis);
    sysLen += hyp.length;
    // The reference closest in length (the shorter on a tie) sets r.
    let closest = refs[0]!.length;
    for (const ref of refs) {
      const d = Math.abs(ref.length - hyp.length);
      const best = Math.abs(closest - hyp.length);
      if (d < best || (d === best && ref.length < closest)) closest = ref.length;
    }
    refLen += closest;
    for (let n = 1; n <= N; n++) {
      const maxRef = new Map<string, number>();
      for (const ref of refs)
        for (const [g, c] of ngramCounts(ref, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
      for (const [g, c] of ngramCounts(hyp, n)) counts[n - 1]! += Math.min(c, maxRef.get(g) ?? 0);
      totals[n - 1]! += Math.max(0, hyp.length - n + 1);
    }
  });
  const bp = sysLen === 0 ? 0 : sysLen < refLen ? Math.exp(1 - refLen / sysLen) : 1;
  const ratio = refLen > 0 ? sysLen / refLen : 0;
  const precisions = counts.map((c, k) => (totals[k]! > 0 ? (100 * c) / totals[k]! : 0));
  const result = { counts, totals, precisions, bp, ratio, sysLen, refLen };
  if (counts.every((c) => c === 0)) return { score: 0, ...result };
  let logSum = 0;
  let smoothing = 1;
  for (let k = 0; k < N; k++) {
    if (counts[k] === 0) {
      if (smooth === 'none' || totals[k] === 0) return { score: 0, ...result };
      smoothing *= 2;
      precisions[k] = 100 / (smoothing * totals[k]!);
    }
    logSum += Math.log(precisions[k]!);
  }
  return { score: bp * Math.exp(logSum / N), ...result };
}

/**
 * The fraction of predictions equal, element for element, to their reference (0 for an empty
 * list).
 *
 * @example
 * nb.data.exactMatch([[1, 2], [3]], [[1, 2], [4]]); // 0.5
 */
export function exactMatch(
  predictions: readonly (readonly number[] | string)[],
  references: readonly (readonly number[] | string)[],
): number {
  if (predictions.length !== references.length)
    throw new ValueError(
      `exactMatch: ${predictions.length} predictions but ${references.length} references`,
    );
  if (predictions.length === 0) return 0;
  let hits = 0;
  predictions.forEach((p, i) => {
    const r = references[i]!;
    if (p.length === r.length && [...p].every((x, j) => x === r[j])) hits++;
  });
  return hits / predictions.length;
}
