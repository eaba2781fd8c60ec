// ESLint 9 flat config for MantisDB.
//
// Deliberately uses the non-type-checked typescript-eslint presets so that
// `npm run lint` stays fast (no TypeScript program is built); `npm run
// typecheck` covers the type-level checks.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const TS_SOURCE_DIRS = ['src', 'workers', 'shared', 'test', 'bench', 'stress'];
const TS_FILES = [...TS_SOURCE_DIRS.map((dir) => `${dir}/**/*.ts`), 'vitest.config.ts'];

// Everything runs on Node 20. `globals.node` covers process, Buffer, console,
// timers, queueMicrotask, URL, TextEncoder/TextDecoder, AbortController/Signal,
// fetch/Request/Response/Headers, structuredClone and performance.
// SharedArrayBuffer and Atomics are ES builtins (also provided by
// ecmaVersion 'latest'); they are listed explicitly for clarity.
const nodeGlobals = {
  ...globals.node,
  SharedArrayBuffer: 'readonly',
  Atomics: 'readonly',
};

const sharedRules = {
  'no-constant-condition': ['error', { checkLoops: false }],
  eqeqeq: ['error', 'smart'],
};

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'src/admin/dist/'],
  },
  {
    files: TS_FILES,
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: nodeGlobals,
    },
    rules: {
      ...sharedRules,
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // The dashboard: a browser app (React, built by Vite).
    files: ['admin/**/*.ts', 'admin/**/*.tsx'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    rules: {
      ...sharedRules,
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['admin/vite.config.ts'],
    languageOptions: { globals: nodeGlobals },
  },
  {
    // Plain JS at the repo root (this file, any helper scripts).
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: nodeGlobals,
    },
    rules: {
      ...sharedRules,
      'no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
