// Lint: typescript-eslint's strict, type-checked rules over every hand-written TypeScript file.
// Type-aware through the project service: each file is checked with the tsconfig.json nearest to it
// (client/ without Node types, broker/ without DOM), so lint sees the same types as `npm run typecheck`.
// Each rule turned off or adjusted below says why: a deliberate choice of this codebase, not a convenience.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', 'schemas/tickbus_generated.ts', 'bench/results/', 'docs/', '**/*.d.ts'],
  },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  {
    rules: {
      // Offsets, counts and sizes go into error messages ("partition 7 of 3"); a number prints as itself.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // With noUncheckedIndexedAccess every a[i] is T | undefined; after the bounds check the hot paths (codecs,
      // the log, the accumulator) assert with `!` rather than branch again on every element.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `() => resolve()` in callbacks and `return this.fail(err)` in a void method (one line: act, then stop)
      // are idioms here; a void expression in a value position is still an error.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // Async APIs reject, never throw: a Promise-returning method (a Target's prepare, a model command's run)
      // is `async` so that even a synchronous throw in it becomes a rejection, with or without an await.
      '@typescript-eslint/require-await': 'off',
      // A parameter a signature requires but this implementation ignores is named _like_this.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // vitest's asymmetric matchers (expect.any, expect.stringMatching) are typed any by design.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    // Plain JS (this file, scripts/*.mjs) has no types to check against.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    // The scripts run on Node.
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
