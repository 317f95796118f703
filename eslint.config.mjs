// One linter for the whole tree. Workflow code must stay deterministic, so Node built-ins
// and non-type imports of I/O modules are banned under src/workflows.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Folders of src/ whose modules do I/O: workflow code may import their types, never their values.
const IO_FOLDERS = ['activities', 'actions', 'probes', 'backup', 'notify', 'logging', 'processes', 'safety', 'metrics', 'proc', 'fs-safe', 'worker', 'cli', 'temporal', 'config/load', 'watch'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'test-output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The CLI loads each command module on demand (startup time), which needs require().
    files: ['src/cli/main.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`)].map((name) => ({
            name,
            message: 'Workflow code must be deterministic: no Node built-ins.',
          })),
          patterns: [
            {
              // The bare folder import ('../activities') too, and every folder that does I/O.
              group: IO_FOLDERS.flatMap((f) => [`../${f}`, `../${f}/*`, `../${f}/**`]),
              allowTypeImports: true,
              message: 'Workflow code imports types only from modules that do I/O.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'setInterval', message: 'Use workflow sleep().' }],
    },
  },
);
