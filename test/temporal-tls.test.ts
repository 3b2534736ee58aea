import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadStoresConfig, type TemporalConfig } from '../src/config';
import { startStack, type Stack } from '../src/dev/stack';
import { temporalConnectFailure, temporalConnectionOptions } from '../src/workflow-client/connection-options';
import { freePort } from '../src/dev/stack';
import { testMongoUrl, testWorkflowBundle } from './helpers/env';
import { signalGroup, startProcess } from './helpers/processes';
import { waitFor } from './helpers/pipeline';
import { makeTestPki, startTlsFrontend, type TestPki, type TlsFrontend } from './helpers/tls';

/**
 * Connecting to a Temporal that speaks TLS, mTLS or wants an API key, as Temporal Cloud and
 * secured clusters do. The Temporal CLI's dev server has no TLS option, so a second dev server
 * (plain gRPC, its own ports) sits behind a TLS frontend this test runs: an HTTP/2 proxy that
 * terminates TLS with a certificate from a throwaway CA made here (and asks for a client
 * certificate from that CA, or checks an API key) and forwards the gRPC calls. The client side
 * under test is the product's: the TEMPORAL_* variables through src/config.ts and
 * temporalConnectionOptions, into the SDK's Connection and NativeConnection.
 */
const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const API_KEY = `test-api-key-${randomUUID()}`;
// Short for a test that expects a failure; the product's default is 10 s.
const CONNECT_TIMEOUT_MS = 3000;

