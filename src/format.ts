/** Printing tensors the way PyTorch does: nested brackets, a shared number format, dtype when not float32. */
import type { Tensor } from './tensor.js';

const MAX_ITEMS = 6;

export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return `tensor(<disposed>, shape=[${t.shape.join(', ')}])`;
  const flat = t.dataSync();
  const isInt = t.dtype === 'int32';
  const isBool = t.dtype === 'bool';
  const fmt = (v: number): string => {
    if (isBool) return v ? 'true' : 'false';
    if (isInt || !Number.isFinite(v)) return String(v);
    return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-4 && v !== 0)
      ? v.toExponential(4)
      : v.toFixed(4);
  };
  const rec = (dim: number, offset: number, indent: string): string => {
    if (dim === t.ndim) return fmt(flat[offset]!);
    const n = t.shape[dim]!;
    let step = 1;
    for (let d = dim + 1; d < t.ndim; d++) step *= t.shape[d]!;
    const idx =
      n > MAX_ITEMS ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
    const parts = idx.map((i) => (i < 0 ? '...' : rec(dim + 1, offset + i * step, indent + ' ')));
    const sep = dim === t.ndim - 1 ? ', ' : `,\n${indent} `;
    return `[${parts.join(sep)}]`;
  };
  const body = rec(0, 0, '       ');
  const extras = [
    t.dtype !== 'float32' ? `dtype=${t.dtype}` : '',
    t.requiresGrad ? 'requiresGrad=true' : '',
  ].filter(Boolean);
  return `tensor(${body}${extras.length ? ', ' + extras.join(', ') : ''})`;
}
