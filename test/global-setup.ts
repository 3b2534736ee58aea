import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startStack, type Stack } from '../src/dev/stack';
import { WORKFLOW_BUNDLE } from '../src/worker/bundle';

declare global {
  var __STACK__: Stack | undefined;
}

/**
 * Starts the real servers once for the whole run (or uses TEMPORAL_ADDRESS / MONGO_URL when set)
 * and builds the workflow bundle once; test files find both through environment variables.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'jobber-sync-test-'));
  const stack = await startStack({
    dataDir,
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    mongoUrl: process.env.MONGO_URL || undefined,
    log: (m) => console.warn(`[test stack] ${m}`),
  });
  globalThis.__STACK__ = stack;
  // What production bundles (scripts/bundle-workflows.ts): the replay test replays this code.
  const bundle = await bundleWorkflowCode({
    ...WORKFLOW_BUNDLE,
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  process.env.TEST_TEMPORAL_ADDRESS = stack.temporalAddress;
  process.env.TEST_MONGO_URL = stack.mongoUrl;
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.TEST_DATA_DIR = dataDir;
}
