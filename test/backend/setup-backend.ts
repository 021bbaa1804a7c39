/**
 * Test setup for running the whole suite on another backend: `NABLA_BACKEND=native node
 * scripts/run-tests.mjs` preloads this module (with --import) in every test process, and it
 * selects that backend before any test runs. It fails loudly when the backend is unavailable.
 */
import { setBackend } from '../../src/index.js';
import { useNativeBackend } from '../../src/backend/native/index.js';

const name = process.env.NABLA_BACKEND;
if (name === 'native') useNativeBackend();
else if (name) setBackend(name);
