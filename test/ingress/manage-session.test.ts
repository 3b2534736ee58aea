import { followConnectFlow } from '../../src/dev/connect-flow';
import { loadConfig } from '../../src/config';
import { SESSION_LIFETIME_MS } from '../../src/ingress/sessions';
import { disconnectFromManagePage } from '../helpers/ingress';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

/** A deployment's environment: only PUBLIC_URL matters here. */
const deployed = loadConfig({
  MONGO_URL: 'mongodb://localhost:27017/jobber',
  JOBBER_CLIENT_ID: 'id',
  JOBBER_CLIENT_SECRET: 'secret',
  SLACK_BOT_TOKEN: 'xoxb-1',
  SLACK_SIGNING_SECRET: 'signing',
  SLACK_ALERT_CHANNEL: 'C123',
  TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  SESSION_SECRET: 'x'.repeat(32),
  PUBLIC_URL: 'https://jobber-sync.example.com',
});

const form = (cookies: string, body: Record<string, string>) => ({
  method: 'POST',
  redirect: 'manual' as const,
  headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(body).toString(),
});

const csrfOf = (html: string): string => {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error(`no form token on the page:\n${html.slice(0, 500)}`);
  return token;
};

/**
 * The Manage App session as a user meets it, behind an https PUBLIC_URL (the requests themselves
 * are plain HTTP with no X-Forwarded-Proto, as from a TLS-terminating proxy that does not say so).
 */
