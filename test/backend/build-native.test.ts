/**
 * scripts/build-native.mjs never fails an installation: a skipped or failed build prints one line
 * and exits 0 (nabla then uses its WebAssembly backend), unless NABLA_NATIVE_STRICT=1. The failing node-gyp
 * here is a stand-in script, so these tests neither compile nor touch build/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'build-native.mjs');

function run(env: Record<string, string>): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NABLA_NATIVE_VERBOSE: '', NABLA_NATIVE_STRICT: '', ...env },
  });
  return { status: r.status, stdout: r.stdout };
}

test('NABLA_SKIP_NATIVE=1: one line, exit 0', () => {
  const r = run({ NABLA_SKIP_NATIVE: '1' });
  assert.equal(r.status, 0);
  assert.equal(
    r.stdout.trim(),
    'nabla: native backend not built (NABLA_SKIP_NATIVE=1); nabla will use its WebAssembly backend',
  );
});

test('a failing node-gyp: one line with the reason, exit 0 (exit 1 when strict)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nabla-gyp-'));
  try {
    const fake = join(dir, 'node-gyp.js');
    writeFileSync(
      fake,
      "console.error('gyp ERR! stack Error: not found: make'); process.exit(1);\n",
    );
    const r = run({ npm_config_node_gyp: fake });
    assert.equal(r.status, 0);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^nabla: native backend not built \(.*not found: make.*\); nabla will use its WebAssembly backend$/,
    );
    assert.equal(run({ npm_config_node_gyp: fake, NABLA_NATIVE_STRICT: '1' }).status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
