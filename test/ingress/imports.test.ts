import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/stack';
import { testMongoUrl, testTemporalAddress } from '../helpers/env';
import { waitFor } from '../helpers/pipeline';
import { signalGroup, startProcess } from '../helpers/processes';

const REPORT = 'loaded-temporal-packages:';

/**
 * Loaded before the ingress: when the process exits, prints every @temporalio package it loaded
 * (from require's own cache, so nothing the import graph hides, lazy or transitive, escapes).
 */
const PRELOAD = `
const { sep } = require('node:path');
process.on('exit', () => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const parts = file.split(sep);
    const at = parts.lastIndexOf('@temporalio');
    if (at > 0 && parts[at - 1] === 'node_modules') packages.add('@temporalio/' + parts[at + 1]);
  }
  process.stdout.write('\\n${REPORT}' + JSON.stringify([...packages].sort()) + '\\n');
});
`;

/**
 * The ingress only talks to workflows (start, signal, update): it must not load the worker's SDK,
 * its native core and bundler (issue 10). The real ingress process, started as `npm run ingress`
 * does (tsx), serves until ready and is stopped the way a supervisor stops it.
 */
describe('the ingress process', () => {
  it('loads @temporalio/client but not @temporalio/worker or its native core', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ingress-imports-'));
    const preload = path.join(dir, 'report-loaded.js');
    writeFileSync(preload, PRELOAD);
    const port = await freePort();
    const ingress = startProcess(process.execPath, ['--require', preload, '--require', 'tsx/cjs', 'src/bin/ingress.ts'], {
      ...process.env,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      TEMPORAL_ADDRESS: testTemporalAddress(),
      MONGO_URL: testMongoUrl('ingress-imports'),
      JOBBER_CLIENT_ID: 'imports-client-id',
      JOBBER_CLIENT_SECRET: 'imports-client-secret',
      JOBBER_API_URL: 'http://127.0.0.1:9/api',
      SLACK_BOT_TOKEN: 'xoxb-imports',
      SLACK_SIGNING_SECRET: 'imports-signing-secret',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      SLACK_ALERT_CHANNEL: 'C0IMPORTS',
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      SESSION_SECRET: 'imports-session-secret-0123456789abcdef',
    });
    try {
      await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 60_000);
    } catch (err) {
      await signalGroup(ingress, 'SIGKILL');
      throw new Error(`${(err as Error).message}\n${ingress.output().slice(-2000)}`);
    }
    expect(await signalGroup(ingress, 'SIGTERM')).toBe(0);

    const line = ingress
      .output()
      .split('\n')
      .find((l) => l.startsWith(REPORT));
    if (!line) throw new Error(`the ingress printed no report of its modules:\n${ingress.output().slice(-2000)}`);
    const loaded = JSON.parse(line.slice(REPORT.length)) as string[];
    // The positive control: the reader sees the SDK the ingress does use.
    expect(loaded).toContain('@temporalio/client');
    expect(loaded).not.toContain('@temporalio/worker');
    // Nor, through anything else, the SDK's native core that the worker runs on.
    expect(loaded).not.toContain('@temporalio/core-bridge');
  }, 120_000);
});
