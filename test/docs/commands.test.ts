import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config';
import { connectDatabase } from '../../src/db/models';
import { readableId } from '../../workflows/ids';
import { signalGroup, startProcess, type Proc } from '../helpers/processes';
import { waitFor } from '../helpers/pipeline';
import { docCommand, docCommands, ROOT } from './doc-commands';

/**
 * The commands of the README and docs/, run as a reader runs them: `npm run sandbox`, then
 * `npm run local` on its default ports (the docs name localhost:3000, :4010, :4020, :7233, :27018),
 * and against them the docs' own text, taken from the Markdown at test time. Placeholders such as
 * `<accountId>` are filled in; nothing else is changed. Commands that cannot run on these machines
 * are listed below with the reason, and every command in the docs must be in one of the lists.
 */

/** docs/SANDBOX.md's admin API examples, in the order of the page (each needs the ones before). */
const SANDBOX_ADMIN_BLOCKS = [
  'curl -X POST $J/admin/reset',
  'ACCOUNT=$(curl -s -X POST $J/admin/accounts -H \'content-type: application/json\' -d \'{"name":"Green Thumb"}\' | jq -r .id)',
  "CLIENT=$(curl -s -X POST $J/admin/accounts/$ACCOUNT/clients -H 'content-type: application/json' \\",
  '# A new client (the one above is deleted), two updates held, then delivered newest first:',
  'curl -X POST $J/admin/faults -H \'content-type: application/json\' -d \'{"graphql":{"status":502,"times":3}}\'',
  'S=http://127.0.0.1:4020',
];

/** Commands this file runs (by their first line). */
const RUN = [
  'npm run sandbox',
  ...SANDBOX_ADMIN_BLOCKS,
  'npm ci && npm run local',
  'npm run local',
  'curl localhost:3000/healthz',
  'curl localhost:3000/readyz',
  'temporal operator search-attribute create --namespace default --name JobberAccountId --type Keyword',
  'npm run demo',
  'npm run local                      # terminal 1',
  'npm run ops -- --help',
  'npm run ops -- slack link T0123ABCD <accountId>',
  '# Sign and send "/jobber <text>" as Slack does: v0=HMAC-SHA256("v0:<timestamp>:<body>").',
  "KEY='job-created/<jobId>'; TS_MSG='<message ts>'",
  'export MONGO_URL=mongodb://127.0.0.1:27018/jobber',
  'npm run ops -- dead-letters list',
  'npm run ops -- account show',
  'npm run ops -- account resync <accountId>',
  'temporal workflow query --workflow-id jobber-account/7 --name state',
  "node -e \"console.log(Buffer.from('gid://Jobber/Account/7').toString('base64'))\"",
  'temporal workflow start --namespace default --task-queue jobber-sync \\',
  "node -e \"const k=process.argv[1];const b=/^[0-9a-fA-F]{64}$/.test(k)?Buffer.from(k,'hex'):Buffer.from(k,'base64');console.log(require('crypto').createHash('sha256').update(b).digest('hex').slice(0,12))\" \"$TOKEN_ENCRYPTION_KEY\"",
  "node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"",
  'cp .env.example .env',
  'set -a; . ./.env; set +a',
  "npx jest --globalSetup='' --globalTeardown='' test/sandbox",
  'grep -qw avx /proc/cpuinfo && echo "AVX: yes" || echo "AVX: no"',
];

