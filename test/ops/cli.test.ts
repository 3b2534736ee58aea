import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { connectDatabase } from '../../src/db/models';
import { malformedWebhookKeeper } from '../../src/ingress/dead-letters';
import { testMongoUrl, testTemporalAddress } from '../helpers/env';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

describe("npm run ops (the operators' command line)", () => {
  const mongoUrl = testMongoUrl('ops');
  // Only where the stores are: the ops tool needs no secrets.
  const env = { ...process.env, MONGO_URL: mongoUrl, TEMPORAL_ADDRESS: testTemporalAddress() };
  const ops = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/bin/ops.ts', ...args], { cwd: ROOT, env });

  beforeAll(async () => {
    const { connection, models } = await connectDatabase(mongoUrl);
    await models.DeadLetter.create({
      _id: 'jobber-event/1/CLIENT_UPDATE/2/2025-01-01T00:00:00.000Z',
      event: { topic: 'CLIENT_UPDATE', accountId: 'A', itemId: 'B', occurredAt: '2025-01-01T00:00:00.000Z' },
      error: 'Jobber rejected the request',
      errorType: 'JobberQueryInvalid',
      attempts: 1,
      status: 'open',
      failedAt: new Date(),
    });
    await models.Connection.create({ _id: 'QWNjb3VudC8x', name: 'Linked Co', status: 'connected', tokenVersion: 1 });
    await connection.close();
  });

  it('lists open dead letters as JSON', async () => {
    const { stdout } = await ops('dead-letters', 'list');
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({ id: 'jobber-event/1/CLIENT_UPDATE/2/2025-01-01T00:00:00.000Z', topic: 'CLIENT_UPDATE', errorType: 'JobberQueryInvalid' }),
    ]);
  });

  it('explains unknown commands and unknown accounts with a non-zero exit', async () => {
    await expect(
      run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/bin/ops.ts', 'dead-letters', 'list'], {
        cwd: ROOT,
        env: { ...env, MONGO_URL: '' },
      }),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/MONGO_URL is required but not set/),
    });
    await expect(ops('frobnicate')).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command: frobnicate[\s\S]*Usage/) });
    await expect(ops('account', 'show', 'nobody')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/no connection for account nobody/) });
  });

  it('replays nothing, without an error, when --all finds no open dead letter', async () => {
    const empty = { ...env, MONGO_URL: testMongoUrl('ops-empty') };
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/bin/ops.ts', 'dead-letters', 'replay', '--all'], {
      cwd: ROOT,
      env: empty,
    });
    expect(JSON.parse(stdout)).toEqual([]);
    await expect(ops('dead-letters', 'replay', 'jobber-event/1/x', '--all')).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/not both/) });
  });

  it('lists a kept malformed webhook and says why it cannot be replayed', async () => {
    const db = { ...env, MONGO_URL: testMongoUrl('ops-malformed') };
    const { connection, models } = await connectDatabase(db.MONGO_URL);
    const id = await malformedWebhookKeeper(models)({
      rawBody: Buffer.from('{"data":{"webHookEvent":{"topic":"CLIENT_UPDATE"}}}'),
      contentType: 'application/json',
      reason: 'accountId is missing',
    });
    await connection.close();
    const cli = (...args: string[]) =>
      run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/bin/ops.ts', ...args], { cwd: ROOT, env: db });
    expect(JSON.parse((await cli('dead-letters', 'list')).stdout)).toEqual([
      expect.objectContaining({
        id,
        status: 'open',
        topic: 'malformed webhook',
        errorType: 'MalformedWebhook',
        error: 'malformed webhook: accountId is missing',
      }),
    ]);
    expect(JSON.parse((await cli('dead-letters', 'replay', id)).stdout)).toEqual([
      { deadLetter: id, status: 'error: ' + `${id} is still malformed: accountId is missing` },
    ]);
  });

  it('prints its usage with --help', async () => {
    const { stdout } = await ops('--help');
    expect(stdout).toMatch(/dead-letters replay/);
  });

  it('links a Slack workspace to a connected account, refuses unknown accounts, and unlinks', async () => {
    const linked = JSON.parse((await ops('slack', 'link', 'T0123ABCD', 'QWNjb3VudC8x')).stdout);
    expect(linked).toEqual({ teamId: 'T0123ABCD', accounts: ['QWNjb3VudC8x'] });
    await expect(ops('slack', 'link', 'T0123ABCD', 'Tm9ib2R5')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no connection for account Tm9ib2R5/),
    });
    const unlinked = JSON.parse((await ops('slack', 'unlink', 'T0123ABCD')).stdout);
    expect(unlinked).toMatchObject({ teamId: 'T0123ABCD', removed: true, accounts: [] });
  });
});
