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
import { test } from 'node:test';
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

/** The page: everything runs in the browser; the result (or the error) is POSTed to /result. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="module">
const report = (r) => fetch('/result', { method: 'POST', body: JSON.stringify(r) });
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
  let matmulDiff = 0;
  for (let i = 0; i < viaRef.length; i++) matmulDiff = Math.max(matmulDiff, Math.abs(viaWasm[i] - viaRef[i]));

  // A tiny GPT learns "next token = token + 1 (mod 16)".
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
  const ms = performance.now() - t0;
  report({ ok: true, defaultBackend, compiled, backend: nb.getBackend().name, matmulDiff, losses, ms,
    features: nb.wasmFeatures(), userAgent: navigator.userAgent });
} catch (e) {
  report({ ok: false, error: String((e && e.stack) || e) });
}
</script>`;

interface PageResult {
  ok: boolean;
  error?: string;
  defaultBackend: string;
  compiled: boolean;
  backend: string;
  matmulDiff: number;
  losses: number[];
  ms: number;
  features: { ready: boolean; relaxedSimd: boolean; threads: number };
  userAgent: string;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json' };

/** Serves the page at /, dist/ under /dist/, and resolves with the page's POST to /result. */
function serve(onResult: (r: PageResult) => void) {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/result') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.end('ok');
        onResult(JSON.parse(body) as PageResult);
      });
      return;
    }
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
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

test(
  'e2e: the browser build runs on the wasm backend in headless Chromium',
  { skip },
  async (t) => {
    let resolveResult!: (r: PageResult) => void;
    const result = new Promise<PageResult>((r) => (resolveResult = r));
    const server = serve(resolveResult).listen(0, '127.0.0.1');
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
      const r = await Promise.race([result, exited, timeout]);
      assert.ok(r.ok, `the page threw: ${r.error}`);
      t.diagnostic(
        `${r.userAgent}: 40 GPT steps in ${r.ms.toFixed(0)} ms, loss ${r.losses[0]!.toFixed(3)} → ${r.losses.at(-1)!.toFixed(3)}; wasm ${JSON.stringify(r.features)}`,
      );
      // Chrome ships relaxed SIMD from 114: there the GEMM's companion module must be in use.
      const chrome = Number(/Chrome\/(\d+)/.exec(r.userAgent)?.[1] ?? 0);
      if (chrome >= 114) assert.equal(r.features.relaxedSimd, true, 'relaxed-SIMD GEMM in use');
      assert.equal(r.features.threads, 1, 'no worker threads in the browser');
      assert.equal(r.defaultBackend, 'wasm', 'wasm is the default backend in browsers');
      assert.equal(r.compiled, true, 'the WebAssembly module compiled (SIMD available)');
      assert.equal(r.backend, 'wasm');
      assert.ok(r.matmulDiff < 1e-4, `wasm matmul differs from ref by ${r.matmulDiff}`);
      assert.equal(r.losses.length, 40);
      assert.ok(r.losses.every(Number.isFinite), `non-finite loss: ${r.losses.join(', ')}`);
      // From about log(16) = 2.77 to well below: the mapping is learnable in 40 steps.
      assert.ok(r.losses[0]! > 2, `first loss ${r.losses[0]}`);
      assert.ok(r.losses.at(-1)! < 0.5 * r.losses[0]!, `losses: ${r.losses.join(', ')}`);
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
  },
);
