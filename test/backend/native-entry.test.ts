/**
 * The Node entry points and the native backend's availability, each in a fresh `node` process:
 * `nabla` in Node (src/index.node.ts) makes 'native' the default when the addon is built, and
 * NABLA_BACKEND=ref keeps the reference backend; without the addon (NABLA_NATIVE_PATH pointing
 * nowhere) everything stays on 'ref' and setBackend('native') explains how to build it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { skipNative } from './native-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const src = (p: string): string => pathToFileURL(join(root, 'src', p)).href;

/** Runs `program` (TypeScript, through tsx) in a fresh process; returns its parsed JSON output. */
function run(program: string, env: Record<string, string | undefined>): Record<string, unknown> {
  const file = join(here, `.tmp-entry-${process.pid}-${Date.now()}.ts`);
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
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  } finally {
    rmSync(file, { force: true });
  }
}

const probe = `
import * as nb from '${src('index.node.ts')}';
const x = nb.tensor([[1, 2], [3, 4]]);
const y = x.matmul(x).sum().item();
let err = null;
try { nb.setBackend('native'); } catch (e) { err = { name: e.name, message: e.message }; }
console.log(JSON.stringify({ backend: x.device, y, err, list: nb.listBackends() }));
`;

test('in Node, nabla makes the native backend the default', { skip: skipNative }, () => {
  const out = run(probe, { NABLA_BACKEND: undefined });
  assert.equal(out.backend, 'native');
  assert.equal(out.y, 54);
  assert.equal(out.err, null);
});

test(
  'NABLA_BACKEND=ref keeps the reference backend, with native still selectable',
  {
    skip: skipNative,
  },
  () => {
    const out = run(probe, { NABLA_BACKEND: 'ref' });
    assert.equal(out.backend, 'ref');
    assert.equal(out.err, null);
  },
);

test('without the addon: wasm becomes the default and setBackend("native") says how to build', () => {
  const out = run(probe, {
    NABLA_BACKEND: undefined,
    NABLA_NATIVE_PATH: '/nonexistent/nabla.node',
  });
  assert.equal(out.backend, 'wasm');
  assert.equal(out.y, 54);
  const err = out.err as { name: string; message: string };
  assert.equal(err.name, 'NativeBackendError');
  assert.match(err.message, /not available/);
  assert.match(err.message, /npm rebuild nabla/);
  assert.match(err.message, /build-native\.mjs/);
});

test('the browser entry alone does not know the native backend, and says where it lives', () => {
  const program = `
import * as nb from '${src('index.ts')}';
let message = '';
try { nb.setBackend('native'); } catch (e) { message = e.message; }
console.log(JSON.stringify({ backend: nb.getBackend().name, message }));
`;
  const out = run(program, {});
  assert.equal(out.backend, 'ref');
  assert.match(out.message as string, /Node-only/);
  assert.match(out.message as string, /available: ref/);
});
