/**
 * Guards the opt-in whole-suite runs: `NABLA_BACKEND=native node scripts/run-tests.mjs` must run
 * every test file on that backend (test/backend/setup-backend.ts), and plain runs on 'ref'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

test('the suite runs on the backend NABLA_BACKEND names (ref by default)', () => {
  const wanted = process.env.NABLA_BACKEND || 'ref';
  assert.equal(nb.getBackend().name, wanted);
  assert.equal(nb.zeros([2]).device, wanted);
});
