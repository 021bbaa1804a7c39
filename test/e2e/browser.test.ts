/**
 * nabla in a real browser: headless Chromium loads the built browser entry (dist/index.js, plain
 * ES modules, no bundler) from a local HTTP server, checks that the wasm backend is the default and
 * compiles, compares a wasm matmul with the reference backend, and trains a tiny GPT (fused
 * attention, layer norm, cross-entropy, GELU and AdamW kernels) for a few steps. The page POSTs its
 * results back to the server, so no browser-automation package is needed.
 *
 * Skipped, with the reason, when dist/ is not built or no Chromium is installed (Debian:
 * `apt-get install chromium`; .ci/run installs it). NABLA_CHROMIUM names another binary.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');

function findChromium(): string | null {
  const candidates = [
    process.env.NABLA_CHROMIUM,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

const chromium = findChromium();
const skip = !existsSync(join(dist, 'index.js'))
  ? 'dist/index.js not found: run `npm run build` first'
  : !chromium
    ? 'no Chromium found (apt-get install chromium, or set NABLA_CHROMIUM)'
    : false;

// Shared by the pages: the result (or the error) is POSTed to /result; `tinyGpt` trains a tiny GPT
// to learn "next token = token + 1 (mod 16)" for 40 steps (fused attention, layer norm,
// cross-entropy, GELU and AdamW kernels) and times it.
const COMMON = `
const report = (r) => fetch('/result', { method: 'POST', body: JSON.stringify(r) });
function tinyGpt(nb) {
  nb.manualSeed(0);
  const model = new nb.models.GPT({ vocabSize: 16, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32, dropout: 0 });
  const opt = new nb.optim.AdamW(model.parameters(), { lr: 1e-2 });
  // Fixed, varied tokens (no Math.random: the same batch on every run).
  const tokens = Array.from({ length: 8 }, (_, b) => Array.from({ length: 16 }, (_, t) => (b * 5 + t * 3 + ((b * t) % 7)) % 16));
  const idx = nb.tensor(tokens, { dtype: 'int32' });
  const targets = nb.tensor(tokens.map((row) => row.map((t) => (t + 1) % 16)), { dtype: 'int32' });
  const losses = [];
  const t0 = performance.now();
  for (let step = 0; step < 40; step++) {
    losses.push(nb.scope(() => {
      opt.zeroGrad();
      const { loss } = model.forward(idx, targets);
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  return { losses, ms: performance.now() - t0 };
}
const maxDiff = (x, y) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
`;

/** The page served without isolation headers: one thread, and `initWasm({ threads })` says why. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="module">
${COMMON}
try {
  const nb = await import('/dist/index.js');
  const defaultBackend = nb.getBackend().name;
  const compiled = await nb.initWasm();

  nb.manualSeed(0);
  const a = nb.randn([33, 47]);
  const b = nb.randn([29, 47]).mT; // (47, 29), a transposed view
  const viaWasm = a.matmul(b).dataSync();
  nb.setBackend('ref');
  const viaRef = a.matmul(b).dataSync();
  nb.setBackend('wasm');
  const matmulDiff = maxDiff(viaWasm, viaRef);

  const { losses, ms } = tinyGpt(nb);
  // Threads asked for on a page that is not cross-origin isolated: one thread, and the reason.
  const threadsAsked = await nb.initWasm({ threads: 2 });
  report({ ok: true, defaultBackend, compiled, backend: nb.getBackend().name, matmulDiff, losses, ms,
    isolated: globalThis.crossOriginIsolated, threadsAsked, features: nb.wasmFeatures(),
    userAgent: navigator.userAgent });
} catch (e) {
  report({ ok: false, error: String((e && e.stack) || e) });
}
</script>`;

/**
 * The page served cross-origin isolated (COOP/COEP): times the tiny GPT, a 512³ matmul and a
 * larger GPT step on one thread, starts 2 threads, times them again, and checks matmuls above the
 * threading threshold (row or column bands, whole batches) and the larger GPT's losses over a
 * training step (its matmuls, attention and GELU all threaded) against the ref backend.
 */
