/**
 * Finite-difference gradient check: compares the autograd gradient of sum(fn(inputs) · r), for a
 * fixed random r, with central differences (f(x + eps) − f(x − eps)) / 2eps in float64.
 */
import { GradcheckError, DTypeError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from './grad-mode.js';
import { randn } from '../ops/random.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Seed of the random upstream gradient. */
  seed?: number;
}

export interface GradcheckInputReport {
  /** Largest |analytical − numerical| over the input's elements. */
  maxAbsError: number;
  /** Largest |analytical − numerical| / max(|numerical|, tiny) over the elements. */
  maxRelError: number;
  /** Index (row-major) of the worst element, by the failure criterion. */
  worstIndex: number;
}

/**
 * Checks fn's gradients with respect to every input that requires grad. Inputs must be float64.
 * Returns the worst errors per input; throws GradcheckError with a readable report on failure.
 *
 * @example
 * const x = nb.randn([3, 4], { dtype: 'float64', requiresGrad: true });
 * nb.gradcheck((x) => x.tanh().sum(-1), [x]);
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): GradcheckInputReport[] {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  for (const x of inputs) {
    if (x.requiresGrad && x.dtype !== 'float64') {
      throw new DTypeError(
        `gradcheck: inputs that require grad must be float64 for accurate differences, got ${x.dtype}`,
      );
    }
  }
  const probe = noGrad(() => fn(...inputs));
  const upstream = randn(probe.shape, {
    dtype: 'float64',
    generator: new Generator(options.seed ?? 1234),
  });
  const objective = (): number =>
    noGrad(() =>
      fn(...inputs)
        .mul(upstream)
        .sum()
        .item(),
    );

  // Analytical gradients.
  for (const x of inputs) x.grad = null;
  const out = fn(...inputs);
  if (!out.requiresGrad)
    throw new GradcheckError(
      'gradcheck: the function output does not depend on any input that requires grad',
    );
  out.backward(upstream);

  const reports: GradcheckInputReport[] = [];
  const failures: string[] = [];
  inputs.forEach((x, k) => {
    if (!x.requiresGrad) {
      reports.push({ maxAbsError: 0, maxRelError: 0, worstIndex: -1 });
      return;
    }
    const analytical = x.grad ? x.grad.dataSync() : new Float64Array(x.size);
    // Perturb a contiguous copy through the buffer the input views.
    const buf = x._buffer;
    const backend = buf.backend;
    const offsets = elementOffsets(x);
    const base = backend.read(buf.handle);
    let maxAbs = 0;
    let maxRel = 0;
    let worst = -1;
    let worstExcess = -Infinity;
    const lines: string[] = [];
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const orig = base[o]!;
      backend.write(buf.handle, [orig + eps], o);
      const plus = objective();
      backend.write(buf.handle, [orig - eps], o);
      const minus = objective();
      backend.write(buf.handle, [orig], o);
      const numerical = (plus - minus) / (2 * eps);
      const a = analytical[i]!;
      const abs = Math.abs(a - numerical);
      const rel = abs / Math.max(Math.abs(numerical), 1e-12);
      maxAbs = Math.max(maxAbs, abs);
      if (Math.abs(numerical) > atol) maxRel = Math.max(maxRel, rel);
      const excess = abs - (atol + rtol * Math.abs(numerical));
      if (excess > worstExcess || Number.isNaN(abs)) {
        worstExcess = Number.isNaN(abs) ? Infinity : excess;
        worst = i;
      }
      if ((excess > 0 || Number.isNaN(abs)) && lines.length < 5) {
        lines.push(`    element ${i}: analytical ${a}, numerical ${numerical}`);
      }
    }
    reports.push({ maxAbsError: maxAbs, maxRelError: maxRel, worstIndex: worst });
    if (lines.length > 0) {
      failures.push(
        `  input ${k} (shape [${x.shape.join(', ')}]): max abs error ${maxAbs.toExponential(3)}, ` +
          `max rel error ${maxRel.toExponential(3)} (atol ${atol}, rtol ${rtol})\n${lines.join('\n')}`,
      );
    }
  });
  if (failures.length > 0) {
    throw new GradcheckError(
      `gradcheck failed: analytical and numerical gradients differ\n${failures.join('\n')}`,
    );
  }
  return reports;
}

function elementOffsets(x: Tensor): number[] {
  const out: number[] = [];
  const walk = (d: number, off: number): void => {
    if (d === x.ndim) {
      out.push(off);
      return;
    }
    for (let i = 0; i < x.shape[d]!; i++) walk(d + 1, off + i * x.strides[d]!);
  };
  walk(0, x.offset);
  return out;
}
