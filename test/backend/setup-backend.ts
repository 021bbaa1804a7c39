/**
 * Test setup for running the whole suite on another backend: `NABLA_BACKEND=native node
 * scripts/run-tests.mjs` preloads this module (with --import) in every test process, and it
 * selects that backend before any test runs. It fails loudly when the backend is unavailable.
 * For wasm, it sets the backend up as the Node entry does (the shared-memory instance, where
 * tensors live in the wasm memory, on NABLA_WASM_THREADS threads), started on first use.
 */
import { setBackend } from '../../src/index.js';
import { useNativeBackend } from '../../src/backend/native/index.js';
import { setUpWasmForNode } from '../../src/backend/wasm/node/setup.js';

const name = process.env.NABLA_BACKEND;
if (name === 'wasm')
  // One thread unless NABLA_WASM_THREADS says otherwise: the suite's results do not depend on timing.
  setUpWasmForNode(process.env.NABLA_WASM_THREADS ?? '1', process.env.NABLA_WASM_RESIDENT_MIB);
if (name === 'native') useNativeBackend();
else if (name) setBackend(name);
