// Builds the native backend (native/*.cc → build/Release/nabla.node) with node-gyp. Run by npm at
// install time ("install" script) and by hand (`node scripts/build-native.mjs`). It never fails
// the installation: without a compiler, Python, node-gyp or Node's headers it prints one line and
// exits 0, and nabla keeps using the reference (TypeScript) backend.
//
// Environment: NABLA_SKIP_NATIVE=1 skips the build; NABLA_NATIVE_VERBOSE=1 shows node-gyp's output;
// NABLA_NATIVE_STRICT=1 makes a failed build exit 1 (for CI jobs that require the addon).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const verbose = process.env.NABLA_NATIVE_VERBOSE === '1';
const strict = process.env.NABLA_NATIVE_STRICT === '1';
const TIMEOUT_MS = 10 * 60 * 1000;

function skip(reason) {
  console.log(
    `nabla: native backend not built (${reason}); nabla will use its WebAssembly backend`,
  );
  process.exit(strict ? 1 : 0);
}

/** node-gyp's entry script: npm's own copy (npm tells scripts where it is), else a local one. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const require = createRequire(import.meta.url);
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a local dependency
  }
  // npm's bundled copy, next to the running node (…/bin/node → …/lib/node_modules/npm/…).
  const prefix = resolve(dirname(process.execPath), '..');
  for (const lib of ['lib/node_modules', 'node_modules']) {
    candidates.push(join(prefix, lib, 'npm/node_modules/node-gyp/bin/node-gyp.js'));
  }
  if (process.env.npm_execpath) {
    // …/npm/bin/npm-cli.js → …/npm/node_modules/node-gyp/bin/node-gyp.js
    candidates.push(
      resolve(dirname(process.env.npm_execpath), '..', 'node_modules/node-gyp/bin/node-gyp.js'),
    );
  }
  return candidates.find((c) => c.endsWith('.js') && existsSync(c)) ?? null;
}

/** Node's own headers (include/node/node_api.h) next to the running node, if installed. */
function localNodeDir() {
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

/** The last non-empty lines of a build log, squeezed to one line. */
function tail(text) {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('gyp info'));
  const err = lines.filter((l) => /error|not found|ERR!/i.test(l));
  return (err.length > 0 ? err.slice(0, 2) : lines.slice(-1)).join(' | ').slice(0, 300);
}

function main() {
  if (process.env.NABLA_SKIP_NATIVE === '1') skip('NABLA_SKIP_NATIVE=1');
  if (!existsSync(join(root, 'binding.gyp')) || !existsSync(join(root, 'native'))) {
    skip('no native sources in this installation');
  }
  const gyp = findNodeGyp();
  if (!gyp) skip('node-gyp not found');
  const args = [gyp, 'rebuild', '--release'];
  const nodedir = localNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const jobs = Math.max(1, Math.min(8, availableParallelism()));
  args.push(`--jobs=${jobs}`);
  if (!verbose) args.push('--loglevel=error');
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    stdio: verbose ? 'inherit' : 'pipe',
    timeout: TIMEOUT_MS,
    env: { ...process.env, JOBS: String(jobs) },
  });
  if (r.error) skip(`node-gyp did not run: ${r.error.message}`);
  if (r.status !== 0) {
    const why = verbose ? `node-gyp exited with ${r.status}` : tail(`${r.stdout}\n${r.stderr}`);
    skip(why || `node-gyp exited with ${r.status}`);
  }
  const out = join(root, 'build', 'Release', 'nabla.node');
  if (!existsSync(out)) {
    const found = existsSync(join(root, 'build', 'Release'))
      ? readdirSync(join(root, 'build', 'Release')).join(', ')
      : 'nothing';
    skip(`build/Release/nabla.node missing after the build (found ${found})`);
  }
  // Load it once here so that a broken binary is reported now, not at first use.
  try {
    createRequire(import.meta.url)(out);
  } catch (e) {
    skip(`the built addon does not load: ${e instanceof Error ? e.message : String(e)}`);
  }
  console.log('nabla: native backend built (build/Release/nabla.node)');
}

main();
