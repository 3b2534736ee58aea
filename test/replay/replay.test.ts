import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { workflowTracingSinks } from '../../src/telemetry/temporal';
import { TRACING_RANDOM_STREAM } from '../../src/telemetry/workflow-interceptors';
import { testWorkflowBundle } from '../helpers/env';

const DIR = path.join(__dirname, 'histories');
const histories = readdirSync(DIR).filter((f) => f.endsWith('.json'));

/**
 * Replays histories recorded from real runs against today's workflow code: a change that would
 * break running workflows (non-determinism) fails here. Re-record with `npm run record-histories`
 * only after making such a change safe with patched() or a new workflow type.
 *
 * The bundle is the one production runs (src/worker/bundle.ts: the workflows and the tracing
 * interceptors), replayed with the sinks every worker registers, tracing off.
 */
describe('workflow replay of saved histories', () => {
  it('has histories to replay', () => {
    expect(histories.length).toBeGreaterThanOrEqual(12);
  });

  it('replays the bundle production runs: the workflows with the tracing interceptors', () => {
    // Built by the global setup from src/worker/bundle.ts, as scripts/bundle-workflows.ts builds the image's.
    const bundle = readFileSync(testWorkflowBundle(), 'utf8');
    expect(bundle).toContain(TRACING_RANDOM_STREAM);
    expect(bundle).toContain('jobberEventWorkflow');
  });

  it.each(histories)('replays %s deterministically', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { codePath: testWorkflowBundle() }, sinks: workflowTracingSinks(undefined), replayName: file }, history);
  });
});
