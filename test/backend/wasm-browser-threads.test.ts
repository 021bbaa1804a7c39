/**
 * The browser's thread pool (src/backend/wasm/browser/threads.ts) in Node, without a browser: a
 * Web Worker stand-in runs each worker's Blob-URL script on a worker_thread (postMessage and
 * onmessage mapped to its port), so the same script, handshake and control block run as in a
 * page. `Atomics.wait` is made to throw on this thread while the pool starts, as on a page's main
 * thread, so the pool's caller spins. Failures: a page that is not cross-origin isolated, and
 * workers that fail to start, leave the kernels on one thread, with the reason, and never hang.
 * (test/e2e/browser.test.ts runs the pool in headless Chromium.) Runs in its own process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveObjectURL } from 'node:buffer';
import { Worker as NodeWorker } from 'node:worker_threads';
import { refBackend } from '../../src/backend/ref/index.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';
import {
  initWasm,
  setThreadStarter,
  wasmFeatures,
  wasmPool,
} from '../../src/backend/wasm/instance.js';
import { gemmTuning } from '../../src/backend/wasm/matmul.js';
import { startBrowserThreads } from '../../src/backend/wasm/browser/threads.js';
import { enableRelaxedSimd } from '../../src/backend/wasm/node/relaxed-simd.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
} from './native-helpers.js';
import { checkMatmul } from './wasm-helpers.js';

type Handler<E> = ((e: E) => void) | null;

/** A Web Worker on a worker_thread: the Blob URL's script, with the worker globals it uses. */
class WebWorker {
  onmessage: Handler<{ data: unknown }> = null;
  onerror: Handler<{ message: string }> = null;
  onmessageerror: (() => void) | null = null;
  static created: WebWorker[] = [];
  terminated = false;
  private worker: Promise<NodeWorker>;

  constructor(url: string) {
    WebWorker.created.push(this);
    this.worker = resolveObjectURL(url)!
      .text()
      .then((script) => {
        const w = new NodeWorker(
          `const { parentPort } = require('node:worker_threads');
           globalThis.postMessage = (m) => parentPort.postMessage(m);
           parentPort.on('message', (data) => globalThis.onmessage && globalThis.onmessage({ data }));
           ${script}`,
          { eval: true },
        );
        w.on('message', (data: unknown) => this.onmessage?.({ data }));
        w.on('error', (e: Error) => this.onerror?.({ message: e.message }));
        w.unref(); // after the listeners, which would ref it again
        return w;
      });
  }

  postMessage(m: unknown): void {
    void this.worker.then((w) => w.postMessage(m));
  }

  terminate(): void {
    this.terminated = true;
    void this.worker.then((w) => w.terminate());
  }
}

/** A worker whose script fails at once (as a failed load or a syntax error would). */
class BrokenWorker extends WebWorker {
  constructor(url: string) {
    super(url);
    setTimeout(() => this.onerror?.({ message: 'boom' }), 1);
  }
}

/** A worker that answers with an error (as a failed instantiate does). */
class RefusingWorker extends WebWorker {
  override postMessage(): void {
    setTimeout(() => this.onmessage?.({ data: { error: 'no memory' } }), 1);
  }
}

enableRelaxedSimd(); // Node 20: V8's flag, so that the workers get the relaxed-SIMD GEMM too
const g = globalThis as unknown as { Worker?: unknown; crossOriginIsolated?: boolean };
// The whole suite on another backend (NABLA_BACKEND) sets Node's wasm instance up first, which a
// simulated browser page cannot replace.
const skip = process.env.NABLA_BACKEND
  ? 'simulates a browser page: runs without NABLA_BACKEND (the Node wasm setup owns the instance)'
  : false;

test('not cross-origin isolated: one thread, and the reason', { skip }, async () => {
  g.crossOriginIsolated = false;
  g.Worker = WebWorker;
  try {
    assert.match((await startBrowserThreads(2)) ?? '', /not cross-origin isolated/);
    assert.equal(WebWorker.created.length, 0);
  } finally {
    delete g.crossOriginIsolated;
  }
});

test(
  'a worker that fails to start: initWasm resolves, one thread, the error said',
  { skip },
  async () => {
    setThreadStarter(startBrowserThreads);
    g.Worker = BrokenWorker;
    assert.equal(await initWasm({ threads: 3 }), true, 'the single-threaded kernels are ready');
    assert.equal(wasmPool(), null);
    const f = wasmFeatures();
    assert.equal(f.threads, 1);
    assert.match(f.threadsUnavailable ?? '', /worker \d failed: boom/);
    assert.ok(
      WebWorker.created.every((w) => w.terminated),
      'the workers were terminated',
    );
    // A worker whose instantiate fails.
    g.Worker = RefusingWorker;
    WebWorker.created.length = 0;
    assert.match((await startBrowserThreads(2)) ?? '', /worker 1 failed: no memory/);
    assert.ok(WebWorker.created.every((w) => w.terminated));
    // Threads start once per page: initWasm keeps its first answer.
    g.Worker = WebWorker;
    assert.equal(await initWasm({ threads: 3 }), true);
    assert.equal(wasmFeatures().threads, 1);
  },
);

test(
  '3 threads on Web Workers, the caller spinning: matmul, elementwise and attention',
  { skip },
  async () => {
    g.Worker = WebWorker;
    const wait = Atomics.wait;
    Atomics.wait = () => {
      throw new TypeError('Atomics.wait cannot be called in this context');
    };
    try {
      assert.equal(await startBrowserThreads(3), null);
    } finally {
      Atomics.wait = wait;
    }
    assert.equal(wasmPool()?.threads, 3);
    const wasm = wasmBackend.kernels;
    const rng = new Rng(50);
    const saved = { ...gemmTuning };
    try {
      gemmTuning.minThreadedMacs = 0;
      for (const relaxedSimd of [false, true]) {
        gemmTuning.relaxedSimd = relaxedSimd;
        for (const [bt, M, K, N] of [
          [1, 129, 65, 70],
          [1, 70, 65, 131],
          [7, 33, 40, 50],
        ] as const) {
          const a = randomView(rng, 'float32', [bt, M, K], 'normal', 'contiguous');
          const b = randomView(rng, 'float32', [bt, K, N], 'normal', 'strided');
          checkMatmul(wasm, a, b, `${relaxedSimd ? 'relaxed' : 'plain'} ${bt}x${M}x${K}x${N}`);
        }
      }
    } finally {
      Object.assign(gemmTuning, saved);
    }
    const x = randomView(rng, 'float32', [300, 257], 'normal', 'strided');
    const o1 = outView('float32', [300, 257]);
    const o2 = cloneView(o1);
    refBackend.kernels.unary('gelu', x, o1);
    wasm.unary('gelu', x, o2);
    assertArraysClose(dataOf(o2), dataOf(o1), 1e-6, 2e-6, 'gelu');
    const [q, k, v] = [0, 1, 2].map(() => randomView(rng, 'float32', [8, 40, 16], 'normal', 'any'));
    const params = { scale: 0.25, causalOffset: 0 };
    const [a1, a2] = [outView('float32', [8, 40, 16]), outView('float32', [8, 40, 16])];
    const [l1, l2] = [outView('float32', [8, 40]), outView('float32', [8, 40])];
    refBackend.kernels.attentionForward(q!, k!, v!, null, null, params, a1, l1);
    wasm.attentionForward(q!, k!, v!, null, null, params, a2, l2);
    assertArraysClose(dataOf(a2), dataOf(a1), 2e-5, 2e-4, 'attention');
  },
);
