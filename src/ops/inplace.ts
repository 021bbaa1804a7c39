/**
 * In-place writes (`add_`, `copy_`, `fill_`, ...). They are never recorded by autograd: on a tensor
 * that requires grad they are allowed only inside `noGrad` (optimizer updates), and they bump the
 * buffer's version so that a backward reading the old values fails loudly instead of silently.
 */
import { isGradEnabled } from '../autograd/grad-mode.js';
import { GradError, ShapeError } from '../core/errors.js';
import { broadcastShapes, formatShape, shapesEqual } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastView } from './elementwise.js';
import { kernelsFor } from './util.js';

function checkWritable(target: Tensor, op: string): void {
  target._check(op);
  if (isGradEnabled() && target.requiresGrad) {
    throw new GradError(
      `${op}: in-place change of a tensor that requires grad; do it inside nb.noGrad(() => ...) ` +
        '(as optimizers do), or use the out-of-place op',
    );
  }
  const s = target.strides;
  if (target.shape.some((n, i) => n > 1 && s[i] === 0)) {
    throw new ShapeError(
      `${op}: cannot write in place into a broadcast (expanded) view; call contiguous() first`,
    );
  }
}

/** Writes `value` (broadcast to target's shape, cast to its dtype) into target's elements. */
export function writeInPlace(target: Tensor, value: Tensor, op: string): void {
  checkWritable(target, op);
  // The write is not recorded, so a value that carries a gradient would silently lose it.
  if (isGradEnabled() && value.requiresGrad) {
    throw new GradError(
      `${op}: the value written in place requires grad, and in-place ops are not recorded by autograd ` +
        'so its gradient would be lost; use the out-of-place op, or nb.noGrad(() => ...) if that is intended',
    );
  }
  const shape = broadcastShapes(op, target.shape, value.shape);
  if (!shapesEqual(shape, target.shape)) {
    throw new ShapeError(
      `${op}: a value of shape ${formatShape(value.shape)} does not broadcast to the target's shape ${formatShape(target.shape)}`,
    );
  }
  kernelsFor(target).copy(broadcastView(value, target.shape), target);
  target._buffer.version++;
}

export function fillInPlace(target: Tensor, value: number): void {
  checkWritable(target, 'fill_');
  kernelsFor(target).fill(target, value);
  target._buffer.version++;
}
