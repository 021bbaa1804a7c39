/**
 * The built package as a consumer sees it: a plain .mjs file that does `import * as nb from 'nabla'`
 * (Node's package self-reference through package.json "exports"), run in a fresh `node` process.
 * Needs dist/ from `npm run build` (which `npm test` runs first); skipped without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const dist = join(root, 'dist', 'index.js');

const program = `
import * as nb from 'nabla';
const x = nb.tensor([[1, 2], [3, 4]], { requiresGrad: true });
const y = x.matmul(x).sum();
y.backward();
console.log(JSON.stringify({ y: y.item(), grad: x.grad.toArray()}));
`;

test(
  "e2e: import * as nb from 'nabla' resolves to dist/ and computes",
  { skip: existsSync(dist) ? false : `dist/index.js not found: run \`npm run build\` first` },
  () => {
    // Inside the repository, so that Node resolves 'nabla' to this package's own "exports".
    const file = join(here, `.tmp-import-${process.pid}-${Date.now()}.mjs`);
    writeFileSync(file, program);
    try {
      const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8' });
      assert.equal(r.status, 0, `node exited with ${r.status}:\n${r.stderr}`);
      const out = JSON.parse(r.stdout.trim()) as { y: number; grad: number[][] };
      // x @ x = [[7, 10], [15, 22]], sum 54; d sum(x @ x) / dx[i][j] = (row sum j) + (column sum i).
      assert.equal(out.y, 54);
      assert.deepEqual(out.grad, [
        [7, 11],
        [9, 13],
      ]);
    } finally {
      rmSync(file, { force: true });
    }
  },
);

const nodeProgram = `
import { saveCheckpoint, loadCheckpoint, readTextFile, saveSafetensorsFile, setNumThreads } from 'nabla/node';
console.log(JSON.stringify([saveCheckpoint, loadCheckpoint, readTextFile, saveSafetensorsFile, setNumThreads].map((f) => typeof f)));
`;

test(
  "e2e: 'nabla/node' exports the file, checkpoint and native-backend helpers",
  { skip: existsSync(dist) ? false : `dist/index.js not found: run \`npm run build\` first` },
  () => {
    const file = join(here, `.tmp-import-node-${process.pid}-${Date.now()}.mjs`);
    writeFileSync(file, nodeProgram);
    try {
      const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8' });
      assert.equal(r.status, 0, `node exited with ${r.status}:\n${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout.trim()), Array(5).fill('function'));
    } finally {
      rmSync(file, { force: true });
    }
  },
);
