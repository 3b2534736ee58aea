/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Transpile only (tsconfig has isolatedModules); npm test type-checks with tsc --noEmit first.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // The real Temporal dev server and FerretDB are started once for the whole run.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  setupFiles: ['<rootDir>/test/setup-runtime.ts'],
  testTimeout: 60_000,
  // Two cores: the servers need one, the tests share the other.
  maxWorkers: 2,
};
