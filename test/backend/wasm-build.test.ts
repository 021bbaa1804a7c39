/**
 * The committed WebAssembly (src/backend/wasm/binary.ts) is what scripts/build-wasm.mjs makes from
 * wasm/assembly/ today: editing the AssemblyScript without rebuilding fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('src/backend/wasm/binary.ts matches a fresh build of wasm/assembly/', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--check'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /up to date/);
});