describe('Manage App sessions (sandbox over HTTP, real Temporal, FerretDB)', () => {
  let p: Pipeline;
  let clockOffsetMs = 0;

  beforeAll(async () => {
    p = await startPipeline('sessions', { secureCookies: deployed.secureCookies, sessionClock: () => new Date(Date.now() + clockOffsetMs) });
  });
  afterAll(async () => {
    await p?.close();
  });
  afterEach(() => {
    clockOffsetMs = 0;
  });

  const connect = async (name: string, accountId = p.jobber.sandbox.store.createAccount({ name }).id) => {
    const result = await followConnectFlow(p.ingressUrl, accountId);
    expect(result.location).toBe('/manage');
    return { accountId, cookies: result.cookies };
  };
  /** Jobber's App Marketplace "Connect": the callback with a code and no state. */
  const marketplaceConnect = async (accountId: string) => {
    const authorize = new URL(`${p.jobber.url}/oauth/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: p.jobber.sandbox.clientId,
      redirect_uri: new URL(p.oauth.authorizeUrl()).searchParams.get('redirect_uri')!,
      account_id: accountId,
      auto_approve: '1',
    }).toString();
    const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
    const res = await fetch(`${p.ingressUrl}${callback.pathname}${callback.search}`, { redirect: 'manual' });
    expect(res.status).toBe(200);
  };
  const manage = async (cookies: string) => (await fetch(`${p.ingressUrl}/manage`, { headers: { cookie: cookies } })).text();
  /** Signed in as `name`: the page shows that account and its buttons. */
  const signedInAs = (html: string, name: string) => html.includes(`<h1>${name}</h1>`) && html.includes('>Sync now</button>');
  const signedOut = (html: string) => html.includes('href="/auth/jobber"') && !html.includes('id="status"') && !html.includes('name="csrf"');

  it('sends the state and session cookies Secure when PUBLIC_URL is https, over a plain-HTTP hop', async () => {
    expect(deployed.secureCookies).toBe(true);
    const account = p.jobber.sandbox.store.createAccount({ name: 'Secure Co' });
    const start = await fetch(`${p.ingressUrl}/auth/jobber`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const stateCookies = start.headers.getSetCookie();
    expect(stateCookies.some((c) => c.startsWith('jobber_oauth_state='))).toBe(true);
    for (const cookie of stateCookies) expect(cookie).toMatch(/;\s*secure/i);

    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('account_id', account.id);
    authorize.searchParams.set('auto_approve', '1');
    const jobber = await fetch(authorize, { redirect: 'manual' });
    const callback = new URL(jobber.headers.get('location')!);
    const jar = stateCookies.map((c) => c.split(';')[0]).join('; ');
    const signedIn = await fetch(`${p.ingressUrl}${callback.pathname}${callback.search}`, { redirect: 'manual', headers: { cookie: jar } });
    expect(signedIn.status).toBe(302);
    expect(signedIn.headers.get('location')).toBe('/manage');
    const set = signedIn.headers.getSetCookie();
    expect(set.some((c) => c.startsWith('jobber_account=') && !c.startsWith('jobber_account=;'))).toBe(true);
    for (const cookie of set) expect(cookie).toMatch(/;\s*secure/i);
    for (const cookie of set) expect(cookie).toMatch(/;\s*httponly/i);
  });

  it('keeps sessions server-side: the cookie holds a random id stored only as a hash, with an expiry', async () => {
    const { accountId, cookies } = await connect('Hashed Co');
    const id = decodeURIComponent(/(?:^|; )jobber_account=([^;]+)/.exec(cookies)![1]!);
    expect(id).not.toContain(accountId);
    const stored = await p.models.Session.find({ accountId }).lean();
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(id);
    const [session] = stored;
    expect(session!.expiresAt.getTime() - session!.createdAt.getTime()).toBe(SESSION_LIFETIME_MS);
    expect(csrfOf(await manage(cookies))).toBe(session!.csrf);
    // MongoDB removes expired sessions with a TTL index; FerretDB v1 cannot build one (the
    // expiry test below shows the sweep that replaces it there).
    const ferret = 'ferretdbVersion' in (await p.mongo.db!.admin().command({ buildInfo: 1 }));
    const ttl = (await p.models.Session.collection.indexes()).find((i) => i.key.expiresAt === 1);
    if (!ferret) expect(ttl?.expireAfterSeconds).toBe(0);
  });

  it('refuses an expired session even with a valid signed cookie', async () => {
    const { accountId, cookies } = await connect('Expiring Co');
    const html = await manage(cookies);
    expect(signedInAs(html, 'Expiring Co')).toBe(true);
    const csrf = csrfOf(html);

    clockOffsetMs = SESSION_LIFETIME_MS + 1000;
    expect(signedOut(await manage(cookies))).toBe(true);
    const sync = await fetch(`${p.ingressUrl}/sync`, form(cookies, { csrf }));
    expect(sync.status).toBe(401);
    // Refused for good, not only while the clock says so.
    clockOffsetMs = 0;
    expect(signedOut(await manage(cookies))).toBe(true);
    expect(await p.models.Session.countDocuments({ accountId })).toBe(0);
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('connected');
  });

  it('removes expired sessions nobody presents again', async () => {
    const { accountId } = await connect('Forgotten Co');
    expect(await p.models.Session.countDocuments({ accountId })).toBe(1);
    clockOffsetMs = SESSION_LIFETIME_MS + 1000;
    await connect('Someone Else Co'); // any sign-in sweeps where no TTL index does it
    expect(await p.models.Session.countDocuments({ accountId })).toBe(0);
  });

  it('signs out: the session is deleted, its cookie cleared and refused afterwards; the account stays connected', async () => {
    const { accountId, cookies } = await connect('Leaving Browser Co');
    const csrf = csrfOf(await manage(cookies));
    const res = await fetch(`${p.ingressUrl}/signout`, form(cookies, { csrf }));
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/Signed out/);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('jobber_account=;'))).toBe(true);
    expect(await p.models.Session.countDocuments({ accountId })).toBe(0);
    // The browser kept the old cookie (or someone copied it): it signs nobody in.
    expect(signedOut(await manage(cookies))).toBe(true);
    expect((await fetch(`${p.ingressUrl}/sync`, form(cookies, { csrf }))).status).toBe(401);
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('connected');
  });

  it('ends sessions with a disconnect, from our page or from Jobber, and a reconnect does not revive them', async () => {
    const { accountId, cookies: first } = await connect('Returning Co');
    expect(signedInAs(await manage(first), 'Returning Co')).toBe(true);
    const res = await disconnectFromManagePage(p.ingressUrl, first);
    expect(res.status).toBe(200);
    const after = await manage(first);
    expect(signedOut(after)).toBe(true);
    expect(after).toMatch(/Your session has ended/);

    // The user connects again: the new session works, the old one stays dead.
    const again = await connect('Returning Co', accountId);
    expect(signedInAs(await manage(again.cookies), 'Returning Co')).toBe(true);
    expect(signedOut(await manage(first))).toBe(true);

    // Disconnected from Jobber's side (App Marketplace): the live session ends too...
    p.jobber.sandbox.disconnect(accountId);
    await waitFor(async () => ((await p.models.Connection.findById(accountId).lean())?.status === 'disconnected' ? true : undefined));
    expect(signedOut(await manage(again.cookies))).toBe(true);
    // ...and a reconnect by anyone (here Jobber's Marketplace connect, which grants no session)
    // brings back neither session.
    await marketplaceConnect(accountId);
    await waitFor(async () => ((await p.models.Connection.findById(accountId).lean())?.status === 'connected' ? true : undefined));
    expect(signedOut(await manage(again.cookies))).toBe(true);
    expect(signedOut(await manage(first))).toBe(true);
  });

  it('uses a form token per session: a token from another session is refused', async () => {
    const { accountId, cookies: first } = await connect('Two Browsers Co');
    const firstToken = csrfOf(await manage(first));
    const second = await connect('Two Browsers Co', accountId);
    const secondToken = csrfOf(await manage(second.cookies));
    expect(secondToken).not.toBe(firstToken);
    const stranger = await connect('Stranger Co');
    const strangerToken = csrfOf(await manage(stranger.cookies));

    expect((await fetch(`${p.ingressUrl}/sync`, form(second.cookies, { csrf: firstToken }))).status).toBe(403);
    expect((await fetch(`${p.ingressUrl}/sync`, form(second.cookies, { csrf: strangerToken }))).status).toBe(403);
    expect((await fetch(`${p.ingressUrl}/disconnect`, form(second.cookies, { csrf: strangerToken }))).status).toBe(403);
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('connected');
    const own = await fetch(`${p.ingressUrl}/sync`, form(second.cookies, { csrf: secondToken }));
    expect(own.status).toBe(302);
    expect(own.headers.get('location')).toBe('/manage');
  });

  it('never puts the form token in a URL: the page posts it, and GET /disconnect is refused whatever it carries', async () => {
    const { accountId, cookies } = await connect('Link Safe Co');
    const html = await manage(cookies);
    const csrf = csrfOf(html);
    const urls = [...html.matchAll(/\b(?:href|action|src|formaction)="([^"]*)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      expect(url).not.toMatch(/csrf/i);
      expect(url).not.toContain(csrf);
    }
    // Every form carrying the token is a POST.
    const forms = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)].map((m) => m[0]);
    expect(forms.filter((f) => f.includes(csrf)).length).toBeGreaterThan(0);
    for (const f of forms.filter((x) => x.includes(csrf))) expect(f).toMatch(/^<form method="post"/);

    const before = p.jobber.sandbox.requests.filter((r) => r.operationName === 'AppDisconnect').length;
    const link = await fetch(`${p.ingressUrl}/disconnect?csrf=${encodeURIComponent(csrf)}`, { headers: { cookie: cookies }, redirect: 'manual' });
    expect(link.status).toBe(405);
    expect(link.headers.get('allow')).toBe('POST');
    const body = await link.text();
    expect(body).toMatch(/Not disconnected/);
    expect(body).not.toContain(csrf);
    expect(p.jobber.sandbox.requests.filter((r) => r.operationName === 'AppDisconnect').length).toBe(before);
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('connected');
    expect(signedInAs(await manage(cookies), 'Link Safe Co')).toBe(true);
  });
});