describe('Temporal over TLS, mTLS and with an API key', () => {
  let pki: TestPki;
  let stack: Stack;
  let mtls: TlsFrontend;
  let keyed: TlsFrontend;
  let dataDir: string;

  beforeAll(async () => {
    pki = makeTestPki();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-server-'));
    stack = await startStack({ dataDir, mongoUrl: testMongoUrl('tls') });
    mtls = await startTlsFrontend({ backend: stack.temporalAddress, pki, requireClientCert: true });
    keyed = await startTlsFrontend({ backend: stack.temporalAddress, pki, requireClientCert: false, apiKey: API_KEY });
  }, 120_000);
  afterAll(async () => {
    await mtls?.close();
    await keyed?.close();
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(pki.dir, { recursive: true, force: true });
  });

  const temporalOf = (env: Record<string, string>): TemporalConfig =>
    loadStoresConfig({ MONGO_URL: 'mongodb://127.0.0.1:1/unused', TEMPORAL_TLS_SERVER_NAME: pki.serverName, ...env }).temporal;
  const mtlsEnv = () => ({ TEMPORAL_ADDRESS: mtls.address, TEMPORAL_TLS_CA: pki.ca, TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientKey });
  const connect = (temporal: TemporalConfig) =>
    Connection.connect(temporalConnectionOptions(temporal, CONNECT_TIMEOUT_MS)).catch(temporalConnectFailure(temporal));

  /** Starts a workflow (no worker needed) and reads it back: the round trip every part makes. */
  async function startAndDescribe(connection: Connection): Promise<string> {
    const client = new Client({ connection, namespace: 'default' });
    const handle = await client.workflow.start('tlsProbeWorkflow', { taskQueue: `tls-probe-${randomUUID()}`, workflowId: `tls-probe-${randomUUID()}` });
    const description = await handle.describe();
    await handle.terminate('probe done');
    return description.status.name;
  }

  it('connects with mTLS (CA, client certificate and key as files) and starts and describes a workflow; the worker connection too', async () => {
    const temporal = temporalOf(mtlsEnv());
    const connection = await connect(temporal);
    try {
      expect(await startAndDescribe(connection)).toBe('RUNNING');
    } finally {
      await connection.close();
    }
    const native = await NativeConnection.connect(temporalConnectionOptions(temporal)).catch(temporalConnectFailure(temporal));
    try {
      const info = await native.workflowService.describeNamespace({ namespace: 'default' });
      expect(info.namespaceInfo?.name).toBe('default');
    } finally {
      await native.close();
    }
  });

  it('takes the PEM text itself, also as one line with \\n, as secret stores hold it', async () => {
    const oneLine = (file: string) => readFileSync(file, 'utf8').trim().replace(/\n/g, '\\n');
    const temporal = temporalOf({
      TEMPORAL_ADDRESS: mtls.address,
      TEMPORAL_TLS_CA: readFileSync(pki.ca, 'utf8'),
      TEMPORAL_TLS_CERT: oneLine(pki.clientCert),
      TEMPORAL_TLS_KEY: oneLine(pki.clientKey),
    });
    const connection = await connect(temporal);
    try {
      expect(await startAndDescribe(connection)).toBe('RUNNING');
    } finally {
      await connection.close();
    }
  });

  it('fails, without hanging, with an error naming TEMPORAL_TLS_CA when the server certificate is not from that CA', async () => {
    const temporal = temporalOf({ ...mtlsEnv(), TEMPORAL_TLS_CA: pki.otherCa });
    const error = await connect(temporal).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.name).toBe('TemporalConnectionError');
    expect(error?.message).toContain("the server's certificate is not signed by the CA in TEMPORAL_TLS_CA");
    expect(error?.message).toContain(mtls.address);
    expect(error?.message).not.toContain(readFileSync(pki.clientKey, 'utf8').split('\n')[1]!);
    // The worker's connection (Core) refuses it too, and returns.
    const native = await NativeConnection.connect(temporalConnectionOptions(temporal)).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(native).toBeInstanceOf(Error);
  });

  it('fails with an error naming the client certificate variables when the server asks for one and none is set', async () => {
    const { TEMPORAL_TLS_CERT: _c, TEMPORAL_TLS_KEY: _k, ...noClientCert } = mtlsEnv();
    const error = await connect(temporalOf(noClientCert)).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).toContain('the server asks for a client certificate: set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY');
  });

  it('fails with an error naming TEMPORAL_TLS_SERVER_NAME when the certificate is for another name', async () => {
    const error = await connect(temporalOf({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_NAME: 'elsewhere.test' })).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).toMatch(/the server's certificate is not for elsewhere\.test .*set TEMPORAL_TLS_SERVER_NAME/);
  });

  it('sends TEMPORAL_API_KEY as a bearer token over TLS, and names the variable when the server refuses the key', async () => {
    const before = keyed.authorizedCalls;
    const temporal = temporalOf({ TEMPORAL_ADDRESS: keyed.address, TEMPORAL_TLS_CA: pki.ca, TEMPORAL_API_KEY: API_KEY });
    expect(temporal.tls).toBeDefined(); // an API key means TLS
    const connection = await connect(temporal);
    try {
      expect(await startAndDescribe(connection)).toBe('RUNNING');
    } finally {
      await connection.close();
    }
    expect(keyed.authorizedCalls).toBeGreaterThan(before);

    const wrongKey = `wrong-${API_KEY}`;
    const refused = temporalOf({ TEMPORAL_ADDRESS: keyed.address, TEMPORAL_TLS_CA: pki.ca, TEMPORAL_API_KEY: wrongKey });
    const error = await connect(refused).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.message).toContain('TEMPORAL_API_KEY');
    expect(error?.message).not.toContain(wrongKey);
  });

  it('the ops tool says what is wrong, names the variable and exits, for a wrong CA and for a missing file', async () => {
    const mongoUrl = testMongoUrl('tls_ops');
    const ops = (env: Record<string, string>) =>
      run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/bin/ops.ts', 'dead-letters', 'list'], {
        cwd: ROOT,
        env: { ...process.env, MONGO_URL: mongoUrl, TEMPORAL_TLS_SERVER_NAME: pki.serverName, ...env },
        timeout: 60_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string; killed?: boolean }) => ({ code: err.killed ? -1 : err.code, stderr: err.stderr }),
      );
    const wrongCa = await ops({ ...mtlsEnv(), TEMPORAL_TLS_CA: pki.otherCa });
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.stderr).toContain('not signed by the CA in TEMPORAL_TLS_CA');
    expect(wrongCa.stderr).not.toMatch(/PRIVATE KEY|\n\s+at /); // no key, no stack trace

    const missing = await ops({ ...mtlsEnv(), TEMPORAL_TLS_CERT: path.join(pki.dir, 'nope.pem') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/TEMPORAL_TLS_CERT: cannot read the file .*nope\.pem \(ENOENT\)/);
  }, 120_000);

  it('the ingress and the worker processes connect through mTLS with the variables alone; a worker with a wrong CA exits naming TEMPORAL_TLS_CA', async () => {
    const tsx = [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs')];
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...mtlsEnv(),
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
      TEMPORAL_TASK_QUEUE: `tls-procs-${randomUUID()}`,
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      MONGO_URL: testMongoUrl('tls_procs'),
      JOBBER_CLIENT_ID: 'id',
      JOBBER_CLIENT_SECRET: 'secret',
      JOBBER_API_URL: 'http://127.0.0.1:9/api',
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 'signing',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      SLACK_ALERT_CHANNEL: 'C1',
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      SESSION_SECRET: 'x'.repeat(32),
      WORKFLOW_BUNDLE_PATH: testWorkflowBundle(),
      LOG_LEVEL: 'info',
    };
    const ingress = startProcess(process.execPath, [...tsx, 'src/bin/ingress.ts'], env);
    const worker = startProcess(process.execPath, [...tsx, 'src/bin/worker.ts'], env);
    try {
      // /readyz asks Temporal (getSystemInfo) through the ingress's own connection.
      const ready = await waitFor(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return res?.status === 200 ? ((await res.json()) as unknown) : undefined;
      }, 90_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${ingress.output().slice(-2000)}`);
      });
      expect(ready).toMatchObject({ checks: { temporal: 'ok' } });
      await waitFor(() => (worker.output().includes('worker running') ? true : undefined), 90_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${worker.output().slice(-2000)}`);
      });
    } finally {
      await signalGroup(ingress, 'SIGTERM');
      await signalGroup(worker, 'SIGTERM');
    }

    const wrong = startProcess(process.execPath, [...tsx, 'src/bin/worker.ts'], { ...env, TEMPORAL_TLS_CA: pki.otherCa });
    const code = await new Promise<number | null>((resolve) => wrong.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(wrong.output()).toContain('Cannot connect to Temporal');
    expect(wrong.output()).toContain('not signed by the CA in TEMPORAL_TLS_CA');
    expect(wrong.output()).not.toMatch(/PRIVATE KEY|\n\s+at /);
  }, 240_000);
});
