// Runs every test file under test/ with Node's built-in test runner (TypeScript through tsx).
// Node 20's `--test` does not expand globs, so the files are listed here.
// NABLA_BACKEND=native runs the whole suite on the native backend (see test/backend/setup-backend.ts).
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = findTests('test')
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const setup = process.env.NABLA_BACKEND
  ? ['--import', pathToFileURL(resolve('test/backend/setup-backend.ts')).href]
  : [];
const result = spawnSync(process.execPath, ['--import', 'tsx', ...setup, '--test', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
