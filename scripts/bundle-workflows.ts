/**
 * Prebuilds the workflow bundle, as Temporal's production sample does, so the worker starts
 * without webpack work and runs exactly the workflow code that was built and tested.
 *
 *   npx tsx scripts/bundle-workflows.ts [outPath]     (default: dist/workflow-bundle.js)
 *
 * The worker loads it when WORKFLOW_BUNDLE_PATH names the file (the Docker image sets it).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE } from '../src/worker/bundle';

const ROOT = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  const outPath = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist', 'workflow-bundle.js'));
  const { code } = await bundleWorkflowCode({
    // The workflows and their interceptors, as the worker and the tests bundle them.
    ...WORKFLOW_BUNDLE,
    // Only problems: the bundler's info lines would drown the build output.
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (message, meta) => console.warn(message, meta ?? ''),
      error: (message, meta) => console.error(message, meta ?? ''),
    },
  });
  await mkdir(path.dirname(outPath), { recursive: true });
  await writeFile(outPath, code);
  process.stdout.write(`workflow bundle written to ${outPath} (${Math.round(code.length / 1024)} KiB)\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
