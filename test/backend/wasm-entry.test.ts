/**
 * How the entry points choose the wasm backend, each in a fresh `node` process: in Node without
 * the native addon, `nabla` falls back to wasm and says so in one warning; NABLA_BACKEND=wasm
 * selects it without a word; the browser entry, run in Node, keeps ref and lists wasm; in Node,
 * wasm tensors live in the shared wasm memory unless NABLA_WASM_RESIDENT_MIB=0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultWasmThreads } from '../../src/backend/wasm/node/setup.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const src = (p: string): string => pathToFileURL(join(root, 'src', p)).href;

/** Runs `program` (through tsx) in a fresh process; returns its JSON output and its stderr. */
function run(
  program: string,
  env: Record<string, string | undefined>,
): { out: Record<string, unknown>; stderr: string } {
  const file = join(here, `.tmp-wasm-entry-${process.pid}-${Date.now()}.ts`);
  writeFileSync(file, program);
  try {
    const childEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      encoding: 'utf8',
      env: childEnv,
    });
    assert.equal(r.status, 0, `node exited with ${r.status}:\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    return { out, stderr: r.stderr };
  } finally {
    rmSync(file, { force: true });
  }
}

const probe = (entry: string): string => `
import * as nb from '${src(entry)}';
const x = nb.tensor([[1, 2], [3, 4]]);
const y = x.matmul(x).sum().item();
console.log(JSON.stringify({ backend: x.device, y, list: nb.listBackends() }));
`;

/** wasmFeatures() of a Node process that set no thread count: one thread per physical core. */
function defaultFeatures(): Record<string, unknown> {
  const threads = defaultWasmThreads();
  return {
    ready: true,
    relaxedSimd: true,
    threads,
    threadsUnavailable:
      threads > 1
        ? null
        : 'not requested: initWasm({ threads }) starts them (NABLA_WASM_THREADS in Node)',
  };
}

test('in Node without the native addon, nabla uses wasm and warns once', () => {
  const { out, stderr } = run(probe('index.node.ts'), {
    NABLA_BACKEND: undefined,
    NABLA_NATIVE_PATH: '/nonexistent/nabla.node',
  });
  assert.equal(out.backend, 'wasm');
  assert.equal(out.y, 54);
  const warnings = stderr.split('\n').filter((l) => l.includes('nabla:'));
  assert.equal(warnings.length, 1, stderr);
  assert.match(warnings[0]!, /native backend not built/);
  assert.match(warnings[0]!, /wasm/);
  assert.match(warnings[0]!, /npm rebuild nabla/);
});

test('the Node entry turns relaxed SIMD on only when the wasm kernels compile', () => {
  const program = `
import { RELAXED_WASM_BASE64 } from '${src('backend/wasm/binary.ts')}';
import { decodeBase64 } from '${src('backend/wasm/instance.ts')}';
const bytes = decodeBase64(RELAXED_WASM_BASE64);
const before = WebAssembly.validate(bytes);
const nb = await import('${src('index.node.ts')}');
nb.tensor([[1, 2], [3, 4]]).matmul(nb.tensor([[1], [1]])).sum().item(); // on ref
const afterImport = WebAssembly.validate(bytes);
nb.setBackend('wasm');
const y = nb.tensor([[1, 2], [3, 4]]).matmul(nb.tensor([[1], [1]])).sum().item();
const afterWasm = WebAssembly.validate(bytes);
console.log(JSON.stringify({ before, afterImport, afterWasm, y, features: nb.wasmFeatures() }));
`;
  const { out } = run(program, { NABLA_BACKEND: 'ref', NABLA_WASM_THREADS: undefined });
  // Where V8 validates relaxed SIMD by default (Node 22+) all three are true; on Node 20 the flag
  // must stay off until the wasm kernels compile.
  assert.equal(out.afterImport, out.before, 'importing nabla changed V8 flags');
  assert.equal(out.afterWasm, true);
  assert.equal(out.y, 10);
  assert.deepEqual(out.features, defaultFeatures());
});

test('NABLA_BACKEND=wasm selects wasm without a warning, with the relaxed-SIMD GEMM', () => {
  const program = `
import * as nb from '${src('index.node.ts')}';
const x = nb.tensor([[1, 2], [3, 4]]);
const y = x.matmul(x).sum().item();
console.log(JSON.stringify({ backend: x.device, y, features: nb.wasmFeatures() }));
`;
  const { out, stderr } = run(program, { NABLA_BACKEND: 'wasm', NABLA_WASM_THREADS: undefined });
  assert.equal(out.backend, 'wasm');
  assert.equal(out.y, 54);
  // The Node entry made V8 validate relaxed SIMD (a flag on Node 20) before the kernels compiled;
  // without NABLA_WASM_THREADS, one thread per physical core.
  assert.deepEqual(out.features, defaultFeatures());
  assert.doesNotMatch(stderr, /nabla:/);
});

test('the browser entry, run in Node, keeps ref as the default and registers wasm', () => {
  const { out } = run(probe('index.ts'), { NABLA_BACKEND: undefined });
  assert.equal(out.backend, 'ref');
  assert.ok((out.list as string[]).includes('wasm'));
});

test('the browser entry outside Node (no `process`) makes wasm the default', () => {
  const program = `
const saved = globalThis.process;
// What a browser looks like to the entry: no process global while it evaluates.
Object.defineProperty(globalThis, 'process', { value: undefined, configurable: true, writable: true });
const nb = await import('${src('index.ts')}');
Object.defineProperty(globalThis, 'process', { value: saved, configurable: true, writable: true });
const ready = await nb.initWasm();
const x = nb.tensor([[1, 2], [3, 4]]);
console.log(JSON.stringify({ backend: x.device, ready, y: x.matmul(x).sum().item() }));
`;
  const { out } = run(program, { NABLA_BACKEND: undefined });
  assert.equal(out.backend, 'wasm');
  assert.equal(out.ready, true);
  assert.equal(out.y, 54);
});

test('NABLA_WASM_THREADS=2 runs the wasm matmul on two threads, and the process still exits', () => {
  const program = `
import * as nb from '${src('index.node.ts')}';
import { wasmPool } from '${src('backend/wasm/instance.ts')}';
nb.manualSeed(0);
const a = nb.randn([192, 200]); // above the threading threshold (matmul.ts)
const b = nb.randn([200, 192]);
const y = a.matmul(b);
nb.setBackend('ref');
const diff = y.sub(a.matmul(b)).abs().max().item();
const { relaxedSimd } = nb.wasmFeatures();
console.log(JSON.stringify({ backend: y.device, threads: wasmPool()?.threads ?? 1, diff, relaxedSimd }));
`;
  const { out } = run(program, { NABLA_BACKEND: 'wasm', NABLA_WASM_THREADS: '2' });
  assert.equal(out.backend, 'wasm');
  assert.equal(out.threads, 2);
  assert.equal(out.relaxedSimd, true);
  assert.ok((out.diff as number) < 1e-3, `max difference ${out.diff}`);
});

test('initWasm({ threads: 2 }) in Node starts worker_threads, and the process still exits', () => {
  const program = `
import * as nb from '${src('index.node.ts')}';
const invalid = await nb.initWasm({ threads: 0 }).then(() => 'resolved', (e) => e.name);
const ready = await nb.initWasm({ threads: 2 });
const after = nb.wasmFeatures();
const again = await nb.initWasm({ threads: 3 }); // threads start once: the pool is kept
nb.manualSeed(0);
const a = nb.randn([192, 200]);
const b = nb.randn([200, 192]);
const y = a.matmul(b);
nb.setBackend('ref');
const diff = y.sub(a.matmul(b)).abs().max().item();
console.log(JSON.stringify({ invalid, ready, after, again, threads: nb.wasmFeatures().threads, diff }));
`;
  const { out } = run(program, { NABLA_BACKEND: 'wasm', NABLA_WASM_THREADS: undefined });
  assert.equal(out.invalid, 'RangeError');
  assert.equal(out.ready, true);
  assert.deepEqual(out.after, {
    ready: true,
    relaxedSimd: true,
    threads: 2,
    threadsUnavailable: null,
  });
  assert.equal(out.again, true);
  assert.equal(out.threads, 2);
  assert.ok((out.diff as number) < 1e-3, `max difference ${out.diff}`);
});

test("initWasm({ threads: 'auto' }) in Node: one thread per physical core", () => {
  const program = `
import * as nb from '${src('index.node.ts')}';
await nb.initWasm({ threads: 'auto' });
console.log(JSON.stringify({ features: nb.wasmFeatures() }));
`;
  const { out } = run(program, { NABLA_BACKEND: 'wasm', NABLA_WASM_THREADS: undefined });
  const threads = defaultWasmThreads();
  assert.deepEqual(out.features, {
    ...defaultFeatures(),
    threadsUnavailable: threads > 1 ? null : 'auto: this machine has one core',
  });
});

test('in Node, wasm tensors live in the shared wasm memory, unless NABLA_WASM_RESIDENT_MIB=0', () => {
  const program = `
import * as nb from '${src('index.node.ts')}';
import { ResidentStorage } from '${src('backend/wasm/resident.ts')}';
const x = nb.tensor([[1, 2], [3, 4]]);
const y = x.matmul(x);
const resident = [x, y].map((t) => t._buffer.handle instanceof ResidentStorage);
console.log(JSON.stringify({ resident, y: y.sum().item() }));
`;
  const on = run(program, { NABLA_BACKEND: 'wasm', NABLA_WASM_RESIDENT_MIB: undefined }).out;
  assert.deepEqual(on, { resident: [true, true], y: 54 });
  const off = run(program, { NABLA_BACKEND: 'wasm', NABLA_WASM_RESIDENT_MIB: '0' }).out;
  assert.deepEqual(off, { resident: [false, false], y: 54 });
});
