import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { TokenStore } from '../src/accounts/token-store';
import { TokenCipher } from '../src/crypto/tokens';
import { connectDatabase, type Models } from '../src/db/models';
import { freePort } from '../src/dev/stack';
import { followConnectFlow } from '../src/dev/connect-flow';
import { startJobberSandbox, type StartedJobberSandbox } from '../src/sandbox/jobber';
import { startSlackStandIn } from '../src/sandbox/slack';
import { testMongoUrl, testTemporalAddress } from './helpers/env';
import { nextIdBase, waitFor } from './helpers/pipeline';
import { signalGroup, startProcess, type Proc } from './helpers/processes';
import { groupAlive } from '../src/dev/process-group';
import { disconnectFromManagePage } from './helpers/ingress';

const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);

const lines = (proc: Proc) =>
  proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * The ingress and the worker as separate processes, started the ways the docs give: `npm run
 * ingress` + `npm run worker` (docs/JOBBER_SETUP.md), and the built `node dist/src/bin/*.js` with
 * the prebuilt workflow bundle (the Docker image, docs/DOCKER.md). Both against the test stack's
 * Temporal and FerretDB, the Jobber sandbox and the Slack stand-in over HTTP.
 */
describe.each([
  {
    how: 'npm run ingress + npm run worker',
    build: undefined,
    ingress: ['npm', ['run', 'ingress']],
    worker: ['npm', ['run', 'worker']],
  },
  {
    how: "the Docker image's commands: npm run build, the bundle, node dist/src/bin/*.js",
    build: ['npm run build', 'npx tsx scripts/bundle-workflows.ts dist/workflow-bundle.js'],
    ingress: ['node', ['dist/src/bin/ingress.js']],
    worker: ['node', ['dist/src/bin/worker.js']],
  },
] as const)('$how', ({ how, build, ingress: ingressCmd, worker: workerCmd }) => {
  const key = randomBytes(32);
  const tag = build ? 'dist' : 'npm';
  const mongoUrl = testMongoUrl(`procs-${tag}`);
  let jobber: StartedJobberSandbox;
  let slack: Awaited<ReturnType<typeof startSlackStandIn>>;
  let ingress: Proc;
  let worker: Proc;
  let ingressUrl: string;
  let workerMetricsUrl: string;
  let models: Models;
  let closeDb: () => Promise<void>;

  beforeAll(async () => {
    if (build) for (const command of build) await run('bash', ['-c', command], { cwd: ROOT });
    const port = await freePort();
    ingressUrl = `http://127.0.0.1:${port}`;
    const metricsPort = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    // Access tokens that live 8 s: refreshed at half their lifetime, one every 4 s or so.
    // Ids of its own: the two variants share the Temporal server, and account workflow ids are
    // named after the account (a workflow of the first variant's account may still be open).
    jobber = await startJobberSandbox({ port: 0, webhookUrl: `${ingressUrl}/webhooks/jobber`, accessTokenTtlSeconds: 8, idBase: nextIdBase() });
    slack = await startSlackStandIn({ port: 0 });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      PUBLIC_URL: ingressUrl,
      METRICS_PORT: String(metricsPort),
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_TASK_QUEUE: `procs-${tag}-${Date.now()}`,
      MONGO_URL: mongoUrl,
      JOBBER_CLIENT_ID: jobber.sandbox.clientId,
      JOBBER_CLIENT_SECRET: jobber.sandbox.clientSecret,
      JOBBER_API_URL: jobber.url,
      SLACK_BOT_TOKEN: slack.standIn.botToken,
      SLACK_SIGNING_SECRET: 'procs-signing-secret',
      SLACK_API_URL: slack.url,
      SLACK_ALERT_CHANNEL: 'C0PROCS',
      TOKEN_ENCRYPTION_KEY: key.toString('base64'),
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      LOG_LEVEL: 'trace',
      WORKFLOW_BUNDLE_PATH: build ? 'dist/workflow-bundle.js' : '',
    };
    ingress = startProcess(ingressCmd[0], [...ingressCmd[1]], env);
    worker = startProcess(workerCmd[0], [...workerCmd[1]], env);
    await waitFor(async () => ((await fetch(`${ingressUrl}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${ingress.output().slice(-2000)}`);
    });
    await waitFor(() => (worker.output().includes('worker running') ? true : undefined), 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${worker.output().slice(-2000)}`);
    });
    const db = await connectDatabase(mongoUrl);
    models = db.models;
    closeDb = () => db.connection.close();
  }, 240_000);

  afterAll(async () => {
    for (const proc of [ingress, worker]) if (proc) await signalGroup(proc, 'SIGKILL');
    await closeDb?.();
    await jobber?.close();
    await slack?.close();
  }, 60_000);

  it(`serves the worker process's heap and resident memory on its metrics page (${how})`, async () => {
    const page = await (await fetch(workerMetricsUrl)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(page)?.[1]);
    // A Node process with the SDK loaded holds tens of MiB of heap and more resident: real readings, not zeros.
    expect(value('nodejs_heap_size_used_bytes')).toBeGreaterThan(10 * 2 ** 20);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(value('nodejs_heap_size_used_bytes'));
  });

  it(`syncs a webhook, refreshes tokens and disconnects, logging no token or secret at trace level (${how})`, async () => {
    const tokens = new TokenStore(models, new TokenCipher(key));
    const account = jobber.sandbox.store.createAccount({ name: 'Process Co' });
    const connected = await followConnectFlow(ingressUrl, account.id);
    expect(connected.location).toBe('/manage');

    // Every pair the account holds until the disconnect, to look for in the logs: collected in
    // the background, so versions written while the test does other things are caught too.
    const seen = new Set<string>();
    const versions = new Set<number>();
    const collect = async () => {
      const now = await tokens.read(account.id).catch(() => undefined); // gone after the disconnect
      if (now) {
        seen.add(now.accessToken).add(now.refreshToken);
        versions.add(now.version);
      }
    };
    await collect();
    const collector = setInterval(() => void collect(), 25);
    // Two refreshes at half of the 8 s lifetime: about 8 s on an idle machine; the bound leaves room
    // for a loaded one (the worker is a process of its own, competing with the rest of the suite).
    await waitFor(() => (versions.size >= 3 ? true : undefined), 60_000).catch((err: Error) => {
      const lines = worker
        .output()
        .split('\n')
        .filter((l) => !l.includes('"level":10') && !l.includes('"level":20'));
      throw new Error(`${err.message}: token versions seen ${[...versions].join(', ')}\n--- worker ---\n${lines.slice(-60).join('\n')}`);
    });

    const client = jobber.sandbox.store.createClient(account.id, { firstName: 'Separate', lastName: 'Processes' });
    const stored = await waitFor(async () => (await models.Client.findById(client.id).lean()) ?? undefined, 30_000);
    expect(stored).toMatchObject({ firstName: 'Separate', lastName: 'Processes' });

    // Disconnect from the Manage App page, as the user would (it calls Jobber's appDisconnect).
    const res = await disconnectFromManagePage(ingressUrl, connected.cookies);
    expect(res.status).toBeLessThan(400);
    await waitFor(async () => ((await models.Connection.findById(account.id).lean())?.status === 'disconnected' ? true : undefined), 30_000);
    clearInterval(collector);
    expect(jobber.sandbox.oauth.log.some((e) => e.event === 'disconnect')).toBe(true);

    const logged = `${ingress.output()}\n${worker.output()}`;
    mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(path.join(ROOT, `test-artifacts/processes-${tag}.log`), logged);
    // The logs cover the paths that handle tokens: the connect, webhooks, the worker's refreshes.
    const messages = [...lines(ingress), ...lines(worker)].map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['jobber account connected', 'webhook accepted', 'worker running', 'tokens refreshed']));
    expect(lines(worker).some((l) => l.level === 10)).toBe(true); // trace level is on
    expect(seen.size).toBe(versions.size * 2); // an access and a refresh token per version, all distinct
    expect(versions.size).toBeGreaterThanOrEqual(3);
    for (const token of seen) expect(logged).not.toContain(token);
    expect(logged).not.toContain(jobber.sandbox.clientSecret);
    expect(logged).not.toContain(key.toString('base64'));
  }, 120_000);

  it(`stops gracefully on SIGTERM: the ingress drains, the worker finishes and stops (${how})`, async () => {
    // Both at once, as a supervisor stops a deployment. The group leader (npm) can exit before the
    // node process it started has finished stopping: wait for every process of both groups.
    const codes = await Promise.all([signalGroup(ingress, 'SIGTERM'), signalGroup(worker, 'SIGTERM')]);
    await waitFor(() => (!groupAlive(ingress) && !groupAlive(worker) ? true : undefined), 45_000).catch((err: Error) => {
      throw new Error(
        `${err.message}: still running: ${[groupAlive(ingress) && 'ingress', groupAlive(worker) && 'worker'].filter(Boolean).join(', ')}\n--- worker ---\n${worker.output().slice(-6000)}`,
      );
    });
    // The node processes logged their stop: the ingress drained, the worker's state went to STOPPED.
    expect(ingress.output()).toContain('"msg":"shutting down"');
    expect(worker.output()).toMatch(/"state":"STOPPED"[^\n]*Worker state changed/);
    expect(`${ingress.output()}${worker.output()}`).not.toMatch(/shutdown failed|second signal/);
    if (build) expect(codes).toEqual([0, 0]);
  }, 60_000);
});