const THREADS_PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="module">
${COMMON}
try {
  const nb = await import('/dist/index.js');
  const compiled = await nb.initWasm();
  const isolated = globalThis.crossOriginIsolated;
  const before = nb.wasmFeatures();

  nb.manualSeed(0);
  // Above gemmTuning.minThreadedMacs (176³): column bands of one product, then whole batches.
  const products = [[1, 300, 257, 333], [3, 130, 200, 150]].map(([bt, m, k, n]) =>
    [nb.randn([bt, m, k]), nb.randn([bt, n, k]).mT]);
  const big = [nb.randn([512, 512]), nb.randn([512, 512])];
  const median = (xs) => xs.slice().sort((p, q) => p - q)[xs.length >> 1];
  const timeOne = () => nb.scope(() => {
    const t0 = performance.now();
    big[0].matmul(big[1]).dataSync();
    return performance.now() - t0;
  });
  const timeMatmul = () => median(Array.from({ length: 9 }, timeOne));
  // The same product on the same (shared-memory) instance, on 1 and on 2 threads, alternated.
  const { gemmTuning } = await import('/dist/backend/wasm/matmul.js');
  const alternate = () => {
    const saved = gemmTuning.minThreadedMacs;
    const one = [];
    const two = [];
    for (let i = 0; i < 9; i++) {
      gemmTuning.minThreadedMacs = Infinity;
      one.push(timeOne());
      gemmTuning.minThreadedMacs = saved;
      two.push(timeOne());
    }
    return { one: median(one), two: median(two) };
  };
  // A GPT large enough for every kernel to thread: (512 × 128)·(128 × 512) products, attention
  // over 32 heads of 64 × 64, GELU on 262144 elements.
  const step = (steps) => {
    nb.manualSeed(1);
    const model = new nb.models.GPT({ vocabSize: 64, blockSize: 64, nLayer: 1, nHead: 4, nEmbd: 128, dropout: 0 });
    const opt = new nb.optim.AdamW(model.parameters(), { lr: 1e-3 });
    const idx = nb.randint(0, 64, [8, 64], { dtype: 'int32' });
    const targets = nb.randint(0, 64, [8, 64], { dtype: 'int32' });
    const losses = [];
    const times = [];
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      losses.push(nb.scope(() => {
        opt.zeroGrad();
        const { loss } = model.forward(idx, targets);
        loss.backward();
        opt.step();
        return loss.item();
      }));
      times.push(performance.now() - t0);
    }
    return { losses, ms: median(times) };
  };

  // Each phase warms up first: V8 compiles wasm with its baseline compiler and tiers hot
  // functions up as they run (the shared build, a module of its own, starts over).
  const measure = () => {
    tinyGpt(nb);
    timeMatmul();
    step(2);
    return { gpt: tinyGpt(nb), matmulMs: timeMatmul(), step: step(5) };
  };
  const single = measure();
  const t0 = performance.now();
  const started = await nb.initWasm({ threads: 2 });
  const startMs = performance.now() - t0;
  const features = nb.wasmFeatures();
  const threaded = measure();
  const matmul = alternate();

  const viaWasm = products.map(([a, b]) => a.matmul(b).dataSync());
  nb.setBackend('ref');
  const matmulDiff = Math.max(...products.map(([a, b], i) => maxDiff(viaWasm[i], a.matmul(b).dataSync())));
  const refStep = step(2);
  nb.setBackend('wasm');
  report({ ok: true, compiled, isolated, before, started, startMs, features, single, threaded,
    matmul, matmulDiff, refLosses: refStep.losses, userAgent: navigator.userAgent });
} catch (e) {
  report({ ok: false, error: String((e && e.stack) || e) });
}
</script>`;

interface Features {
  ready: boolean;
  relaxedSimd: boolean;
  threads: number;
  threadsUnavailable: string | null;
}

interface PageResult {
  ok: boolean;
  error?: string;
  defaultBackend: string;
  compiled: boolean;
  backend: string;
  matmulDiff: number;
  losses: number[];
  ms: number;
  isolated: boolean;
  threadsAsked: boolean;
  features: Features;
  userAgent: string;
}

interface Timings {
  gpt: { losses: number[]; ms: number };
  matmulMs: number;
  step: { losses: number[]; ms: number };
}

interface ThreadsPageResult {
  ok: boolean;
  error?: string;
  compiled: boolean;
  isolated: boolean;
  before: Features;
  started: boolean;
  startMs: number;
  features: Features;
  single: Timings;
  threaded: Timings;
  matmul: { one: number; two: number };
  matmulDiff: number;
  refLosses: number[];
  userAgent: string;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json' };

/** Serves `page` at / (with `headers`), dist/ under /dist/, and hands on the POST to /result. */
function serve(page: string, headers: Record<string, string>, onResult: (r: unknown) => void) {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/result') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.end('ok');
        onResult(JSON.parse(body));
      });
      return;
    }
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html', ...headers }).end(page);
      return;
    }
    const file = normalize(join(root, url.pathname));
    const ext = file.slice(file.lastIndexOf('.'));
    if (!file.startsWith(dist + '/') || !existsSync(file) || !TYPES[ext]) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[ext]! }).end(readFileSync(file));
  });
}

/** Loads `page` in headless Chromium from a local server; resolves with what the page POSTs. */
async function inChromium<R>(
  t: TestContext,
  page: string,
  headers: Record<string, string> = {},
): Promise<R> {
  let resolveResult!: (r: R) => void;
  const result = new Promise<R>((r) => (resolveResult = r));
  const server = serve(page, headers, (r) => resolveResult(r as R)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  const profile = mkdtempSync(join(tmpdir(), 'nabla-chromium-'));
  const browser = spawn(
    chromium!,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      `http://127.0.0.1:${port}/`,
    ],
    // Its own process group, so that the renderer and helper processes are killed with it.
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  browser.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const gone = new Promise<number | null>((r) => browser.once('exit', r));
  const exited = gone.then((code): never => {
    throw new Error(`Chromium exited (${code}) before the page reported:\n${stderr}`);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no result from the page in 90 s:\n${stderr}`)),
      90e3,
    );
  });
  try {
    return await Promise.race([result, exited, timeout]);
  } finally {
    clearTimeout(timer);
    try {
      process.kill(-browser.pid!, 'SIGKILL'); // the whole group: renderer and helpers too
    } catch {
      browser.kill('SIGKILL'); // the group is gone already
    }
    await gone;
    server.close();
    try {
      // Chromium's helper processes may still be writing to the profile as they exit.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch (e) {
      t.diagnostic(`could not remove ${profile}: ${(e as Error).message}`);
    }
  }
}

/** Chrome ships relaxed SIMD from 114: there the GEMM's companion module must be in use. */
function checkRelaxedSimd(userAgent: string, features: Features): void {
  const chrome = Number(/Chrome\/(\d+)/.exec(userAgent)?.[1] ?? 0);
  if (chrome >= 114) assert.equal(features.relaxedSimd, true, 'relaxed-SIMD GEMM in use');
}

/** From about log(16) = 2.77 to well below: the mapping is learnable in 40 steps. */
function checkLearns(losses: number[]): void {
  assert.equal(losses.length, 40);
  assert.ok(losses.every(Number.isFinite), `non-finite loss: ${losses.join(', ')}`);
  assert.ok(losses[0]! > 2, `first loss ${losses[0]}`);
  assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `losses: ${losses.join(', ')}`);
}

test(
  'e2e: the browser build runs on the wasm backend in headless Chromium',
  { skip },
  async (t) => {
    const r = await inChromium<PageResult>(t, PAGE);
    assert.ok(r.ok, `the page threw: ${r.error}`);
    t.diagnostic(
      `${r.userAgent}: 40 GPT steps in ${r.ms.toFixed(0)} ms, loss ${r.losses[0]!.toFixed(3)} → ${r.losses.at(-1)!.toFixed(3)}; wasm ${JSON.stringify(r.features)}`,
    );
    checkRelaxedSimd(r.userAgent, r.features);
    assert.equal(r.defaultBackend, 'wasm', 'wasm is the default backend in browsers');
    assert.equal(r.compiled, true, 'the WebAssembly module compiled (SIMD available)');
    assert.equal(r.backend, 'wasm');
    assert.ok(r.matmulDiff < 1e-4, `wasm matmul differs from ref by ${r.matmulDiff}`);
    checkLearns(r.losses);
    // Not cross-origin isolated: threads were asked for, one runs, and the features say why.
    assert.equal(r.isolated, false);
    assert.equal(r.threadsAsked, true, 'initWasm({ threads }) still resolves true');
    assert.equal(r.features.threads, 1, 'no worker threads without cross-origin isolation');
    assert.match(r.features.threadsUnavailable ?? '', /not cross-origin isolated/);
  },
);

test(
  'e2e: on a cross-origin isolated page the wasm kernels run on 2 Web Worker threads',
  { skip },
  async (t) => {
    const r = await inChromium<ThreadsPageResult>(t, THREADS_PAGE, {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    assert.ok(r.ok, `the page threw: ${r.error}`);
    const { single: s, threaded: m } = r;
    const ratio = (a: number, b: number): string => (a / b).toFixed(2);
    t.diagnostic(
      `threads started in ${r.startMs.toFixed(0)} ms; wasm ${JSON.stringify(r.features)}; ` +
        `1 thread → 2 threads: 40 tiny-GPT steps ${s.gpt.ms.toFixed(0)} → ${m.gpt.ms.toFixed(0)} ms ` +
        `(×${ratio(s.gpt.ms, m.gpt.ms)}), 512³ matmul ${s.matmulMs.toFixed(1)} → ` +
        `${m.matmulMs.toFixed(1)} ms (×${ratio(s.matmulMs, m.matmulMs)}), GPT step (B 8, T 64, ` +
        `C 128) ${s.step.ms.toFixed(0)} → ${m.step.ms.toFixed(0)} ms (×${ratio(s.step.ms, m.step.ms)}); ` +
        `512³ matmul alternated on the shared instance ${r.matmul.one.toFixed(1)} → ` +
        `${r.matmul.two.toFixed(1)} ms (×${ratio(r.matmul.one, r.matmul.two)}) (×: speed-up)`,
    );
    assert.equal(r.compiled, true);
    assert.equal(r.isolated, true, 'the page is cross-origin isolated');
    assert.equal(r.before.threads, 1);
    assert.match(r.before.threadsUnavailable ?? '', /not requested/);
    assert.equal(r.started, true);
    assert.equal(r.features.threads, 2, `threads: ${r.features.threadsUnavailable}`);
    assert.equal(r.features.threadsUnavailable, null);
    checkRelaxedSimd(r.userAgent, r.features);
    assert.ok(r.matmulDiff < 1e-3, `threaded matmul differs from ref by ${r.matmulDiff}`);
    checkLearns(s.gpt.losses);
    checkLearns(m.gpt.losses);
    // The threaded kernels split work without changing any sum's order: the same losses.
    for (const [i, l] of m.gpt.losses.entries())
      assert.ok(
        Math.abs(l - s.gpt.losses[i]!) < 1e-4,
        `tiny GPT step ${i}: ${l} vs ${s.gpt.losses[i]}`,
      );
    // The larger GPT: its first two losses (before and after an AdamW step) against ref.
    for (const [i, l] of r.refLosses.entries()) {
      assert.ok(
        Math.abs(m.step.losses[i]! - l) < 1e-3,
        `GPT step ${i}: ${m.step.losses[i]} vs ref ${l}`,
      );
      assert.ok(Math.abs(s.step.losses[i]! - l) < 1e-3, `GPT step ${i} (1 thread) vs ref`);
    }
  },
);
