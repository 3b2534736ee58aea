import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// The sandbox and the dev servers (src/sandbox, src/dev) are for local runs, the bench and tests:
// product code may not import them, nor the packages only they use (devDependencies, not in the
// image). Only the entry points below, bench/, scripts/ and test/ may.
const boundary = {
  patterns: [
    {
      group: ['**/sandbox', '**/sandbox/**', '**/dev', '**/dev/**'],
      message:
        'The Jobber sandbox and the dev servers are not product code: only src/bin/local.ts, src/bin/sandbox.ts, src/bin/demo.ts, bench/ and test/ may import them.',
    },
  ],
  paths: ['jose', '@graphql-tools/schema'].map((name) => ({ name, message: 'Used by the sandbox only: a devDependency, not installed in the image.' })),
};
const SANDBOX_ENTRY_POINTS = ['src/sandbox/**', 'src/dev/**', 'src/bin/local.ts', 'src/bin/sandbox.ts', 'src/bin/demo.ts'];

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
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    ignores: SANDBOX_ENTRY_POINTS,
    rules: { '@typescript-eslint/no-restricted-imports': ['error', boundary] },
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
            ...[
              'mongoose',
              'koa',
              '@koa/router',
              'graphql-request',
              'graphql',
              'pino',
              'prom-client',
              '@temporalio/client',
              '@temporalio/worker',
              '@temporalio/activity',
            ].map((name) => ({ name, message: 'Not allowed in workflow code (runs in the sandbox).' })),
            ...boundary.paths,
          ],
          patterns: [
            ...boundary.patterns,
            { group: ['@slack/*'], message: 'Not allowed in workflow code (runs in the sandbox).' },
            {
              // Not the sandbox or the dev servers: those not even as types (above).
              regex: '(^|/)activities(/|$)|(^|/)src/(?!(sandbox|dev)(/|$))',
              allowTypeImports: true,
              message: 'Import activity and service code into workflows as types only.',
            },
          ],
        },
      ],
    },
  },
);