/** Commands that run, but elsewhere: where. */
const ELSEWHERE: Record<string, string> = {
  'npm ci && npm test': '.ci/run runs exactly this',
  'npm ci': 'in .ci/run, as part of npm ci && npm test',
  'npm test': 'in .ci/run, as part of npm ci && npm test',
  'npm install': 'in .ci/run, as part of npm install && BENCH_SECONDS=3 npm run bench',
  'npx jest test/sandbox': 'npm test runs test/sandbox with the rest (.ci/run)',
  'temporal server start-dev': 'src/dev/stack.ts starts it for npm run local and the tests',
  'npm run ingress': 'test/processes.test.ts runs npm run ingress and npm run worker as separate processes',
  'npm run worker': 'test/processes.test.ts',
  'npm run build': 'test/processes.test.ts builds dist/ as the Dockerfile does',
  'npm run format': "npm test's lint step runs the same Prettier configuration as a check (running it here would rewrite the checkout)",
  'npx tsx scripts/bundle-workflows.ts dist/workflow-bundle.js': 'test/processes.test.ts',
  'node dist/src/bin/ingress.js': 'test/processes.test.ts runs the built ingress',
  'node dist/src/bin/worker.js': 'test/processes.test.ts runs the built worker with the prebuilt bundle',
  'npm install && BENCH_SECONDS=3 npm run bench': '.ci/run runs the benchmark after the tests (figures are not asserted)',
  'npm run replay': '.ci/run runs it as a step of its own after npm test (test/replay/replay.test.ts)',
  'BENCH_ROUNDS=3 npm run bench:workers':
    'run by hand for the figures in docs/BENCHMARKS.md (about 4 minutes of both cores; not in CI, its figures are not asserted); bench/workers.ts starts its own servers on free ports',
  'BENCH_TEMPORAL_SQLITE_PRAGMAS= BENCH_FERRETDB_SQLITE_PRAGMAS= BENCH_SECONDS=3 npm run bench':
    "run by hand for the before/after figures in docs/BENCHMARKS.md (the servers' own SQLite settings); .ci/run runs the same bench with the stack's",
  'BENCH_ROUNDS=1 BENCH_MEMORY_EVENTS=10000 BENCH_ACK_RATE=50 BENCH_SECONDS=5 npm run bench:workers':
    'run by hand for the memory and acknowledgement figures in docs/BENCHMARKS.md (about 16 minutes of both cores; not in CI, its figures are not asserted)',
  'BENCH_ROUNDS=0 BENCH_MEMORY_EVENTS=20000 npm run bench:workers':
    'run by hand for the 20,000-event memory figures in docs/BENCHMARKS.md (about 25 minutes of both cores; not in CI, its figures are not asserted)',
  'BENCH_ROUNDS=0 BENCH_MEMORY_EVENTS=5000 npm run bench:workers':
    "run by hand for the worker's heap against its resident memory in docs/BENCHMARKS.md (about 8 minutes of both cores; not in CI, its figures are not asserted)",
  'BENCH_E2E_EVENTS=0 BENCH_START_EVENTS=0 BENCH_RATES= BENCH_BURST_RECORDS=0 BENCH_BACKFILL_RECORDS=3000 npm run bench':
    'run by hand for the backfill figures in docs/BENCHMARKS.md (about 2 minutes of both cores; .ci/run runs the same bench with the backfill off)',
  'BENCH_SECONDS=3 BENCH_RATES= BENCH_START_EVENTS=0 BENCH_BURST_RECORDS=0 npm run bench':
    'run by hand for the end-to-end figures with 100 events per side in docs/BENCHMARKS.md (about 2 minutes of both cores; .ci/run runs the whole bench)',
  'BENCH_ROUNDS=5 BENCH_SECONDS=3 BENCH_RATES= BENCH_START_EVENTS=0 BENCH_BURST_RECORDS=0 npm run bench':
    'run by hand, on two checkouts in turn, for the before/after end-to-end figures in docs/BENCHMARKS.md (about 90 s of both cores per run; .ci/run runs the whole bench)',
  'BENCH_E2E_EVENTS=0 BENCH_RATES= BENCH_BURST_RECORDS=0 BENCH_START_EVENTS=200 BENCH_ROUNDS=5 npm run bench':
    'run by hand for the starts figures over 5 rounds in docs/BENCHMARKS.md (about 2 minutes of both cores; .ci/run runs the whole bench with 100 starts per side)',
  'npm run record-histories':
    'test/replay/record.histories.ts: writes new history files, which only a change to workflow code calls for (the lead records them after merging)',
};

/** Mentions and synopses: not commands to run as written. */
const NOT_A_COMMAND: Record<string, string> = {
  'npm run ops': 'names the tool',
  'npm run ops -- ...': 'names the tool; its commands run here one by one',
  'npm run ops -- dead-letters list|replay': 'synopsis; both run here',
  'npm run ops -- account resync <account>': 'the same as `account resync <accountId>`, run here',
  'npx tsx scripts/bundle-workflows.ts [outPath]': 'synopsis of the bundle command, run in test/processes.test.ts',
  'docker compose': 'names the tool',
  'node -p': 'names how the heap limit was read for the memory figures',
  'npm run bench:workers': 'names the bench; its command (BENCH_ROUNDS=3 npm run bench:workers) is listed above',
};

