/**
 * The bias of a fused linear layer: `matmul(a, b, out, bias)` adds an (N) vector to every row of
 * the (Bt, M, N) product. Backends without a dedicated path add it in place with their own
 * elementwise kernel, after the product: the same rounding as a separate add, one buffer less.
 */
import type { Kernels, View } from './backend.js';

/** `bias` (N) as a (Bt, M, N) view repeating it over batches and rows (stride 0). */
export function biasRows(bias: View, out: View): View {
  // Fields named, not spread: a Tensor is a View whose storage is a getter.
  const { storage, dtype, offset } = bias;
  return { storage, dtype, offset, shape: out.shape, strides: [0, 0, bias.strides[0]!] };
}

/** out += bias on every row, with `binary` (which may write its output over an identical input). */
export function addBiasInPlace(binary: Kernels['binary'], out: View, bias: View): void {
  binary('add', out, biasRows(bias, out), out);
}
