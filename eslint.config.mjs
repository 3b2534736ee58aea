import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.data/', 'coverage/', 'test-artifacts/', '*.js', '*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O libraries, no Node built-ins,
    // and activity code only as types.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...builtinModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'Workflows are deterministic: no Node built-ins.' })),
            ...['mongoose', 'koa', '@koa/router', 'graphql-request', 'graphql', 'pino', 'prom-client', '@temporalio/client', '@temporalio/worker', '@temporalio/activity']
              .map((name) => ({ name, message: 'Not allowed in workflow code (runs in the sandbox).' })),
          ],
          patterns: [
            { group: ['@slack/*'], message: 'Not allowed in workflow code (runs in the sandbox).' },
            { group: ['**/activities', '**/activities/*', '**/src/*', '**/src/**'], allowTypeImports: true, message: 'Import activity and service code into workflows as types only.' },
          ],
        },
      ],
    },
  },
);
