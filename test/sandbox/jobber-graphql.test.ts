import { ACCOUNT_QUERY, APP_DISCONNECT_MUTATION } from '../../src/jobber/queries';
import { CLIENT_QUERY } from '../../src/records/types/client';
import { INVOICES_PAGE_QUERY } from '../../src/records/types/invoice';
import { JOB_QUERY } from '../../src/records/types/job';
import { startJobberSandbox, type GraphQLRequestRecord } from '../../src/sandbox/jobber';
import { admin, gql, manualClock } from './helpers';

const CLIENT_IDS_PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $filter: ClientFilterAttributes) {
    clients(first: $first, after: $after, filter: $filter) {
      nodes {
        id
      }
      pageInfo {
        endCursor
        hasNextPage
      }
      totalCount
    }
  }
`;

async function setup(options: Parameters<typeof startJobberSandbox>[0] = {}) {
  const started = await startJobberSandbox(options);
  const origin = started.url.replace(/\/api$/, '');
  const account = started.sandbox.store.createAccount({ name: 'Acme' });
  const { access_token: token } = await started.sandbox.connect(account.id);
  return { started, origin, accountId: account.id, token };
}

describe('Jobber sandbox GraphQL endpoint', () => {
  const clock = manualClock();
  let env: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    env = await setup({ now: clock.now });
  });
  afterAll(() => env.started.close());

  it('requires X-JOBBER-GRAPHQL-VERSION', async () => {
    const res = await gql(env.started.url, env.token, ACCOUNT_QUERY, {}, {});
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('X-JOBBER-GRAPHQL-VERSION');
  });

  it('accepts only application/json', async () => {
    const res = await fetch(`${env.started.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${env.token}`, 'x-jobber-graphql-version': '2025-04-16' },
      body: JSON.stringify({ query: ACCOUNT_QUERY }),
    });
    expect(res.status).toBe(415);
  });

  it('answers validation errors with HTTP 200 and errors[]', async () => {
    const res = await gql(env.started.url, env.token, '{ client(id: "x") { nickname } }');
    expect(res.status).toBe(200);
    expect(res.body.errors?.[0]?.message).toMatch(/Cannot query field "nickname"/);
    expect(res.body.extensions?.cost).toBeDefined();
  });

  it("does not show another account's, deleted or wrong-type records: client(id) is null", async () => {
    const { store } = env.started.sandbox;
    const other = store.createAccount({ name: 'Someone else' });
    const theirs = store.createClient(other.id, { firstName: 'Hidden' });
    const mine = store.createClient(env.accountId, { firstName: 'Mine' });
    const job = store.createJob(env.accountId, { clientId: mine.id });
    const gone = store.createClient(env.accountId, { firstName: 'Gone' });
    store.deleteClient(gone.id);

    for (const id of [theirs.id, gone.id, job.id, 'not-an-id']) {
      const res = await gql(env.started.url, env.token, CLIENT_QUERY, { id });
      expect(res.body).toMatchObject({ data: { client: null } });
      expect(res.body.errors).toBeUndefined();
    }
    expect((await gql(env.started.url, env.token, CLIENT_QUERY, { id: mine.id })).body.data?.client).toMatchObject({ id: mine.id });
    expect((await gql(env.started.url, env.token, JOB_QUERY, { id: job.id })).body.data?.job).toMatchObject({ client: { id: mine.id } });
  });

  describe('pagination', () => {
    let ids: string[];
    let pagedToken: string;
    beforeAll(async () => {
      const account = env.started.sandbox.store.createAccount({ name: 'Paged' });
      ids = env.started.sandbox.store.seed(account.id, { clients: 25 }).clients;
      pagedToken = (await env.started.sandbox.connect(account.id)).access_token;
    });

    async function allPages(first: number, between?: (page: number) => void): Promise<string[]> {
      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; ; page++) {
        const res = await gql(env.started.url, pagedToken, CLIENT_IDS_PAGE, { first, after });
        const conn = res.body.data!.clients as { nodes: { id: string }[]; pageInfo: { endCursor: string; hasNextPage: boolean } };
        seen.push(...conn.nodes.map((n) => n.id));
        between?.(page);
        if (!conn.pageInfo.hasNextPage) return seen;
        after = conn.pageInfo.endCursor;
      }
    }

    it('walks every record once, in a stable order, with opaque cursors', async () => {
      expect(await allPages(10)).toEqual(ids);
    });

    it('stays stable when records are deleted or created between pages', async () => {
      const { store } = env.started.sandbox;
      const accountId = store.getClient(ids[0]!)!.accountId;
      let added = '';
      const seen = await allPages(10, (page) => {
        if (page === 0) {
          store.deleteClient(ids[15]!, { webhook: false });
          added = store.createClient(accountId, {}, { webhook: false }).id;
        }
      });
      expect(seen).toEqual([...ids, added].filter((id) => id !== ids[15]));
    });

    it('refuses pages larger than 100', async () => {
      const res = await gql(env.started.url, pagedToken, CLIENT_IDS_PAGE, { first: 101 });
      expect(res.body.errors?.[0]?.message).toMatch(/between 0 and 100/);
    });

    it('filters clients by updatedAt range', async () => {
      const { store } = env.started.sandbox;
      clock.advance(60_000);
      const since = clock.now().toISOString();
      const updated = store.updateClient(ids[5]!, { isLead: true }, { webhook: false });
      const res = await gql(env.started.url, pagedToken, CLIENT_IDS_PAGE, { first: 100, filter: { updatedAt: { after: since } } });
      expect(res.body.data!.clients).toMatchObject({ nodes: [{ id: updated.id }], totalCount: 1 });
    });
  });

  it('stamps updatedAt in whole seconds, as Jobber does: changes within one second share it', () => {
    const { store } = env.started.sandbox;
    const client = store.createClient(env.accountId, {}, { webhook: false });
    const stamps = [client.updatedAt];
    for (let i = 0; i < 5; i++) stamps.push(store.updateClient(client.id, { title: `v${i}` }, { webhook: false }).updatedAt);
    for (const stamp of stamps) expect(stamp).toMatch(/T\d\d:\d\d:\d\d\.000Z$/);
    // Five updates run within a few milliseconds: at most one second boundary falls among them.
    expect(new Set(stamps).size).toBeLessThanOrEqual(2);
    for (let i = 1; i < stamps.length; i++) expect(Date.parse(stamps[i]!)).toBeGreaterThanOrEqual(Date.parse(stamps[i - 1]!));
  });

  it('gives updatedAt values that strictly increase, even within one millisecond, when whole seconds are off', () => {
    const { sandbox } = env.started;
    sandbox.setWholeSecondStamps(false);
    try {
      const client = sandbox.store.createClient(env.accountId, {}, { webhook: false });
      const stamps = [client.updatedAt];
      for (let i = 0; i < 5; i++) stamps.push(sandbox.store.updateClient(client.id, { title: `v${i}` }, { webhook: false }).updatedAt);
      for (let i = 1; i < stamps.length; i++) expect(Date.parse(stamps[i]!)).toBeGreaterThan(Date.parse(stamps[i - 1]!));
    } finally {
      sandbox.setWholeSecondStamps(true);
    }
  });
});

describe('query cost and throttling', () => {
  // Own documents, so the pinned numbers do not move when the service's queries change.
  // Per client: id, firstName (2) + emails(1 + address) = 4; connection: 1 + first * 4 + pageInfo(1 + 1).
  const SMALL = 'query Small($first: Int) { clients(first: $first) { nodes { id firstName emails { address } } pageInfo { hasNextPage } } }';
  // 1 + 100 * 10 = 1001 points: more than the whole bucket.
  const BIG = '{ clients(first: 100) { nodes { id firstName lastName companyName title isCompany isArchived isLead createdAt updatedAt } } }';
  const clock = manualClock();
  let env: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    env = await setup({ now: clock.now, costBucket: { maximumAvailable: 1000, restoreRate: 50 } });
    env.started.sandbox.store.seed(env.accountId, { clients: 3, jobsPerClient: 1, invoicesPerJob: 1 });
  });
  afterAll(() => env.started.close());

  it('reports requested and actual cost and the bucket in every answer', async () => {
    const res = await gql(env.started.url, env.token, SMALL, { first: 10 });
    expect(res.body.extensions?.cost).toEqual({
      requestedQueryCost: 3 + 10 * 4,
      actualQueryCost: 3 + 3 * 4,
      throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 1000 - 15, restoreRate: 50 },
    });
    clock.advance(100);
    const next = await gql(env.started.url, env.token, ACCOUNT_QUERY);
    // 985 left, 5 restored in 100 ms, then the account query's own actual cost taken.
    const cost = next.body.extensions!.cost;
    expect(cost.throttleStatus.currentlyAvailable).toBe(1000 - 15 + 5 - cost.actualQueryCost);
  });

  it('connections without first cost 100 records; the service documents all run well under the default bucket', async () => {
    const res = await gql(env.started.url, env.token, SMALL, {});
    expect(res.body.extensions?.cost.requestedQueryCost).toBe(3 + 100 * 4);
    const invoices = await gql(env.started.url, env.token, INVOICES_PAGE_QUERY, { first: 100 });
    expect(invoices.body.extensions?.cost.requestedQueryCost).toBeLessThan(10_000);
  });

  it('answers THROTTLED and executes nothing when the requested cost exceeds what is available', async () => {
    clock.advance(60_000);
    const res = await gql(env.started.url, env.token, BIG);
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([{ message: 'Throttled', extensions: { code: 'THROTTLED' } }]);
    expect(res.body.data).toBeUndefined();
    expect(res.body.extensions?.cost).toMatchObject({ requestedQueryCost: 1001, actualQueryCost: 0, throttleStatus: { currentlyAvailable: 1000 } });
  });

  it('a throttled mutation has no effect', async () => {
    const tiny = await setup({ costBucket: { maximumAvailable: 3, restoreRate: 1 } });
    try {
      const res = await gql(tiny.started.url, tiny.token, APP_DISCONNECT_MUTATION);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('THROTTLED');
      expect((await gql(tiny.started.url, tiny.token, '{ account { id } }')).status).toBe(200);
      expect(tiny.started.sandbox.webhooks.list()).toHaveLength(0);
    } finally {
      await tiny.started.close();
    }
  });
});

describe('request limit', () => {
  const clock = manualClock();
  let env: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    env = await setup({ now: clock.now, requestLimit: { max: 3, windowMs: 60_000 } });
  });
  afterAll(() => env.started.close());

  it('answers HTTP 429 with Retry-After past the limit, per account, until the window moves on', async () => {
    for (let i = 0; i < 3; i++) expect((await gql(env.started.url, env.token, ACCOUNT_QUERY)).status).toBe(200);
    const limited = await gql(env.started.url, env.token, ACCOUNT_QUERY);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');

    const other = env.started.sandbox.store.createAccount({});
    const otherToken = (await env.started.sandbox.connect(other.id)).access_token;
    expect((await gql(env.started.url, otherToken, ACCOUNT_QUERY)).status).toBe(200);

    clock.advance(60_001);
    expect((await gql(env.started.url, env.token, ACCOUNT_QUERY)).status).toBe(200);
  });
});

describe('fault injection and the request log', () => {
  let env: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    env = await setup();
  });
  afterAll(() => env.started.close());
  afterEach(async () => {
    await admin(env.origin, 'DELETE', '/admin/faults');
  });

  const call = () => gql(env.started.url, env.token, ACCOUNT_QUERY);

  it('fails the next n requests with the given status, then recovers', async () => {
    await admin(env.origin, 'POST', '/admin/faults', { graphql: { status: 500, times: 2 } });
    expect((await call()).status).toBe(500);
    expect((await call()).status).toBe(500);
    expect((await call()).status).toBe(200);
  });

  it('502 looks like a gateway page, 401 like Jobber, 429 carries Retry-After', async () => {
    await admin(env.origin, 'POST', '/admin/faults', { graphql: { status: 502 } });
    const gateway = await fetch(`${env.started.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.token}`, 'x-jobber-graphql-version': '2025-04-16' },
      body: JSON.stringify({ query: ACCOUNT_QUERY }),
    });
    expect(gateway.status).toBe(502);
    expect(gateway.headers.get('content-type')).toMatch(/text\/html/);

    await admin(env.origin, 'POST', '/admin/faults', { graphql: { status: 401 } });
    expect((await call()).body).toEqual({ message: 'Unauthorized' });

    await admin(env.origin, 'POST', '/admin/faults', { graphql: { status: 429, retryAfterSeconds: 7 } });
    expect((await call()).headers.get('retry-after')).toBe('7');
  });

  it('throttle and delay faults', async () => {
    await admin(env.origin, 'POST', '/admin/faults', { graphql: { throttle: true, times: 2 } });
    expect((await call()).body.errors?.[0]?.extensions?.code).toBe('THROTTLED');
    expect((await call()).body.errors?.[0]?.extensions?.code).toBe('THROTTLED');
    expect((await call()).body.errors).toBeUndefined();

    await admin(env.origin, 'POST', '/admin/faults', { graphql: { delayMs: 20 } });
    expect((await call()).status).toBe(200);
  });

  it('drop closes the connection without an answer', async () => {
    await admin(env.origin, 'POST', '/admin/faults', { graphql: { drop: true } });
    await expect(call()).rejects.toThrow();
    expect((await call()).status).toBe(200);
  });

  it('can be scoped to an account or an operation', async () => {
    const other = env.started.sandbox.store.createAccount({});
    const otherToken = (await env.started.sandbox.connect(other.id)).access_token;
    await admin(env.origin, 'POST', '/admin/faults', { graphql: { status: 503, accountId: other.id } });
    await admin(env.origin, 'POST', '/admin/faults', { graphql: { status: 500, operationName: 'Client' } });
    expect((await call()).status).toBe(200);
    expect((await gql(env.started.url, env.token, CLIENT_QUERY, { id: 'x' })).status).toBe(500);
    expect((await gql(env.started.url, otherToken, ACCOUNT_QUERY)).status).toBe(503);
  });

  it('logs every request with account, operation, status and cost', async () => {
    const ME = 'query Me { account { id name } }';
    await admin(env.origin, 'DELETE', '/admin/requests');
    await gql(env.started.url, env.token, ME);
    await gql(env.started.url, undefined, ME);
    const { body } = await admin<GraphQLRequestRecord[]>(env.origin, 'GET', '/admin/requests');
    expect(body).toEqual([
      expect.objectContaining({ accountId: env.accountId, operationName: 'Me', status: 200, outcome: 'ok', requestedQueryCost: 3, actualQueryCost: 3 }),
      expect.objectContaining({ accountId: null, operationName: 'Me', status: 401, outcome: 'unauthorized' }),
    ]);
  });
});
