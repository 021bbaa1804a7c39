// Lint rules: typescript-eslint's recommended set, plus a few that keep the core honest.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'coverage/', 'test/fixtures/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      // The library proper runs in browsers too: no Node built-ins outside the CLI and adapters.
      'no-restricted-imports': ['error', { patterns: ['node:*'] }],
    },
  },
  {
    // Node-only adapters (published as the `nabla/node` entry point) may use Node built-ins.
    files: ['src/io/node/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Node-only lab code: rendering plots to SVG and writing report files.
    files: ['src/lab/node/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // AssemblyScript (compiled to WebAssembly by scripts/build-wasm.mjs, not run as JavaScript):
    // `==` on its value types is the idiom.
    files: ['wasm/assembly/**'],
    rules: { eqeqeq: 'off' },
  },
  {
    // The native backend loads a Node addon, the wasm backend's threads are worker_threads; only
    // the Node entry points import them.
    files: [
      'src/backend/native/**',
      'src/backend/wasm/node/**',
      'src/node.ts',
      'src/index.node.ts',
    ],
    rules: { 'no-restricted-imports': 'off' },
  },
);
