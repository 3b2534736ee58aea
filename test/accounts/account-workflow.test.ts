import { followConnectFlow } from '../../src/dev/connect-flow';
import { accountWorkflowId } from '../../workflows/definitions';
import pino from 'pino';
import { REDACT_PATHS } from '../../src/logger';
import { refreshGrants, startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';
import { disconnectFromManagePage } from '../helpers/ingress';

describe('connecting accounts and the account workflow (sandbox over HTTP, real Temporal, FerretDB)', () => {
  let p: Pipeline;

  beforeAll(async () => {
    // Short-lived tokens so refresh ahead of expiry happens within a test.
    // A refused refresh waits 20 s for an APP_DISCONNECT before operators are alerted: enough for
    // a webhook the ingress answered 503 under load and the sandbox retries after Retry-After (5-10 s).
    p = await startPipeline('accounts', { sandbox: { accessTokenTtlSeconds: 4 }, accountTiming: { refreshAheadMs: 2000, brokenAlertGraceMs: 20_000 } });
  });
  afterAll(async () => {
    await p?.close();
  });

  const connect = async (name: string) => {
    const account = p.jobber.sandbox.store.createAccount({ name });
    const result = await followConnectFlow(p.ingressUrl, account.id);
    return { accountId: account.id, result };
  };

  it('connects through real redirects, stores encrypted tokens, starts the account workflow and backfills', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Evergreen Co' });
    const client = p.jobber.sandbox.store.createClient(account.id, { firstName: 'Existing' }, { webhook: false });
    const result = await followConnectFlow(p.ingressUrl, account.id);
    expect(result.status).toBe(302);
    expect(result.location).toBe('/manage');
    expect(result.cookies).toMatch(/jobber_account=/);
    const connection = await p.models.Connection.findById(account.id).lean();
    expect(connection).toMatchObject({ name: 'Evergreen Co', status: 'connected' });
    expect(connection?.accessToken?.keyId).toBeTruthy();
    const state = await waitFor(async () => {
      const s = await p.control.state(account.id);
      return s?.backfill === 'done' ? s : undefined;
    });
    expect(state.status).toBe('connected');
    // The backfill stored what existed before the connection, without alerting anyone.
    expect((await p.models.Client.findById(client.id).lean())?.firstName).toBe('Existing');
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Existing'))).toHaveLength(0);
  });

  it('refuses a bad or replayed state, a denied consent and a failed exchange, storing nothing', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Careful Co' });
    const tampered = await followConnectFlow(p.ingressUrl, account.id, {
      tamper: (url) => {
        if (url.pathname.endsWith('/auth/jobber/callback')) url.searchParams.set('state', 'forged');
      },
    });
    expect(tampered.status).toBe(400);
    expect(tampered.body).toMatch(/no longer valid/);
    const denied = await followConnectFlow(p.ingressUrl, account.id, { approve: false });
    expect(denied.status).toBe(400);
    expect(denied.body).toMatch(/not granted/);
    // A callback replayed after it was used (its state cookie is spent) is refused too.
    let callback: string | undefined;
    const other = p.jobber.sandbox.store.createAccount({ name: 'Replayed Co' });
    const used = await followConnectFlow(p.ingressUrl, other.id, {
      tamper: (url) => {
        if (url.pathname.endsWith('/auth/jobber/callback')) callback = url.toString();
      },
    });
    expect(used.location).toBe('/manage');
    const replayed = await fetch(callback!, { headers: { cookie: used.cookies } });
    expect(replayed.status).toBe(400);
    expect(await replayed.text()).toMatch(/no longer valid/);
    const badCode = await fetch(`${p.ingressUrl}/auth/jobber/callback?code=nonsense`);
    expect(badCode.status).toBe(502);
    expect(await p.models.Connection.findById(account.id).lean()).toBeNull();
  });

  it('accepts a Marketplace connect without state but signs nobody in', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Marketplace Co' });
    const authorize = new URL(`${p.jobber.url}/oauth/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: p.jobber.sandbox.clientId,
      redirect_uri: new URL(p.oauth.authorizeUrl()).searchParams.get('redirect_uri')!,
      account_id: account.id,
      auto_approve: '1',
    }).toString();
    const jobber = await fetch(authorize, { redirect: 'manual' });
    const callback = new URL(jobber.headers.get('location')!);
    expect(callback.searchParams.get('state')).toBeNull();
    const res = await fetch(`${p.ingressUrl}${callback.pathname}${callback.search}`, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/Connected Marketplace Co/);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('jobber_account=') && !c.startsWith('jobber_account=;'))).toBe(false);
    expect(await p.models.Connection.findById(account.id).lean()).toMatchObject({ status: 'connected' });
  });

  it('refreshes ahead of expiry with no caller, rotating the refresh token', async () => {
    const { accountId } = await connect('Timer Co');
    const before = (await p.models.Connection.findById(accountId).lean())!.tokenVersion;
    const firstPair = await p.deps.tokens.read(accountId);
    await waitFor(() => (refreshGrants(p, accountId).length >= 1 ? true : undefined), 20_000);
    const after = await waitFor(async () => {
      const doc = await p.models.Connection.findById(accountId).lean();
      return doc && doc.tokenVersion > before ? doc : undefined;
    });
    expect(after.status).toBe('connected');
    expect(refreshGrants(p, accountId).every((e) => e.outcome === 'accepted')).toBe(true);
    const rotated = await p.deps.tokens.read(accountId);
    expect(rotated.refreshToken).not.toBe(firstPair.refreshToken);
    expect(rotated.accessToken).not.toBe(firstPair.accessToken);
  });

  it('disconnecting from our UI calls appDisconnect once, purges the tokens and shows it', async () => {
    const { accountId, result } = await connect('Leaving UI Co');
    const cookies = result.cookies;
    const page = await fetch(`${p.ingressUrl}/manage`, { headers: { cookie: cookies } });
    const html = await page.text();
    expect(html).toMatch(/Leaving UI Co/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const forged = await fetch(`${p.ingressUrl}/disconnect`, {
      method: 'POST',
      headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=forged',
    });
    expect(forged.status).toBe(403);
    // Jobber takes appDisconnect once. On a loaded machine the 4-second access token may have expired
    // first: that call is refused (401) and changes nothing; the workflow refreshes and calls again.
    const disconnectCalls = () => p.jobber.sandbox.requests.filter((r) => r.operationName === 'AppDisconnect');
    const before = disconnectCalls().length;
    const accepted = () =>
      disconnectCalls()
        .slice(before)
        .map((r) => r.outcome)
        .filter((outcome) => outcome !== 'unauthorized');
    const res = await fetch(`${p.ingressUrl}/disconnect`, {
      method: 'POST',
      headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${encodeURIComponent(csrf)}`,
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/Disconnected/);
    expect(accepted()).toEqual(['ok']);
    const connection = await p.models.Connection.findById(accountId).lean();
    expect(connection).toMatchObject({ status: 'disconnected' });
    expect(connection?.refreshToken).toBeUndefined();
    // Jobber sends APP_DISCONNECT for it too: handled without another call.
    const appDisconnect = await waitFor(() => p.jobber.sandbox.webhooks.list({ topic: 'APP_DISCONNECT' }).find((d) => d.event.accountId === accountId));
    await p.outcomes([appDisconnect.id]); // its event workflow has finished
    expect(accepted()).toEqual(['ok']);
    const after = await fetch(`${p.ingressUrl}/manage`, { headers: { cookie: cookies } });
    expect(await after.text()).toMatch(/Connect Jobber/);
  });

  it('APP_DISCONNECT from Jobber purges without calling Jobber, twice is fine, and reconnecting works', async () => {
    const { accountId } = await connect('Marketplace Leaver');
    await waitFor(async () => ((await p.control.state(accountId))?.backfill === 'done' ? true : undefined));
    const calls = () => p.jobber.sandbox.requests.filter((r) => r.accountId === accountId).length;
    const before = calls();
    const ids = p.jobber.sandbox.disconnect(accountId, { duplicates: 1 });
    await p.outcomes(ids);
    const handle = p.temporal.client.workflow.getHandle(accountWorkflowId(accountId));
    // Whether a timer refresh was refused first or not, the account workflow applies the
    // disconnect after it, and it is the connection's only writer: the account ends disconnected.
    const final = await handle.result();
    expect(final.status).toBe('disconnected');
    const connection = await p.models.Connection.findById(accountId).lean();
    expect(connection?.status).toBe('disconnected');
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Marketplace Leaver'))).toHaveLength(0);
    expect(connection?.accessToken).toBeUndefined();
    expect(connection?.refreshToken).toBeUndefined();
    expect(calls()).toBe(before);
    // A resend of the same webhook days later is still a no-op.
    const resent = p.jobber.sandbox.webhooks.enqueue({
      topic: 'APP_DISCONNECT',
      accountId,
      itemId: accountId,
      occurredAt: p.jobber.sandbox.webhooks.get(ids[0]!)!.event.occurredAt,
    });
    const [first] = await p.outcomes(ids.slice(0, 1));
    expect(await p.outcomes(resent)).toEqual([first]); // the same workflow: nothing ran again
    expect(calls()).toBe(before);
    const again = await followConnectFlow(p.ingressUrl, accountId);
    expect(again.location).toBe('/manage');
    const state = await waitFor(async () => {
      const s = await p.control.state(accountId);
      return s?.status === 'connected' && s.backfill === 'done' ? s : undefined;
    });
    expect(state.status).toBe('connected');
    const { webhookIds } = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(accountId, { firstName: 'Back' }));
    expect(await p.outcomes(webhookIds)).toEqual([expect.objectContaining({ status: 'synced' })]);
  });

  it('does not alarm operators when a refresh is refused because of a Marketplace disconnect whose webhook is late', async () => {
    const { accountId } = await connect('Late Webhook Co');
    await waitFor(async () => ((await p.control.state(accountId))?.backfill === 'done' ? true : undefined));
    // Jobber revokes the tokens; its APP_DISCONNECT is held back.
    const ids = p.jobber.sandbox.disconnect(accountId, { hold: true });
    // The next timer refresh (every 2 s here) is refused: broken, but operators are not told yet.
    await waitFor(async () => ((await p.models.Connection.findById(accountId).lean())?.status === 'broken' ? true : undefined), 20_000);
    const alerts = () => p.slack.standIn.state.messages.filter((m) => m.text.includes('Late Webhook Co'));
    expect(alerts()).toHaveLength(0);
    // The webhook arrives within the grace period: a disconnect, as the user meant.
    await p.jobber.sandbox.webhooks.release(ids);
    await p.outcomes(ids);
    expect((await p.temporal.client.workflow.getHandle(accountWorkflowId(accountId)).result()).status).toBe('disconnected');
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('disconnected');
    expect(alerts()).toHaveLength(0);
  });

  it('alerts operators once when a refused refresh token is not explained by an APP_DISCONNECT', async () => {
    const { accountId } = await connect('Dead Token Co');
    await waitFor(async () => ((await p.control.state(accountId))?.backfill === 'done' ? true : undefined));
    p.jobber.sandbox.disconnect(accountId, { hold: true }); // the webhook never comes
    const handle = p.temporal.client.workflow.getHandle(accountWorkflowId(accountId));
    expect((await handle.result()).status).toBe('broken');
    const alerts = p.slack.standIn.state.messages.filter((m) => m.text.includes('Dead Token Co'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toMatch(/lost its connection: Jobber refused the refresh token/);
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('broken');
  }, 60_000);

  it('logs no plaintext token, even at trace level, through connect, refresh and disconnect', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (l: string) => lines.push(l) });
    const q = await startPipeline('logs', { logger, sandbox: { accessTokenTtlSeconds: 4 }, accountTiming: { refreshAheadMs: 2000 } });
    try {
      const account = q.jobber.sandbox.store.createAccount({ name: 'Logged Co' });
      const seen = new Set<string>();
      const result = await followConnectFlow(q.ingressUrl, account.id);
      const first = await q.deps.tokens.read(account.id);
      seen.add(first.accessToken).add(first.refreshToken);
      await waitFor(async () => {
        const now = await q.deps.tokens.read(account.id);
        seen.add(now.accessToken).add(now.refreshToken);
        return now.version > first.version ? true : undefined;
      }, 20_000);
      expect((await disconnectFromManagePage(q.ingressUrl, result.cookies)).status).toBe(200);
      expect((await q.models.Connection.findById(account.id).lean())?.status).toBe('disconnected');
      // These are the ingress's logs (the worker's are checked in test/processes.test.ts).
      expect(lines.some((l) => l.includes('"msg":"jobber account connected"'))).toBe(true);
      const logged = lines.join('\n');
      for (const token of seen) expect(logged).not.toContain(token);
      expect(logged).not.toContain(q.jobber.sandbox.clientSecret);
    } finally {
      await q.close();
    }
  }, 60_000);

  it('keeps no plaintext token in MongoDB or in the workflow histories', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Secretive Co' });
    await followConnectFlow(p.ingressUrl, account.id);
    await waitFor(async () => ((await p.control.state(account.id))?.backfill === 'done' ? true : undefined));
    const issued = p.jobber.sandbox.oauth.log.filter((e) => e.issuedRefreshToken && e.accountId === account.id).length;
    expect(issued).toBeGreaterThan(0);
    const { accessToken, refreshToken } = await p.deps.tokens.read(account.id);
    const dump = JSON.stringify(await p.models.Connection.find().lean());
    expect(dump).toContain('"keyId"'); // the tokens are there, sealed
    expect(dump).not.toContain(accessToken);
    expect(dump).not.toContain(refreshToken);
    expect(dump).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWT at all
    const history = await p.temporal.client.workflow.getHandle(accountWorkflowId(account.id)).fetchHistory();
    expect(JSON.stringify(history)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    expect(JSON.stringify(history)).not.toContain(refreshToken);
  });
});
