/** Which backend new tensors are created on; `setBackend` switches it. */
import { ValueError } from '../core/errors.js';
import type { Backend } from './backend.js';
import { refBackend } from './ref/index.js';

const backends = new Map<string, Backend>([['ref', refBackend]]);
let current: Backend = refBackend;

/** Makes a backend available to `setBackend` by its name. */
export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

/**
 * Selects the backend for tensors created from now on.
 *
 * @example
 * nb.setBackend('ref');
 */
export function setBackend(nameOrBackend: string | Backend): Backend {
  const b = typeof nameOrBackend === 'string' ? backends.get(nameOrBackend) : nameOrBackend;
  if (!b) {
    throw new ValueError(
      `setBackend: unknown backend ${JSON.stringify(nameOrBackend)}; available: ${[...backends.keys()].join(', ')}`,
    );
  }
  current = b;
  return b;
}

/** The backend new tensors are created on. */
export function getBackend(): Backend {
  return current;
}

/** Names of the registered backends. */
export function listBackends(): string[] {
  return [...backends.keys()];
}
