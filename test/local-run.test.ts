import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../src/dev/stack';
import { waitFor } from './helpers/pipeline';

const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);

/** The README's local run, as a user starts it, and the demo script against it. */
describe('npm run local + npm run demo', () => {
  let local: ChildProcess;
  let output = '';
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    for (const name of ['PORT', 'LOCAL_TEMPORAL_PORT', 'LOCAL_TEMPORAL_UI_PORT', 'LOCAL_MONGO_PORT', 'JOBBER_SANDBOX_PORT', 'SLACK_STANDIN_PORT', 'METRICS_PORT']) {
      ports[name] = await freePort();
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      LOCAL_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'local-run-')),
    };
    // Embedded defaults: the local run starts its own servers.
    delete env.TEMPORAL_ADDRESS;
    delete env.MONGO_URL;
    local = spawn('npm', ['run', 'local'], { cwd: ROOT, env, detached: true });
    local.stdout!.on('data', (d) => (output += d));
    local.stderr!.on('data', (d) => (output += d));
    await waitFor(() => (output.includes('Ctrl-C stops everything') ? true : undefined), 120_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output.slice(-3000)}`);
    });
  }, 150_000);

  afterAll(async () => {
    if (!local || local.exitCode !== null) return;
    const exited = new Promise((resolve) => local.once('exit', resolve));
    process.kill(-local.pid!, 'SIGINT'); // Ctrl-C reaches the whole process group
    await exited;
  }, 60_000);

  it('serves the Web UI, a healthy ingress, and shows the demo\'s workflows in the Web UI', async () => {
    const ui = `http://127.0.0.1:${ports.LOCAL_TEMPORAL_UI_PORT}`;
    expect((await fetch(ui)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${ports.PORT}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(((await (await fetch(`http://127.0.0.1:${ports.PORT}/readyz`)).json()) as { status: string }).status).toBe('ready');

    const env = { ...process.env, PORT: String(ports.PORT), JOBBER_SANDBOX_PORT: String(ports.JOBBER_SANDBOX_PORT), SLACK_STANDIN_PORT: String(ports.SLACK_STANDIN_PORT), LOCAL_TEMPORAL_UI_PORT: String(ports.LOCAL_TEMPORAL_UI_PORT) };
    const { stderr } = await run('npm', ['run', 'demo'], { cwd: ROOT, env });
    expect(stderr).toMatch(/sent webhooks for a client, a job and a paid invoice/);

    // What the Web UI shows comes from this API of the UI server.
    const workflows = await waitFor(async () => {
      const res = await fetch(`${ui}/api/v1/namespaces/default/workflows?query=${encodeURIComponent('WorkflowType="jobberEventWorkflow" AND ExecutionStatus="Completed"')}`);
      const body = (await res.json()) as { executions?: { execution: { workflowId: string } }[] };
      const ids = (body.executions ?? []).map((e) => e.execution.workflowId);
      return ids.some((id) => id.includes('/INVOICE_UPDATE/')) && ids.some((id) => id.includes('/JOB_CREATE/')) ? ids : undefined;
    }, 30_000);
    expect(workflows.every((id) => id.startsWith('jobber-event/'))).toBe(true);
    const messages = (await (await fetch(`http://127.0.0.1:${ports.SLACK_STANDIN_PORT}/admin/messages`)).json()) as { messages: { text: string }[] };
    const texts = messages.messages.map((m) => m.text);
    expect(texts).toEqual(expect.arrayContaining([expect.stringMatching(/^New job #1: Spring cleanup/), expect.stringMatching(/^Invoice #1 paid/)]));
    expect(texts).toHaveLength(2);

    // Operators' metrics: the ingress's, and the worker's (the SDK's and ours on one endpoint).
    const ingressMetrics = await (await fetch(`http://127.0.0.1:${ports.PORT}/metrics`)).text();
    expect(ingressMetrics).toMatch(/jobber_webhooks_total\{outcome="accepted"\} [1-9]/);
    expect(ingressMetrics).toMatch(/jobber_webhook_ack_seconds_bucket/);
    const workerMetrics = await (await fetch(`http://127.0.0.1:${ports.METRICS_PORT}/metrics`)).text();
    expect(workerMetrics).toMatch(/jobber_requests[^\n]*operation="Job"[^\n]*outcome="ok"/);
    expect(workerMetrics).toMatch(/slack_alerts[^\n]*outcome="sent"/);
    expect(workerMetrics).toMatch(/temporal_workflow_completed/);
  }, 90_000);
});
