import { decodeJwt } from 'jose';
import { ACCOUNT_QUERY, APP_DISCONNECT_MUTATION } from '../../src/jobber/queries';
import {
  DISCONNECTED_MESSAGE,
  INVALID_REFRESH_TOKEN_MESSAGE,
  startJobberSandbox,
  tokenFingerprint,
  type OAuthLogEntry,
  type StartedJobberSandbox,
} from '../../src/sandbox/jobber';
import { admin, gql, manualClock, tokenRequest } from './helpers';

const CLIENT_ID = 'sandbox-client-id';
const CLIENT_SECRET = 'sandbox-client-secret';
const REDIRECT = 'http://127.0.0.1:3999/auth/jobber/callback';

describe('Jobber sandbox OAuth', () => {
  const clock = manualClock();
  let started: StartedJobberSandbox;
  let origin: string;
  let accountId: string;

  beforeAll(async () => {
    started = await startJobberSandbox({ now: clock.now });
    origin = started.url.replace(/\/api$/, '');
  });
  afterAll(() => started.close());
  beforeEach(() => {
    started.sandbox.reset();
    accountId = started.sandbox.store.createAccount({ name: 'Green Thumb Landscaping' }).id;
  });

  const authorizeUrl = (params: Record<string, string>) =>
    `${started.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT, ...params })}`;

  async function codeFor(account = accountId, extra: Record<string, string> = {}): Promise<string> {
    const res = await fetch(authorizeUrl({ account_id: account, auto_approve: '1', ...extra }), { redirect: 'manual' });
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!).searchParams.get('code')!;
  }

  async function connect(): Promise<{ access_token: string; refresh_token: string }> {
    const res = await tokenRequest(started.url, {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_type: 'authorization_code',
      code: await codeFor(),
      redirect_uri: REDIRECT,
    });
    expect(res.status).toBe(200);
    return res.body as { access_token: string; refresh_token: string };
  }

  const refresh = (refreshToken: string, secret = CLIENT_SECRET) =>
    tokenRequest(started.url, { client_id: CLIENT_ID, client_secret: secret, grant_type: 'refresh_token', refresh_token: refreshToken });

  describe('consent page', () => {
    it('shows an account picker with Allow access and Cancel', async () => {
      const res = await fetch(authorizeUrl({ state: 'xyz' }));
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('Green Thumb Landscaping');
      expect(html).toMatch(/<button[^>]*value="allow"[^>]*>Allow access<\/button>/);
      expect(html).toMatch(/<button[^>]*value="cancel"[^>]*>Cancel<\/button>/);
      expect(html).toContain('name="state" value="xyz"');
    });

    it('refuses an unknown client_id with a 400 page', async () => {
      const res = await fetch(authorizeUrl({ client_id: 'someone-else' }));
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('Unknown client_id');
    });

    const submit = (fields: Record<string, string>) =>
      fetch(`${started.url}/oauth/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT, ...fields }).toString(),
      });

    it('Allow redirects with a code and the state', async () => {
      const res = await submit({ state: 'abc', account_id: accountId, decision: 'allow' });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
      expect(location.searchParams.get('state')).toBe('abc');
      expect(location.searchParams.get('code')).toMatch(/.{20,}/);
    });

    it('Allow without state (Marketplace "Connect") adds no state parameter', async () => {
      const res = await submit({ account_id: accountId, decision: 'allow' });
      const location = new URL(res.headers.get('location')!);
      expect([...location.searchParams.keys()]).toEqual(['code']);
    });

    it('Allow can create a new account', async () => {
      const res = await submit({ account_id: 'new', new_account_name: 'Brand New Co', decision: 'allow' });
      expect(res.status).toBe(302);
      expect(started.sandbox.store.listAccounts().map((a) => a.name)).toContain('Brand New Co');
    });

    it('Cancel comes back to the callback with no parameters', async () => {
      const res = await submit({ state: 'abc', account_id: accountId, decision: 'cancel' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(REDIRECT);
    });
  });

  describe('authorization code', () => {
    it('exchanges for a JWT with exp, numeric account_id and app_id, and an opaque refresh token', async () => {
      const tokens = await connect();
      const claims = decodeJwt(tokens.access_token);
      expect(claims.account_id).toBe(Number(Buffer.from(accountId, 'base64').toString().split('/').pop()));
      expect(claims.app_id).toBe(started.sandbox.appId);
      expect(claims.exp! - claims.iat!).toBe(3600);
      expect(tokens.refresh_token).not.toContain('.');
      const res = await gql(started.url, tokens.access_token, ACCOUNT_QUERY);
      expect(res.body.data).toMatchObject({ account: { id: accountId, name: 'Green Thumb Landscaping' } });
    });

    it('is single use', async () => {
      const code = await codeFor();
      const params = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
      expect((await tokenRequest(started.url, params)).status).toBe(200);
      const again = await tokenRequest(started.url, params);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe('invalid_grant');
    });

    it('is bound to the redirect_uri and expires after 10 minutes', async () => {
      const code = await codeFor();
      const wrongUri = await tokenRequest(started.url, {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_type: 'authorization_code',
        code,
        redirect_uri: 'http://evil.example/cb',
      });
      expect(wrongUri.body.error).toBe('invalid_grant');
      const late = await codeFor();
      clock.advance(10 * 60_000 + 1);
      const expired = await tokenRequest(started.url, {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_type: 'authorization_code',
        code: late,
        redirect_uri: REDIRECT,
      });
      expect(expired.body.error).toBe('invalid_grant');
    });

    it('rejects a wrong client secret with 401', async () => {
      const res = await tokenRequest(started.url, {
        client_id: CLIENT_ID,
        client_secret: 'nope',
        grant_type: 'authorization_code',
        code: await codeFor(),
        redirect_uri: REDIRECT,
      });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });
  });

  describe('refresh token rotation', () => {
    it('returns a new pair; the used refresh token is dead at once', async () => {
      const first = await connect();
      const rotated = await refresh(first.refresh_token);
      expect(rotated.status).toBe(200);
      expect(rotated.body.refresh_token).not.toBe(first.refresh_token);
      expect(new Date(rotated.body.expires_at!).getTime()).toBe(decodeJwt(rotated.body.access_token!).exp! * 1000);

      const reuse = await refresh(first.refresh_token);
      expect(reuse.status).toBe(401);
      expect(reuse.body).toEqual({ error: 'invalid_grant', message: INVALID_REFRESH_TOKEN_MESSAGE });
      expect((await refresh(rotated.body.refresh_token!)).status).toBe(200);

      const log = (await admin<OAuthLogEntry[]>(origin, 'GET', '/admin/oauth/log')).body.filter((e) => e.grantType === 'refresh_token');
      expect(log.map((e) => [e.refreshToken, e.outcome])).toEqual([
        [tokenFingerprint(first.refresh_token), 'accepted'],
        [tokenFingerprint(first.refresh_token), 'rejected'],
        [tokenFingerprint(rotated.body.refresh_token!), 'accepted'],
      ]);
      expect(JSON.stringify(log)).not.toContain(first.refresh_token);
    });

    it('of two racing refreshes with the same token, exactly one wins', async () => {
      const { refresh_token } = await connect();
      const results = await Promise.all([refresh(refresh_token), refresh(refresh_token)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    });

    it('token endpoint faults fail the next grants, then it recovers', async () => {
      const { refresh_token } = await connect();
      await admin(origin, 'POST', '/admin/faults', { token: { status: 503, times: 1 } });
      expect((await refresh(refresh_token)).status).toBe(503);
      // The failed call did not consume the refresh token.
      expect((await refresh(refresh_token)).status).toBe(200);
    });

    it('token endpoint faults answer as Jobber or a gateway in front of it would, and only invalid_grant spends the token', async () => {
      const { refresh_token } = await connect();
      const account = (await admin<{ faults: { id: string }[] }>(origin, 'POST', '/admin/faults', { token: { status: 429, retryAfterSeconds: 7 } })).body;
      expect(account.faults).toHaveLength(1);
      const limited = await refresh(refresh_token);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(limited.body.error).toBeUndefined(); // no OAuth error code: nothing said about the token
      await admin(origin, 'POST', '/admin/faults', { token: { status: 502 } });
      const gateway = await refresh(refresh_token);
      expect(gateway.status).toBe(502);
      expect(gateway.text).toContain('502 Bad Gateway');
      await admin(origin, 'POST', '/admin/faults', { token: { drop: true } });
      await expect(refresh(refresh_token)).rejects.toThrow(); // the socket is destroyed: no answer at all
      await admin(origin, 'POST', '/admin/faults', { token: { error: 'invalid_client' } });
      expect(await refresh(refresh_token)).toMatchObject({ status: 401, body: { error: 'invalid_client', message: 'Client authentication failed' } });
      // None of those consumed the refresh token.
      const rotated = await refresh(refresh_token);
      expect(rotated.status).toBe(200);
      // An injected invalid_grant is true: the presented refresh token is dead from then on.
      await admin(origin, 'POST', '/admin/faults', { token: { error: 'invalid_grant' } });
      expect(await refresh(rotated.body.refresh_token!)).toMatchObject({
        status: 401,
        body: { error: 'invalid_grant', message: INVALID_REFRESH_TOKEN_MESSAGE },
      });
      expect(await refresh(rotated.body.refresh_token!)).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      expect(started.sandbox.oauth.log.filter((e) => e.outcome === 'injected').map((e) => e.detail)).toEqual([
        'HTTP 429',
        'HTTP 502',
        'reset',
        'invalid_client',
        'invalid_grant',
      ]);
    });

    it('token faults for one account leave the others alone, and bad fault requests are refused', async () => {
      const other = started.sandbox.store.createAccount({ name: 'Other Co' }).id;
      const mine = await connect();
      const theirs = (
        await tokenRequest(started.url, {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          grant_type: 'authorization_code',
          code: await codeFor(other),
          redirect_uri: REDIRECT,
        })
      ).body;
      await admin(origin, 'POST', '/admin/faults', { token: { error: 'invalid_client' }, accountId: other });
      expect((await refresh(mine.refresh_token)).status).toBe(200);
      expect((await refresh(theirs.refresh_token!)).body.error).toBe('invalid_client');
      expect((await admin(origin, 'POST', '/admin/faults', { graphql: { error: 'invalid_grant' } })).status).toBe(400);
      expect((await admin(origin, 'POST', '/admin/faults', { token: { status: 429, error: 'invalid_grant' } })).status).toBe(400);
    });

    it('rolling the client secret kills every refresh token', async () => {
      const { refresh_token } = await connect();
      const rolled = await admin<{ clientSecret: string }>(origin, 'POST', '/admin/app/roll-secret', {});
      expect(rolled.body.clientSecret).not.toBe(CLIENT_SECRET);
      expect((await refresh(refresh_token, rolled.body.clientSecret)).body.error).toBe('invalid_grant');
      expect((await refresh(refresh_token)).body.error).toBe('invalid_client');
    });
  });

  describe('access tokens', () => {
    it('answer 401 and say so once expired', async () => {
      const { access_token } = await connect();
      expect((await gql(started.url, access_token, ACCOUNT_QUERY)).status).toBe(200);
      clock.advance(3600 * 1000);
      const res = await gql(started.url, access_token, ACCOUNT_QUERY);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ message: 'Unauthorized', reason: 'Access token expired' });
    });

    it('can be expired on demand through the admin API', async () => {
      const { access_token } = await connect();
      const res = await admin<{ expired: number }>(origin, 'POST', `/admin/accounts/${accountId}/expire-tokens`);
      expect(res.body.expired).toBe(1);
      expect((await gql(started.url, access_token, ACCOUNT_QUERY)).body.reason).toBe('Access token expired');
    });

    it('missing or forged tokens get a plain 401', async () => {
      expect((await gql(started.url, undefined, ACCOUNT_QUERY)).body).toEqual({ message: 'Unauthorized' });
      const { access_token } = await connect();
      const forged = `${access_token.slice(0, -4)}AAAA`;
      const res = await gql(started.url, forged, ACCOUNT_QUERY);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ message: 'Unauthorized' });
    });
  });

  describe('disconnect', () => {
    it('Marketplace disconnect kills access and refresh tokens and sends APP_DISCONNECT', async () => {
      const { access_token, refresh_token } = await connect();
      const res = await admin<{ webhookIds: string[]; account: { connection: { status: string } } }>(origin, 'POST', `/admin/accounts/${accountId}/disconnect`);
      expect(res.body.account.connection.status).toBe('disconnected');
      expect(started.sandbox.webhooks.get(res.body.webhookIds[0]!)?.event).toMatchObject({ topic: 'APP_DISCONNECT', accountId });
      const api = await gql(started.url, access_token, ACCOUNT_QUERY);
      expect(api.status).toBe(401);
      expect(api.body).toEqual({ message: DISCONNECTED_MESSAGE });
      expect((await refresh(refresh_token)).status).toBe(401);
    });

    it('the appDisconnect mutation does the same from the app side, and reconnecting works', async () => {
      const { access_token, refresh_token } = await connect();
      const res = await gql(started.url, access_token, APP_DISCONNECT_MUTATION);
      expect(res.body.data).toEqual({ appDisconnect: { app: { name: 'Sandbox App', author: 'Sandbox Developer' }, userErrors: [] } });
      expect(started.sandbox.webhooks.list({ topic: 'APP_DISCONNECT' })).toHaveLength(1);
      expect((await gql(started.url, access_token, ACCOUNT_QUERY)).body.message).toBe(DISCONNECTED_MESSAGE);
      expect((await refresh(refresh_token)).status).toBe(401);

      const again = await connect();
      expect((await gql(started.url, again.access_token, ACCOUNT_QUERY)).status).toBe(200);
    });
  });
});
