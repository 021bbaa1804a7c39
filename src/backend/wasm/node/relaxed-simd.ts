/// <reference types="node" />
/**
 * Relaxed SIMD in Node 20 and 21: V8 11.3 implements it behind `--experimental-wasm-relaxed-simd`
 * (on by default from V8 11.4: Node 22, Chrome 114). The wasm backend's relaxed GEMM (fused
 * multiply-adds, ~1.4× the plain one) validates only with it, so the Node entry has the flag
 * turned on when the kernels first compile (not at import: a process that never runs wasm keeps
 * V8's defaults) — only where validation fails without it, and it checks again after: a runtime
 * that still refuses keeps the plain GEMM. Browsers never load this file.
 */
import { setFlagsFromString } from 'node:v8';
import { RELAXED_WASM_BASE64 } from '../binary.js';
import { relaxedBytes } from '../instance.js';

let enabled: boolean | null = null;

/** Makes relaxed SIMD validate in this process if V8 can; returns whether it does now. */
export function enableRelaxedSimd(): boolean {
  if (enabled !== null) return enabled;
  if (!relaxedBytes(RELAXED_WASM_BASE64)) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  }
  enabled = relaxedBytes(RELAXED_WASM_BASE64) !== null;
  return enabled;
}