const DOCKER = 'needs a Docker engine, which these machines do not have; docker-compose.yml and the Dockerfile are checked by test/compose.test.ts';
/** Commands that cannot run on these machines, and why. */
const NOT_HERE: Record<string, string> = {
  'npm ci --omit=dev': 'runs inside the Docker image build',
  'apt-get update && apt-get install -y nodejs npm golang-go git chromium curl jq openssl':
    "Debian 13's packages; these machines run Debian 12, whose nodejs and golang-go are too old, and .ci/run installs the rest (git chromium curl jq openssl) when one is missing",
  'docker compose up --build': DOCKER,
  'docker compose logs ingress': DOCKER,
  'docker compose ps -a': DOCKER,
  'docker compose up --build worker': DOCKER,
  'docker build -t jobber-sync .': DOCKER,
  'docker compose logs -f ingress worker          # structured JSON logs': DOCKER,
  'docker compose logs -f ingress worker': DOCKER,
  'docker compose up --build -d ingress worker': DOCKER,
  'docker compose up --build -d --scale worker=3': DOCKER,
  'docker compose up --scale worker=N': DOCKER,
  'docker compose exec postgresql pg_dumpall -U temporal > temporal.sql': DOCKER,
  'docker compose exec worker node dist/src/bin/ops.js ...': DOCKER,
  'docker compose exec worker node dist/src/bin/ops.js dead-letters list': DOCKER,
  'docker compose exec ingress node -e "fetch(\'http://host.docker.internal:4010/api/graphql\').then((r) => console.log(r.status))"': DOCKER,
  'SANDBOX_HOST=172.17.0.1 \\': `${DOCKER} (the sandbox listens on Docker's bridge)`,
  'curl -s -H "Authorization: Bearer $SLACK_BOT_TOKEN" https://slack.com/api/auth.test': 'needs Slack, which these machines cannot reach',
  'export PUBLIC_URL=https://<your tunnel to localhost:3000>': 'needs a Jobber app, a real account and a public tunnel',
};

const classified = (key: string) => RUN.includes(key) || key in ELSEWHERE || key in NOT_A_COMMAND || key in NOT_HERE;

const PORTS = { ingress: 3000, jobber: 4010, slack: 4020, temporal: 7233, ui: 8233, mongo: 27018, workerMetrics: 9464 };
const TEMPORAL_BIN = path.join(ROOT, '.tools/bin');
const LOCAL_MONGO_URL = `mongodb://127.0.0.1:${PORTS.mongo}/jobber`;
/** The environment OPERATIONS.md exports for the ops tool against `npm run local`. */
const opsEnv = () => doc('export MONGO_URL=mongodb://127.0.0.1:27018/jobber').split('\n')[0]!;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs a command from the docs in bash, from the project root, with the Temporal CLI on PATH.
 * `curl` fails on HTTP errors (the docs' commands do not say -f, a reader would see the error).
 */
function sh(script: string, env: NodeJS.ProcessEnv = {}, cwd = ROOT, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n';
    const child = spawn('bash', ['-c', prelude + script], {
      cwd,
      env: { ...process.env, ...env, PATH: `${TEMPORAL_BIN}:${process.env.PATH}` },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}

async function shOk(script: string, env: NodeJS.ProcessEnv = {}, cwd = ROOT): Promise<string> {
  const result = await sh(script, env, cwd);
  if (result.code !== 0)
    throw new Error(`exit ${result.code}\n--- script\n${script}\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`);
  return result.stdout;
}

/** Fills the docs' placeholders; each must be there, or the docs changed under the test. */
function fill(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [placeholder, value] of Object.entries(values)) {
    if (!out.includes(placeholder)) throw new Error(`"${placeholder}" is no longer in:\n${text}`);
    out = out.split(placeholder).join(value);
  }
  return out;
}

const ran = new Set<string>();
function doc(key: string): string {
  if (!RUN.includes(key)) throw new Error(`add "${key}" to RUN`);
  ran.add(key);
  return docCommand(key).text;
}

/** A command of the docs as a long-running process, in bash, with the Temporal CLI on PATH. */
const startDocProcess = (command: string, env: NodeJS.ProcessEnv): Proc =>
  startProcess('bash', ['-c', command], { ...process.env, ...env, PATH: `${TEMPORAL_BIN}:${process.env.PATH}` });

/** Ctrl-C, as in a terminal. */
const interrupt = (proc: Proc) => signalGroup(proc, 'SIGINT');

/** After Ctrl-C every process of the group is gone, so its ports are free again. */
async function portsFreed(ports: number[]): Promise<void> {
  await waitFor(async () => ((await Promise.all(ports.map(portFree))).every(Boolean) ? true : undefined), 30_000).catch(() => {
    throw new Error(`still listening after Ctrl-C: ${ports.join(', ')}`);
  });
}

/** `npm run` prints its banner ("> jobber-temporal-sync@0.1.0 ops") above the tool's JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tools print JSON of several shapes
const parseOps = (out: string): any => JSON.parse(out.replace(/^(\s*\n|> .*\n)*/, ''));

