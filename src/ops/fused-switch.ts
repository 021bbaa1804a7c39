/**
 * The switch between the fused kernels (attention, layer norm, softmax-cross-entropy, LSTM/GRU
 * cell, Adam update, GELU, a linear layer as one matmul op with its bias added by the kernel) and
 * their composite versions, which stay as the test oracle and the fallback. On by default; tests
 * and benchmarks turn it off to compare.
 */
let enabled = true;

/**
 * Turns the fused kernels on or off; returns the previous setting.
 *
 * @example
 * const previous = nb.F.setFusedKernels(false); // composite ops only
 * // ... compare ...
 * nb.F.setFusedKernels(previous);
 */
export function setFusedKernels(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/** Whether the fused kernels are used where they apply. */
export function fusedKernelsEnabled(): boolean {
  return enabled;
}
