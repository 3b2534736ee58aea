import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { TokenStore } from '../../src/accounts/token-store';
import { TokenCipher } from '../../src/crypto/tokens';
import { connectDatabase } from '../../src/db/models';
import { freePort } from '../../src/dev/stack';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { startJobberSandbox, type StartedJobberSandbox } from '../../src/sandbox/jobber';
import { startSlackStandIn, type StartedSlackStandIn } from '../../src/sandbox/slack';
import { recordWorkflowId } from '../../workflows/definitions';
import { deliverEvent } from '../../src/workflow-client/event-workflow';
import { connectTemporal, testMongoUrl, testTemporalAddress, testWorkflowBundle } from '../helpers/env';
import { nextIdBase, waitFor } from '../helpers/pipeline';
import { signalGroup, startProcess, type Proc } from '../helpers/processes';

/** A span as the collector received it (OTLP/HTTP JSON), with its process's service.name. */
interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  raw: unknown;
}
const SERVER = 2;
const CLIENT = 3;

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number; arrayValue?: { values?: AnyValue[] } };
const valueOf = (v: AnyValue | undefined): unknown =>
  v === undefined
    ? undefined
    : (v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? v.arrayValue?.values?.map(valueOf))));
const attributesOf = (list: { key: string; value: AnyValue }[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

/** An OpenTelemetry collector in this process: what the ingress and the worker export over OTLP/HTTP. */
async function startCollector(): Promise<{ url: string; spans: Span[]; close(): Promise<void> }> {
  const spans: Span[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const data = JSON.parse(body) as {
        resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[];
      };
      for (const rs of data.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            spans.push({
              service,
              traceId: s.traceId as string,
              spanId: s.spanId as string,
              parentSpanId: (s.parentSpanId as string) || undefined,
              name: s.name as string,
              kind: s.kind as number,
              attributes: attributesOf(s.attributes as { key: string; value: AnyValue }[]),
              raw: s,
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const portOf = (url: string) => Number(new URL(url).port);
/** The port an HTTP client span went to, whichever semantic conventions the instrumentation speaks. */
const targetPort = (s: Span) =>
  Number(
    s.attributes['server.port'] ?? s.attributes['net.peer.port'] ?? new URL(String(s.attributes['url.full'] ?? s.attributes['http.url'] ?? 'http://x:0')).port,
  );

/**
 * Traces as an operator sees them: the ingress and the worker run as the processes the product
 * starts (src/bin), with OTEL_EXPORTER_OTLP_ENDPOINT set to a collector in this test. One webhook
 * must make ONE trace, from the ingress's request through the workflow to every activity and its
 * calls to Jobber, MongoDB and Slack; and no span may carry a token, a secret or a client's data.
 */
describe('traces (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  const key = randomBytes(32);
  const tag = randomBytes(4).toString('hex');
  const mongoUrl = testMongoUrl('traces');
  const personal = {
    accountName: `Quimby Orchard Services ${tag}`,
    firstName: `Ottoline${tag}`,
    lastName: `Brackenridge${tag}`,
    email: `ottoline.${tag}@orchard.example`,
    phone: `+1 555 ${randomInt(100, 999)} ${randomInt(1000, 9999)}`,
    jobTitle: `Espalier pruning ${tag}`,
  };
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let jobber: StartedJobberSandbox;
  let slack: StartedSlackStandIn;
  let ingress: Proc;
  let worker: Proc;
  let ingressUrl: string;
  let secrets: string[];
  const taskQueue = `traces-${Date.now()}`;

  beforeAll(async () => {
    collector = await startCollector();
    const port = await freePort();
    ingressUrl = `http://127.0.0.1:${port}`;
    jobber = await startJobberSandbox({ port: 0, webhookUrl: `${ingressUrl}/webhooks/jobber`, idBase: nextIdBase() });
    slack = await startSlackStandIn({ port: 0 });
    const sessionSecret = randomBytes(32).toString('base64url');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      PUBLIC_URL: ingressUrl,
      METRICS_PORT: String(await freePort()),
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_TASK_QUEUE: taskQueue,
      MONGO_URL: mongoUrl,
      JOBBER_CLIENT_ID: jobber.sandbox.clientId,
      JOBBER_CLIENT_SECRET: jobber.sandbox.clientSecret,
      JOBBER_API_URL: jobber.url,
      SLACK_BOT_TOKEN: slack.standIn.botToken,
      SLACK_SIGNING_SECRET: 'traces-signing-secret',
      SLACK_API_URL: slack.url,
      SLACK_ALERT_CHANNEL: 'C0TRACES',
      TOKEN_ENCRYPTION_KEY: key.toString('base64'),
      SESSION_SECRET: sessionSecret,
      LOG_LEVEL: 'info',
      // The bundle of the test run: the one production builds (src/worker/bundle.ts).
      WORKFLOW_BUNDLE_PATH: testWorkflowBundle(),
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      // Export within a fifth of a second instead of five: the test waits for the spans.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
    secrets = [jobber.sandbox.clientSecret, slack.standIn.botToken, 'traces-signing-secret', key.toString('base64'), sessionSecret];
    ingress = startProcess('npm', ['run', 'ingress'], env);
    worker = startProcess('npm', ['run', 'worker'], env);
    await waitFor(async () => ((await fetch(`${ingressUrl}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${ingress.output().slice(-2000)}`);
    });
    await waitFor(() => (worker.output().includes('worker running') ? true : undefined), 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${worker.output().slice(-2000)}`);
    });
  }, 240_000);

  afterAll(async () => {
    for (const proc of [ingress, worker]) if (proc) await signalGroup(proc, 'SIGKILL');
    await jobber?.close();
    await slack?.close();
    await collector?.close();
  }, 60_000);

  it('makes one trace of a webhook: request, StartWorkflow, RunWorkflow, every activity, and its Jobber, MongoDB and Slack calls; no token or personal data in any span', async () => {
    const { client: temporal, connection } = await connectTemporal();
    const db = await connectDatabase(mongoUrl);
    try {
      const account = jobber.sandbox.store.createAccount({ name: personal.accountName });
      expect((await followConnectFlow(ingressUrl, account.id)).location).toBe('/manage');
      const tokens = await waitFor(() => new TokenStore(db.models, new TokenCipher(key)).read(account.id).catch(() => undefined));
      secrets.push(tokens.accessToken, tokens.refreshToken);

      const customer = jobber.sandbox.store.createClient(
        account.id,
        {
          firstName: personal.firstName,
          lastName: personal.lastName,
          emails: [{ address: personal.email, primary: true }],
          phones: [{ number: personal.phone, primary: true }],
        },
        { webhook: false },
      );
      const { webhookIds } = jobber.sandbox.webhooks.capture(() =>
        jobber.sandbox.store.createJob(account.id, { clientId: customer.id, title: personal.jobTitle, total: 4821.37 }),
      );
      const delivery = await waitFor(() => {
        const d = jobber.sandbox.webhooks.get(webhookIds[0]!);
        return d?.status === 'delivered' ? d : undefined;
      }, 30_000);
      // The record's workflow, which took the webhook (started by it).
      const workflowId = recordWorkflowId(delivery.event.accountId, 'job', delivery.event.itemId);
      await temporal.workflow.getHandle(workflowId).result();
      await waitFor(() => (slack.standIn.state.messages.some((m) => m.text.includes(personal.jobTitle)) ? true : undefined), 30_000);

      // The workflow's run, and then its whole trace, as the collector has it once the batches are in.
      const slackPort = portOf(slack.url);
      const trace = await waitFor(() => {
        const run = collector.spans.find((s) => s.name === 'RunWorkflow:jobberRecordWorkflow' && s.attributes.temporalWorkflowId === workflowId);
        if (!run) return undefined;
        const spans = collector.spans.filter((s) => s.traceId === run.traceId);
        const started = spans.filter((s) => s.name.startsWith('StartActivity:')).map((s) => s.name.slice('StartActivity:'.length));
        const ran = spans.filter((s) => s.name.startsWith('RunActivity:')).map((s) => s.name.slice('RunActivity:'.length));
        const slackCall = spans.some((s) => s.kind === CLIENT && targetPort(s) === slackPort);
        return started.length > 0 && started.every((a) => ran.includes(a)) && slackCall ? spans : undefined;
      }, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${collector.spans.length} spans: ${[...new Set(collector.spans.map((s) => `${s.service} ${s.name}`))].join(', ')}`);
      });

      const names = trace.map((s) => `${s.service} ${s.name}`);
      // The root: the ingress's request span for the webhook; every other span hangs from it.
      const roots = trace.filter((s) => !s.parentSpanId || !trace.some((p) => p.spanId === s.parentSpanId));
      expect(roots.map((s) => ({ service: s.service, kind: s.kind }))).toEqual([{ service: 'jobber-sync-ingress', kind: SERVER }]);
      expect(String(roots[0]!.attributes['http.route'] ?? roots[0]!.attributes['url.path'] ?? roots[0]!.attributes['http.target'])).toBe('/webhooks/jobber');
      expect(names).toEqual(
        expect.arrayContaining([
          'jobber-sync-ingress SignalWithStartWorkflow:jobberRecordWorkflow',
          'jobber-sync-worker RunWorkflow:jobberRecordWorkflow',
          expect.stringMatching(/^jobber-sync-worker StartActivity:/),
          expect.stringMatching(/^jobber-sync-worker RunActivity:/),
        ]),
      );
      // Each activity's own calls, inside the activity's span: Jobber's GraphQL, MongoDB, Slack.
      const runActivity = new Set(trace.filter((s) => s.name.startsWith('RunActivity:')).map((s) => s.spanId));
      const underActivity = (s: Span): boolean => {
        for (let at: Span | undefined = s; at; at = trace.find((p) => p.spanId === at!.parentSpanId)) if (runActivity.has(at.spanId)) return true;
        return false;
      };
      const jobberCalls = trace.filter((s) => s.kind === CLIENT && targetPort(s) === portOf(jobber.url));
      const mongoCalls = trace.filter((s) => (s.attributes['db.system'] ?? s.attributes['db.system.name']) === 'mongodb');
      const slackCalls = trace.filter((s) => s.kind === CLIENT && targetPort(s) === slackPort);
      for (const [what, calls] of Object.entries({ jobberCalls, mongoCalls, slackCalls })) {
        expect({ what, count: calls.length > 0, underActivity: calls.every(underActivity) }).toEqual({ what, count: true, underActivity: true });
      }

      // Nothing secret or personal in any span of the run, whatever its trace: names, attributes,
      // events, status. The positive control: the ids are there (the event's workflow id names the job).
      const everything = JSON.stringify(collector.spans.map((s) => s.raw));
      expect(everything).toContain(workflowId);
      const leaks = [...secrets, ...Object.values(personal), 'Bearer ', '4821.37'].filter((value) => everything.includes(value));
      expect(leaks).toEqual([]);
      const headerAttributes = collector.spans.flatMap((s) => Object.keys(s.attributes)).filter((k) => /authorization|cookie|header/i.test(k));
      expect([...new Set(headerAttributes)]).toEqual([]);
    } finally {
      await db.connection.dropDatabase();
      await db.connection.close();
      await connection.close();
    }
  });

  it('traces no workflow whose start carried no trace context: an untraced caller costs the workflow no spans', async () => {
    // A client without the tracing interceptor, as an untraced ingress or the ops CLI would be.
    const { client: temporal, connection } = await connectTemporal();
    try {
      const event = { topic: 'CLIENT_UPDATE', accountId: `untraced-${tag}`, itemId: `item-${tag}`, occurredAt: new Date(Date.now() - 5000).toISOString() };
      // Handed to its record's workflow as the ingress does, by a client that does not trace.
      const { workflowId } = await deliverEvent(temporal, taskQueue, { event }, 'untraced');
      await temporal.workflow.getHandle(workflowId).result();
      // The traced webhook of the test above, exported by the same worker, is the positive control;
      // give this run's spans, if any, the same time to arrive (the batch delay is 200 ms).
      expect(collector.spans.some((s) => s.name === 'RunWorkflow:jobberRecordWorkflow')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      // The workflow itself makes none (RunWorkflow, StartActivity, …); the traced worker still
      // records its own activity runs, in its own process, as traces of their own.
      const ofRun = collector.spans.filter((s) => s.attributes.temporalWorkflowId === workflowId);
      expect(ofRun.filter((s) => !s.name.startsWith('RunActivity:')).map((s) => s.name)).toEqual([]);
      expect(ofRun.every((s) => !s.parentSpanId)).toBe(true);
    } finally {
      await connection.close();
    }
  });
});

/**
 * Off, tracing costs nothing: the process that starts as the entry points do, with everything the
 * ingress and the worker load, has loaded no OpenTelemetry SDK, exporter or instrumentation (the
 * no-op API that libraries carry aside). The same start with an endpoint set is the positive control.
 */
describe('tracing off (OTEL_EXPORTER_OTLP_ENDPOINT unset)', () => {
  const loadedWith = (tracing: string) => {
    const script = `
      const { startTracing } = require('./src/telemetry/tracing');
      const tracing = startTracing(${tracing}, { serviceName: 'probe', logger: { info() {} } });
      require('./src/worker/start'); require('./src/ingress/server');
      const loaded = new Set();
      for (const file of Object.keys(require.cache)) {
        const at = file.lastIndexOf('node_modules/@opentelemetry/');
        if (at >= 0) loaded.add(file.slice(at + 'node_modules/'.length).split('/').slice(0, 2).join('/'));
        if (file.includes('node_modules/@temporalio/interceptors-opentelemetry/')) loaded.add('@temporalio/interceptors-opentelemetry');
      }
      process.stdout.write(JSON.stringify([...loaded].sort()));
      void tracing?.shutdown();`;
    const result = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      cwd: path.resolve(__dirname, '../..'),
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout) as string[];
  };

  it('loads no OpenTelemetry SDK, exporter or instrumentation; with an endpoint it does', () => {
    expect(loadedWith('undefined').filter((p) => p !== '@opentelemetry/api')).toEqual([]);
    expect(loadedWith("{ endpoint: 'http://127.0.0.1:9' }")).toEqual(
      expect.arrayContaining(['@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/instrumentation-mongodb']),
    );
  });
});
