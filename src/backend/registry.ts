/** Which backend new tensors are created on; `setBackend` switches it. */
import { ValueError } from '../core/errors.js';
import type { Backend } from './backend.js';
import { refBackend } from './ref/index.js';

const backends = new Map<string, Backend>([['ref', refBackend]]);
// Backends created on first use (the native addon, loaded only when asked for).
const loaders = new Map<string, () => Backend>();
let current: Backend = refBackend;

/** Makes a backend available to `setBackend` by its name. */
export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

/**
 * Makes `name` available to `setBackend`, created by `load` on first use. `load` may throw (a
 * missing native addon): setBackend then reports its error.
 */
export function registerBackendLoader(name: string, load: () => Backend): void {
  if (!backends.has(name)) loaders.set(name, load);
}

function lookup(name: string): Backend | undefined {
  const known = backends.get(name);
  if (known) return known;
  const load = loaders.get(name);
  if (!load) return undefined;
  const b = load();
  backends.set(name, b);
  loaders.delete(name);
  return b;
}

/**
 * Selects the backend for tensors created from now on.
 *
 * @example
 * nb.setBackend('ref');
 */
export function setBackend(nameOrBackend: string | Backend): Backend {
  const b = typeof nameOrBackend === 'string' ? lookup(nameOrBackend) : nameOrBackend;
  if (!b) {
    const hint =
      nameOrBackend === 'native'
        ? "; the native backend is Node-only: import 'nabla' in Node, or 'nabla/node', to register it"
        : '';
    throw new ValueError(
      `setBackend: unknown backend ${JSON.stringify(nameOrBackend)}; available: ${listBackends().join(', ')}${hint}`,
    );
  }
  current = b;
  return b;
}

/** The backend new tensors are created on. */
export function getBackend(): Backend {
  return current;
}

/** Names of the registered backends (including those created on first use). */
export function listBackends(): string[] {
  return [...backends.keys(), ...loaders.keys()];
}