const json = async <T>(url: string): Promise<T> => (await fetch(url)).json() as Promise<T>;

describe('every command in the docs', () => {
  it('is run by this test, run elsewhere (named), or named as not runnable here with the reason', () => {
    const keys = new Set(docCommands().map((c) => c.key));
    const unaccounted = [...keys].filter((k) => !classified(k));
    expect(unaccounted).toEqual([]);
    // Nothing listed that the docs no longer hold.
    const stale = [...RUN, ...Object.keys(ELSEWHERE), ...Object.keys(NOT_A_COMMAND), ...Object.keys(NOT_HERE)].filter((k) => !keys.has(k));
    expect(stale).toEqual([]);
  });

  it('that CI runs is in .ci/run, word for word', () => {
    const ci = readFileSync(path.join(ROOT, '.ci/run'), 'utf8').split('\n');
    const inCi = Object.entries(ELSEWHERE)
      .filter(([, where]) => where.startsWith('.ci/run runs'))
      .map(([key]) => key);
    expect(inCi).toEqual(['npm ci && npm test', 'npm install && BENCH_SECONDS=3 npm run bench', 'npm run replay']);
    for (const key of inCi) expect(ci).toContain(key);
  });
});

describe('the docs, followed on this machine', () => {
  const env = { LOCAL_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'docs-local-')) };
  // Environment a reader's shell has after the docs' steps (values the docs print or say to use).
  const state: { accountId?: string; accountNumber?: string; jobId?: string } = {};
  let local: Proc | undefined;

  beforeAll(async () => {
    const busy: string[] = [];
    for (const [name, port] of Object.entries(PORTS)) if (!(await portFree(port))) busy.push(`${name} ${port}`);
    if (busy.length) throw new Error(`these tests run the docs' commands on the docs' ports, and these are in use: ${busy.join(', ')} (stop npm run local?)`);
  });

  afterAll(async () => {
    if (local) await interrupt(local);
  }, 60_000);

  describe('docs/SANDBOX.md: npm run sandbox and its admin API', () => {
    let sandbox: Proc;

    beforeAll(async () => {
      sandbox = startDocProcess(doc('npm run sandbox'), {});
      await waitFor(() => (sandbox.output().includes('Press Ctrl-C to stop.') ? true : undefined), 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${sandbox.output()}`);
      });
    }, 90_000);

    afterAll(async () => {
      await interrupt(sandbox);
      await portsFreed([PORTS.jobber, PORTS.slack]);
    }, 60_000);

    it('runs every admin API example in the order of the page, each answered without an HTTP error', async () => {
      const blocks = SANDBOX_ADMIN_BLOCKS.map(doc);
      const out = await shOk(blocks.join('\n'), { J: `http://127.0.0.1:${PORTS.jobber}` });
      // The OAuth-without-a-browser line printed the redirect with a code.
      expect(out).toMatch(/location: http:\/\/localhost:3000\/auth\/jobber\/callback\?code=/i);
      // The Slack stand-in recorded the message the page posts.
      expect(out).toMatch(/"text":"hello"/);
    });
  });

  describe('README / docs/JOBBER_SETUP.md: npm run local and npm run demo', () => {
    beforeAll(async () => {
      // `npm ci` is done: the tests run after it.
      const command = doc('npm ci && npm run local').replace(/^npm ci && /, '');
      expect(command).toBe(doc('npm run local'));
      local = startDocProcess(command, env);
      await waitFor(() => (local!.output().includes('Ctrl-C stops everything') ? true : undefined), 150_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${local!.output().slice(-3000)}`);
      });
    }, 180_000);

    it('answers /healthz and /readyz', async () => {
      expect(parseOps(await shOk(doc('curl localhost:3000/healthz')))).toEqual({ status: 'ok' });
      expect(parseOps(await shOk(doc('curl localhost:3000/readyz')))).toMatchObject({ status: 'ready' });
    });

    it('registers the search attributes again without harm (docs/ARCHITECTURE.md)', async () => {
      await shOk(doc('temporal operator search-attribute create --namespace default --name JobberAccountId --type Keyword'));
      const list = await shOk('temporal operator search-attribute list --namespace default');
      for (const name of ['JobberAccountId', 'JobberTopic', 'JobberItemId']) expect(list).toMatch(new RegExp(`${name}\\s+Keyword`));
    });

    it('runs the demo: it walks the whole pipeline, the Web UI shows its workflows, the stand-in its five alerts, and both metrics endpoints count them', async () => {
      const { stderr } = await sh(doc('npm run demo'));
      const created = /created sandbox account .* \(([^)]+)\)/.exec(stderr);
      expect(created).not.toBeNull();
      state.accountId = created![1]!;
      state.accountNumber = readableId(state.accountId);
      // One line per step, each saying what it saw land; then the Manage App page's counts.
      for (const line of [
        /- request "Spring cleanup" came in: stored; alert posted: "New request: Spring cleanup: Client Analytical Gardens/,
        /- quote #1 sent: \/jobber quotes pending shows it/,
        /- quote #1 approved by the client: alert posted: "Quote #1 approved: Spring cleanup: Client Analytical Gardens, Total \$450\.00"/,
        /- job #1 created from the quote: stored; alert posted: "New job #1: Spring cleanup/,
        /- visit scheduled at the property: stored/,
        /- visit completed: \/jobber visits week shows it/,
        /- invoice #1 issued for the job: stored/,
        /- payment of \$450\.00 received: stored; alert posted: "Payment received: \$450\.00: Amount \$450\.00, Method credit card, Invoice #1, Client Analytical Gardens"/,
        /- invoice #1 paid in full: alert posted: "Invoice #1 paid/,
      ]) {
        expect(stderr).toMatch(line);
      }
      expect(stderr).toMatch(
        /walked the pipeline in [\d.]+ s: 1 client · 1 property · 1 job · 1 invoice · 1 request · 1 quote · 1 visit · 1 payment; 5 alerts in #alerts of T0DEMO/,
      );

      // What the Web UI shows comes from this API of the UI server: the account's record workflows
      // (jobber-record/<account>/<kind>/<item>), one per record the demo walked, each completed.
      const ui = `http://127.0.0.1:${PORTS.ui}`;
      expect((await fetch(ui)).status).toBe(200);
      const kinds = ['request', 'quote', 'job', 'visit', 'invoice', 'payment', 'property', 'client'];
      await waitFor(async () => {
        const query = `JobberAccountId="${state.accountId}" AND WorkflowType="jobberRecordWorkflow" AND ExecutionStatus="Completed"`;
        const body = await json<{ executions?: { execution?: { workflowId?: string } }[] }>(
          `${ui}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(query)}`,
        );
        const seen = new Set((body.executions ?? []).map((e) => e.execution?.workflowId?.split('/')[2]));
        return kinds.every((kind) => seen.has(kind)) ? true : undefined;
      }, 30_000);

      // The demo waited for them; exactly these five, once each, in the demo workspace's #alerts.
      const { messages } = await json<{ messages: { text: string; team: string; channel: string }[] }>(`http://127.0.0.1:${PORTS.slack}/admin/messages`);
      const demo = messages.filter((m) => m.team === 'T0DEMO' && m.channel === 'C0DEMOALR');
      expect(demo.map((m) => m.text).sort()).toEqual([
        expect.stringMatching(/^Invoice #1 paid/),
        expect.stringMatching(/^New job #1: Spring cleanup/),
        expect.stringMatching(/^New request: Spring cleanup/),
        expect.stringMatching(/^Payment received: \$450\.00/),
        expect.stringMatching(/^Quote #1 approved: Spring cleanup/),
      ]);

      const ingressMetrics = await (await fetch(`http://127.0.0.1:${PORTS.ingress}/metrics`)).text();
      expect(ingressMetrics).toMatch(/jobber_webhooks_total\{outcome="accepted"\} [1-9]/);
      expect(ingressMetrics).toMatch(/jobber_webhook_ack_seconds_bucket/);
      const workerMetrics = await (await fetch(`http://127.0.0.1:${PORTS.workerMetrics}/metrics`)).text();
      expect(workerMetrics).toMatch(/jobber_requests[^\n]*operation="Job"[^\n]*outcome="ok"/);
      expect(workerMetrics).toMatch(/slack_alerts[^\n]*outcome="sent"/);
      expect(workerMetrics).toMatch(/^temporal_workflow_completed\{[^}]*\} [1-9]/m);
    }, 120_000);

    describe('docs/SLACK_SETUP.md', () => {
      it("links the stand-in's workspace to the demo account with the ops tool", async () => {
        // The block's first two lines are the two processes already running.
        const [first, second, ...rest] = doc('npm run local                      # terminal 1').split('\n');
        expect(first).toMatch(/^npm run local\s/);
        expect(second).toMatch(/^npm run demo\s/);
        const out = await shOk(fill(rest.join('\n'), { '<accountId>': state.accountId! }));
        expect(parseOps(out)).toEqual({ teamId: 'T0SANDBOX', accounts: [state.accountId] });
        // The same command with the real-Slack example, then taken back as OPERATIONS.md shows.
        expect(
          parseOps(await shOk(`${opsEnv()}\n${fill(doc('npm run ops -- slack link T0123ABCD <accountId>'), { '<accountId>': state.accountId! })}`)),
        ).toMatchObject({ teamId: 'T0123ABCD' });
        const synopsis = doc('npm run ops -- --help')
          .split('\n')
          .find((l) => l.startsWith('npm run ops -- slack unlink'))!;
        const unlink = fill(synopsis, { '<teamId>': 'T0123ABCD', '[accountId]': '' });
        expect(parseOps(await shOk(`${opsEnv()}\n${unlink}`))).toMatchObject({ teamId: 'T0123ABCD', removed: true, accounts: [] });
      });

      it('answers the signed /jobber commands from the synced data', async () => {
        const out = await shOk(doc('# Sign and send "/jobber <text>" as Slack does: v0=HMAC-SHA256("v0:<timestamp>:<body>").'));
        const answers = out
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { response_type: string; text: string; blocks: unknown[] });
        expect(answers).toHaveLength(7);
        expect(answers.every((a) => a.response_type === 'ephemeral' && a.blocks.length > 0)).toBe(true);
        const [status, jobs, client, requests, quotes, visits, payments] = answers.map((a) => a.text);
        expect(status).toMatch(/Connected/);
        expect(jobs).toMatch(/Spring cleanup/);
        expect(client).toMatch(/Ada Lovelace/);
        // The demo's walk, as /jobber tells it.
        expect(requests).toMatch(/^Requests:\n• Spring cleanup — Analytical Gardens — new — received /);
        expect(quotes).toMatch(/^Approved quotes:\n• Quote #1 Spring cleanup — Analytical Gardens — \$450\.00 — approved /);
        expect(visits).toMatch(/• Spring cleanup \(job #1\) — Analytical Gardens — .* — completed — 12 Engine Row, London/);
        expect(payments).toMatch(/^Recent payments:\n• \$450\.00 — Analytical Gardens — .* — credit card — Invoice #1/);
      });

      it("acknowledges the demo's job alert with the signed button click", async () => {
        const { messages } = await json<{ messages: { ts: string; text: string; blocks?: unknown }[] }>(`http://127.0.0.1:${PORTS.slack}/admin/messages`);
        const alert = messages.find((m) => m.text.startsWith('New job #1'))!;
        const key = /"value":"(job-created\/[^"]+)"/.exec(JSON.stringify(alert.blocks))![1]!;
        const script = fill(doc("KEY='job-created/<jobId>'; TS_MSG='<message ts>'"), { 'job-created/<jobId>': key, '<message ts>': alert.ts });
        // The page runs it after the /jobber block, which set SECRET.
        const out = await shOk(`SECRET=\${SLACK_SIGNING_SECRET:-local-slack-signing-secret}\n${script}`);
        expect(out.trim()).toBe('200');
        const updated = await waitFor(async () => {
          const body = await json<{ messages: { ts: string; text: string; blocks?: unknown }[] }>(`http://127.0.0.1:${PORTS.slack}/admin/messages`);
          const message = body.messages.find((m) => m.ts === alert.ts)!;
          return JSON.stringify(message.blocks).includes('Acknowledged by <@U0LOCAL>') ? message : undefined;
        });
        expect(JSON.stringify(updated.blocks)).not.toMatch(/"action_id":"acknowledge"/);
      });
    });

    describe('docs/OPERATIONS.md', () => {
      it('prints the ops usage, which names every command of the synopsis', async () => {
        const [help, ...synopsis] = doc('npm run ops -- --help').split('\n');
        const usage = await shOk(help!);
        expect(synopsis).toHaveLength(6);
        for (const line of synopsis) expect(usage).toContain(line.replace(/^npm run ops -- /, ''));
      });

      it('shows, queries and resyncs the account, and decodes its id as the page does', async () => {
        expect(parseOps(await shOk(doc('export MONGO_URL=mongodb://127.0.0.1:27018/jobber')))).toEqual([]);
        const show = parseOps(await shOk(`${opsEnv()}\n${doc('npm run ops -- account show')} ${state.accountId}`));
        expect(show).toMatchObject({ connection: { status: 'connected' }, records: { clients: 1, jobs: 1, invoices: 1 } });
        expect(show.workflow).toMatchObject({ status: 'connected' });
        const query = await shOk(
          fill(doc('temporal workflow query --workflow-id jobber-account/7 --name state'), { 'jobber-account/7': `jobber-account/${state.accountNumber}` }),
        );
        expect(query).toMatch(/"status":\s*"connected"/);
        expect(parseOps(await shOk(`${opsEnv()}\n${fill(doc('npm run ops -- account resync <accountId>'), { '<accountId>': state.accountId! })}`))).toEqual({
          accountId: state.accountId,
          status: 'sync requested',
        });
        // The EncodedId of account 7, as the page computes it, is the one its examples use.
        const encoded = (await shOk(doc("node -e \"console.log(Buffer.from('gid://Jobber/Account/7').toString('base64'))\""))).trim();
        expect(readFileSync(path.join(ROOT, 'docs/OPERATIONS.md'), 'utf8')).toContain(`JobberAccountId="${encoded}"`);
      });

      it("restarts a terminated account workflow with the runbook's temporal workflow start", async () => {
        const workflowId = `jobber-account/${state.accountNumber}`;
        await shOk(`temporal workflow terminate --workflow-id '${workflowId}' --reason 'docs test'`);
        await waitFor(async () =>
          parseOps(await shOk(`${opsEnv()}\nnpm run --silent ops -- account show ${state.accountId}`)).workflow === 'not running' ? true : undefined,
        );
        const start = fill(doc('temporal workflow start --namespace default --task-queue jobber-sync \\'), {
          "'jobber-account/7'": `'${workflowId}'`,
          'Z2lkOi8vSm9iYmVyL0FjY291bnQvNw==': state.accountId!,
        });
        await shOk(start);
        const show = await waitFor(async () => {
          const s = parseOps(await shOk(`${opsEnv()}\nnpm run --silent ops -- account show ${state.accountId}`));
          return s.workflow?.status === 'connected' && s.workflow?.backfill === 'done' ? s : undefined;
        }, 60_000);
        expect(show.connection.status).toBe('connected');
      }, 90_000);

      it('replays a dead letter with the Jobber-outage runbook, after which none is left', async () => {
        const admin = `http://127.0.0.1:${PORTS.jobber}/admin`;
        const post = (url: string, body: unknown, method = 'POST') =>
          fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const clients = await json<{ id: string }[]>(`${admin}/accounts/${state.accountId}/clients`);
        // A request Jobber rejects for good leaves a dead letter.
        expect((await post(`${admin}/faults`, { graphql: { status: 400, times: 1 }, accountId: state.accountId })).status).toBeLessThan(300);
        expect((await post(`${admin}/clients/${clients[0]!.id}`, { lastName: 'Byron' }, 'PATCH')).status).toBeLessThan(300);
        const listed = await waitFor(async () => {
          const list = parseOps(await shOk(`${opsEnv()}\nnpm run --silent ops -- dead-letters list`)) as { id: string; errorType: string }[];
          return list.length ? list : undefined;
        }, 60_000);
        expect(listed).toEqual([expect.objectContaining({ errorType: 'JobberQueryInvalid' })]);

        const [list, replay, replayed] = doc('npm run ops -- dead-letters list')
          .split('\n')
          .map((line) => `${opsEnv()}\n${line}`);
        expect(parseOps(await shOk(list!))).toHaveLength(1);
        expect(parseOps(await shOk(replay!))).toEqual([expect.objectContaining({ deadLetter: listed[0]!.id, status: 'replaying' })]);
        await waitFor(async () => ((parseOps(await shOk(replayed!)) as unknown[]).length === 0 ? true : undefined), 60_000);
        expect(parseOps(await shOk(list!))).toEqual([]);
        const after = await json<{ id: string; lastName: string }[]>(`${admin}/accounts/${state.accountId}/clients`);
        expect(after[0]!.lastName).toBe('Byron');
        const { connection, models } = await connectDatabase(LOCAL_MONGO_URL);
        try {
          expect(await models.Client.findById(clients[0]!.id).lean()).toMatchObject({ lastName: 'Byron' });
        } finally {
          await connection.close();
        }
      }, 120_000);
    });

    it('computes the key id of TOKEN_ENCRYPTION_KEY that stored tokens carry (docs/ARCHITECTURE.md)', async () => {
      const secrets = JSON.parse(readFileSync(path.join(env.LOCAL_DATA_DIR, 'local-secrets.json'), 'utf8')) as { TOKEN_ENCRYPTION_KEY: string };
      const keyId = (await shOk(doc(RUN.find((k) => k.includes('createHash'))!), { TOKEN_ENCRYPTION_KEY: secrets.TOKEN_ENCRYPTION_KEY })).trim();
      const { connection, models } = await connectDatabase(LOCAL_MONGO_URL);
      try {
        const stored = await models.Connection.findById(state.accountId).lean();
        expect(stored?.refreshToken?.keyId).toBe(keyId);
      } finally {
        await connection.close();
      }
    });

    it('stops everything on Ctrl-C', async () => {
      const proc = local!;
      local = undefined;
      await interrupt(proc);
      await portsFreed(Object.values(PORTS));
    }, 60_000);
  });

  describe('docs/DOCKER.md and JOBBER_SETUP.md: the .env file', () => {
    it('makes secrets the config accepts, and .env.example is a file the shell can load', async () => {
      const secret = (await shOk(doc("node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\""))).trim();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'docs-env-'));
      copyFileSync(path.join(ROOT, '.env.example'), path.join(dir, '.env.example'));
      const copy = doc('cp .env.example .env').split('\n')[0]!;
      // Loaded into an empty environment, the shell holds exactly the file's variables and values.
      const out = await shOk(`${copy}\nenv -i bash -c '${doc('set -a; . ./.env; set +a')}; env'`, {}, dir);
      const pairs = (text: string, pattern: RegExp) =>
        Object.fromEntries(
          text.split('\n').flatMap((l) => (pattern.test(l) ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^(['"])(.*)\1$/, '$2')]] : [])),
        );
      const inFile = pairs(readFileSync(path.join(dir, '.env'), 'utf8'), /^[A-Z_]+=/);
      const loaded = pairs(out, /^[A-Z_]+=/);
      expect(Object.keys(inFile).length).toBeGreaterThan(5);
      expect(Object.keys(inFile).every((name) => CONFIG_VARIABLES.includes(name as never))).toBe(true);
      expect(Object.fromEntries(Object.keys(inFile).map((name) => [name, loaded[name]]))).toEqual(inFile);
      const config = loadConfig({
        MONGO_URL: 'mongodb://127.0.0.1:27017/jobber',
        JOBBER_CLIENT_ID: 'id',
        JOBBER_CLIENT_SECRET: 'secret',
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_SIGNING_SECRET: 'signing',
        SLACK_ALERT_CHANNEL: 'C1',
        TOKEN_ENCRYPTION_KEY: secret,
        SESSION_SECRET: secret,
      });
      expect(config.tokenEncryptionKey).toHaveLength(32);
    });
  });

  it('tells whether the CPU has AVX, as docs/DOCKER.md checks for MongoDB', async () => {
    const out = await shOk(doc('grep -qw avx /proc/cpuinfo && echo "AVX: yes" || echo "AVX: no"'));
    const flags =
      readFileSync('/proc/cpuinfo', 'utf8')
        .split('\n')
        .find((l) => /^flags\s*:/.test(l)) ?? '';
    expect(out.trim()).toBe(flags.split(/\s+/).includes('avx') ? 'AVX: yes' : 'AVX: no');
  });

  it('runs the sandbox tests without Temporal or FerretDB, as docs/SANDBOX.md says', async () => {
    const out = await sh(doc("npx jest --globalSetup='' --globalTeardown='' test/sandbox"), { TEST_TEMPORAL_ADDRESS: '', TEST_MONGO_URL: '' }, ROOT, 240_000);
    if (out.code !== 0) throw new Error(out.stderr.slice(-4000));
    expect(out.stderr).toMatch(/Tests:\s+\d+ passed, \d+ total/);
  }, 300_000);

  it('ran every command it lists as run here', () => {
    expect([...ran].sort()).toEqual([...RUN].sort());
  });
});
