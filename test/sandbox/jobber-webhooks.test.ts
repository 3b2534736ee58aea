import { createHmac, timingSafeEqual } from 'node:crypto';
import { INVOICE_QUERY } from '../../src/records/types/invoice';
import { encodeWebhookBody, signWebhook, startJobberSandbox, type StartedJobberSandbox, type WebhookDelivery } from '../../src/sandbox/jobber';
import { parseRetryAfter, WebhookSender, type WebhookSenderOptions } from '../../src/sandbox/jobber/webhooks';
import { SandboxClock } from '../../src/sandbox/jobber/clock';
import pino from 'pino';
import { admin, gql, manualClock, startReceiver, type ReceivedWebhook } from './helpers';

const SECRET = 'sandbox-client-secret';
const APP_ID = '00000000-0000-4000-8000-000000000000';

/** What the service must do: HMAC the raw bytes with the client secret, compare in constant time. */
function verifies(webhook: ReceivedWebhook, secret = SECRET): boolean {
  const expected = createHmac('sha256', secret).update(webhook.raw).digest();
  const given = Buffer.from(String(webhook.headers['x-jobber-hmac-sha256']), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const json = (w: ReceivedWebhook) => JSON.parse(w.raw.toString('utf8')) as { data: { webHookEvent: Record<string, string> } };

describe('Jobber sandbox webhooks', () => {
  const clock = manualClock();
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let started: StartedJobberSandbox;
  let origin: string;
  let accountId: string;

  beforeAll(async () => {
    receiver = await startReceiver();
    started = await startJobberSandbox({
      now: clock.now,
      appId: APP_ID,
      webhookUrl: receiver.url,
      webhooks: { backoffMs: 1, maxAttempts: 3 },
    });
    origin = started.url.replace(/\/api$/, '');
  });
  afterAll(async () => {
    await started.close();
    await receiver.close();
  });
  beforeEach(() => {
    started.sandbox.reset();
    started.sandbox.setWebhookUrl(receiver.url);
    receiver.received.length = 0;
    accountId = started.sandbox.store.createAccount({ name: 'Hooked' }).id;
  });

  const settle = () => started.sandbox.webhooks.settled();

  it('signs with the known HMAC: base64(HMAC-SHA256(client secret, raw body))', () => {
    const body = encodeWebhookBody(
      {
        topic: 'CLIENT_CREATE',
        appId: APP_ID,
        accountId: 'Z2lkOi8vSm9iYmVyL0FjY291bnQvMQ==',
        itemId: 'Z2lkOi8vSm9iYmVyL0NsaWVudC8x',
        occurredAt: '2025-01-15T12:00:00.000Z',
      },
      'json',
      'occurredAt',
    );
    // Pinned: printf '%s' "$body" | openssl dgst -sha256 -hmac sandbox-client-secret -binary | base64
    expect(signWebhook(SECRET, body)).toBe('SS7U9aDQvXSvQ7/tftnTAqmKGIGw3y4VEcwRemKxJiQ=');
  });

  it("sends CLIENT_CREATE as JSON with exactly Jobber's fields, verifiable over the raw body", async () => {
    const res = await admin<{ client: { id: string; updatedAt: string }; webhookIds: string[] }>(origin, 'POST', `/admin/accounts/${accountId}/clients`, {
      firstName: 'Ada',
    });
    expect(res.status).toBe(201);
    expect(res.body.webhookIds).toHaveLength(1);
    const [hook] = await receiver.waitFor(1);
    expect(hook!.headers['content-type']).toBe('application/json');
    expect(verifies(hook!)).toBe(true);
    expect(verifies(hook!, 'another-secret')).toBe(false);
    expect(Object.keys(json(hook!))).toEqual(['data']);
    expect(json(hook!).data).toEqual({
      webHookEvent: { topic: 'CLIENT_CREATE', appId: APP_ID, accountId, itemId: res.body.client.id, occurredAt: res.body.client.updatedAt },
    });
  });

  it('creates, changes and deletes requests through the admin API, each with its REQUEST_* webhook', async () => {
    const client = started.sandbox.store.createClient(accountId, { firstName: 'Lead', emails: [{ address: 'lead@example.com' }] }, { webhook: false });
    const created = await admin<{ request: { id: string; clientId: string; email: string; requestStatus: string; updatedAt: string }; webhookIds: string[] }>(
      origin,
      'POST',
      `/admin/accounts/${accountId}/requests`,
      { clientId: client.id, title: 'Hedges' },
    );
    expect(created.status).toBe(201);
    expect(created.body.request).toMatchObject({ clientId: client.id, email: 'lead@example.com', requestStatus: 'new' });
    const id = created.body.request.id;
    expect((await admin(origin, 'PATCH', `/admin/requests/${id}`, { requestStatus: 'converted' })).status).toBe(200);
    expect((await admin<{ requestStatus: string }>(origin, 'GET', `/admin/requests/${id}`)).body.requestStatus).toBe('converted');
    expect((await admin(origin, 'PATCH', `/admin/requests/${id}`, { requestStatus: 'sold' })).status).toBe(400);
    const deleted = await admin<{ deleted: { requests: string[] } }>(origin, 'DELETE', `/admin/requests/${id}`);
    expect(deleted.body.deleted.requests).toEqual([id]);
    expect((await admin(origin, 'GET', `/admin/requests/${id}`)).status).toBe(404);
    const hooks = await receiver.waitFor(3);
    expect(hooks.map((h) => [json(h).data.webHookEvent.topic, json(h).data.webHookEvent.itemId])).toEqual([
      ['REQUEST_CREATE', id],
      ['REQUEST_UPDATE', id],
      ['REQUEST_DESTROY', id],
    ]);
  });

  it('creates, sends, approves and deletes quotes through the admin API: QUOTE_SENT and QUOTE_APPROVED by name', async () => {
    const client = started.sandbox.store.createClient(accountId, { firstName: 'Quoted' }, { webhook: false });
    const request = started.sandbox.store.createRequest(accountId, { clientId: client.id }, { webhook: false });
    const created = await admin<{ quote: { id: string; quoteNumber: number; quoteStatus: string; requestId: string; amounts: { total: number } } }>(
      origin,
      'POST',
      `/admin/accounts/${accountId}/quotes`,
      { clientId: client.id, requestId: request.id, amounts: { subtotal: 500, taxAmount: 65 } },
    );
    expect(created.status).toBe(201);
    expect(created.body.quote).toMatchObject({ quoteNumber: 1, quoteStatus: 'draft', requestId: request.id, amounts: { total: 565 } });
    const id = created.body.quote.id;
    const sent = await admin<{ quote: { sentAt: string | null } }>(origin, 'PATCH', `/admin/quotes/${id}`, { quoteStatus: 'awaiting_response' });
    expect(sent.body.quote.sentAt).not.toBeNull();
    await admin(origin, 'PATCH', `/admin/quotes/${id}`, { quoteStatus: 'approved' });
    await admin(origin, 'PATCH', `/admin/quotes/${id}`, { title: 'Approved plan' });
    const other = started.sandbox.store.createClient(accountId, {}, { webhook: false });
    const job = started.sandbox.store.createJob(accountId, { clientId: other.id }, { webhook: false });
    expect((await admin(origin, 'PATCH', `/admin/quotes/${id}`, { jobIds: [job.id] })).status).toBe(400);
    expect((await admin<{ deleted: { quotes: string[] } }>(origin, 'DELETE', `/admin/quotes/${id}`)).body.deleted.quotes).toEqual([id]);
    const hooks = await receiver.waitFor(5);
    expect(hooks.map((h) => json(h).data.webHookEvent.topic)).toEqual(['QUOTE_CREATE', 'QUOTE_SENT', 'QUOTE_APPROVED', 'QUOTE_UPDATE', 'QUOTE_DESTROY']);
  });

  it('creates, completes and deletes visits through the admin API: VISIT_COMPLETE by name, a deleted job takes its visits', async () => {
    const client = started.sandbox.store.createClient(accountId, {}, { webhook: false });
    const job = started.sandbox.store.createJob(accountId, { clientId: client.id, title: 'Roof' }, { webhook: false });
    // Jobber's Visit.property is non-null: no visit before the client has a property.
    const homeless = await admin<{ error: string }>(origin, 'POST', `/admin/accounts/${accountId}/visits`, { jobId: job.id });
    expect(homeless.status).toBe(400);
    expect(JSON.stringify(homeless.body)).toContain("the job's client has no property");
    const home = started.sandbox.store.createProperty(accountId, { clientId: client.id, street1: '1 Home Row' }, { webhook: false });
    const site = started.sandbox.store.createProperty(accountId, { clientId: client.id, street1: '2 Site Row' }, { webhook: false });
    const stranger = started.sandbox.store.createClient(accountId, {}, { webhook: false });
    const theirs = started.sandbox.store.createProperty(accountId, { clientId: stranger.id, street1: '3 Their Row' }, { webhook: false });
    const created = await admin<{ visit: { id: string; jobId: string; clientId: string; propertyId: string; title: string; visitStatus: string } }>(
      origin,
      'POST',
      `/admin/accounts/${accountId}/visits`,
      { jobId: job.id, startAt: '2025-06-02T09:00:00Z' },
    );
    expect(created.status).toBe(201);
    // Unnamed, the property is the client's first.
    expect(created.body.visit).toMatchObject({ jobId: job.id, clientId: client.id, propertyId: home.id, title: 'Roof', visitStatus: 'UPCOMING' });
    const id = created.body.visit.id;
    expect((await admin(origin, 'PATCH', `/admin/visits/${id}`, { propertyId: theirs.id })).status).toBe(400);
    expect((await admin(origin, 'POST', `/admin/accounts/${accountId}/visits`, { jobId: job.id, propertyId: theirs.id })).status).toBe(400);
    // A property with visits cannot go: the visit would be left without one.
    expect((await admin(origin, 'DELETE', `/admin/properties/${home.id}`)).status).toBe(409);
    expect((await admin<{ visit: { propertyId: string } }>(origin, 'PATCH', `/admin/visits/${id}`, { propertyId: site.id })).body.visit.propertyId).toBe(
      site.id,
    );
    const done = await admin<{ visit: { visitStatus: string; isComplete: boolean } }>(origin, 'PATCH', `/admin/visits/${id}`, {
      completedAt: '2025-06-02T10:00:00Z',
    });
    expect(done.body.visit).toMatchObject({ visitStatus: 'COMPLETED', isComplete: true });
    await admin(origin, 'PATCH', `/admin/visits/${id}`, { title: 'Roof, done' });
    const second = started.sandbox.store.createVisit(accountId, { jobId: job.id }, { webhook: false });
    expect((await admin<{ deleted: { visits: string[] } }>(origin, 'DELETE', `/admin/visits/${id}`)).body.deleted.visits).toEqual([id]);
    expect((await admin<{ deleted: { visits: string[] } }>(origin, 'DELETE', `/admin/jobs/${job.id}`)).body.deleted.visits).toEqual([second.id]);
    const hooks = await receiver.waitFor(7);
    expect(hooks.map((h) => json(h).data.webHookEvent.topic)).toEqual([
      'VISIT_CREATE',
      'VISIT_UPDATE',
      'VISIT_COMPLETE',
      'VISIT_UPDATE',
      'VISIT_DESTROY',
      'VISIT_DESTROY',
      'JOB_DESTROY',
    ]);
  });

  it('creates, changes and deletes properties through the admin API; deleting the client takes them', async () => {
    const client = started.sandbox.store.createClient(accountId, {}, { webhook: false });
    const created = await admin<{ property: { id: string; clientId: string; street: string } }>(origin, 'POST', `/admin/accounts/${accountId}/properties`, {
      clientId: client.id,
      street1: '5 Oak Road',
    });
    expect(created.status).toBe(201);
    expect(created.body.property).toMatchObject({ clientId: client.id, street: '5 Oak Road' });
    const id = created.body.property.id;
    expect((await admin<{ property: { street: string } }>(origin, 'PATCH', `/admin/properties/${id}`, { street2: 'Rear' })).body.property.street).toBe(
      '5 Oak Road Rear',
    );
    expect((await admin(origin, 'PATCH', `/admin/properties/${id}`, { latitude: '1' })).status).toBe(400);
    const deleted = await admin<{ deleted: { properties: string[] } }>(origin, 'DELETE', `/admin/clients/${client.id}`);
    expect(deleted.body.deleted.properties).toEqual([id]);
    const hooks = await receiver.waitFor(4);
    expect(hooks.map((h) => json(h).data.webHookEvent.topic)).toEqual(['PROPERTY_CREATE', 'PROPERTY_UPDATE', 'PROPERTY_DESTROY', 'CLIENT_DESTROY']);
  });

  it('records, changes and deletes payments through the admin API, each with its PAYMENT_* webhook', async () => {
    const client = started.sandbox.store.createClient(accountId, {}, { webhook: false });
    const invoice = started.sandbox.store.createInvoice(accountId, { clientId: client.id, amounts: { subtotal: 90 } }, { webhook: false });
    const created = await admin<{ payment: { id: string; invoiceId: string; clientId: string; amount: number; paymentType: string } }>(
      origin,
      'POST',
      `/admin/accounts/${accountId}/payments`,
      { invoiceId: invoice.id, amount: 90 },
    );
    expect(created.status).toBe(201);
    expect(created.body.payment).toMatchObject({ invoiceId: invoice.id, clientId: client.id, amount: 90, paymentType: 'CASH' });
    const id = created.body.payment.id;
    expect((await admin(origin, 'POST', `/admin/accounts/${accountId}/payments`, { invoiceId: invoice.id })).status).toBe(400);
    expect(
      (await admin<{ payment: { paymentType: string } }>(origin, 'PATCH', `/admin/payments/${id}`, { paymentType: 'MONEY_ORDER' })).body.payment.paymentType,
    ).toBe('MONEY_ORDER');
    expect((await admin<{ deleted: { payments: string[] } }>(origin, 'DELETE', `/admin/payments/${id}`)).body.deleted.payments).toEqual([id]);
    const hooks = await receiver.waitFor(3);
    expect(hooks.map((h) => [json(h).data.webHookEvent.topic, json(h).data.webHookEvent.itemId])).toEqual([
      ['PAYMENT_CREATE', id],
      ['PAYMENT_UPDATE', id],
      ['PAYMENT_DESTROY', id],
    ]);
  });

  it('form encoding and the old `occuredAt` spelling, also verifiable over the raw body', async () => {
    const client = started.sandbox.store.createClient(accountId, {}, { webhook: false });
    await admin(origin, 'PATCH', `/admin/clients/${client.id}`, {
      lastName: 'Hopper',
      delivery: { encoding: 'form', timestampField: 'occuredAt' },
    });
    const [hook] = await receiver.waitFor(1);
    expect(hook!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(hook!.raw.toString()).toMatch(/^data%5BwebHookEvent%5D%5Btopic%5D=CLIENT_UPDATE&/);
    expect(verifies(hook!)).toBe(true);
    const fields = Object.fromEntries(new URLSearchParams(hook!.raw.toString()));
    expect(fields).toEqual({
      'data[webHookEvent][topic]': 'CLIENT_UPDATE',
      'data[webHookEvent][appId]': APP_ID,
      'data[webHookEvent][accountId]': accountId,
      'data[webHookEvent][itemId]': client.id,
      'data[webHookEvent][occuredAt]': started.sandbox.store.getClient(client.id)!.updatedAt,
    });
  });

  it('`webhook: false` writes quietly; seeding sends nothing', async () => {
    await admin(origin, 'POST', `/admin/accounts/${accountId}/clients`, { firstName: 'Quiet', webhook: false });
    await admin(origin, 'POST', `/admin/accounts/${accountId}/seed`, { clients: 5, jobsPerClient: 2, invoicesPerJob: 1 });
    await settle();
    expect(receiver.received).toHaveLength(0);
    expect(started.sandbox.store.listInvoices(accountId)).toHaveLength(10);
  });

  it('duplicates arrive as identical copies', async () => {
    await admin(origin, 'POST', `/admin/accounts/${accountId}/clients`, { delivery: { duplicates: 2 } });
    const hooks = await receiver.waitFor(3);
    expect(new Set(hooks.map((h) => h.raw.toString())).size).toBe(1);
    expect(new Set(hooks.map((h) => h.headers['x-jobber-hmac-sha256'])).size).toBe(1);
  });

  it('held webhooks are sent only on release, in the order given', async () => {
    const client = started.sandbox.store.createClient(accountId, {}, { webhook: false });
    const ids: string[] = [];
    for (const title of ['first', 'second', 'third']) {
      clock.advance(1000); // Jobber stamps whole seconds: three changes in three seconds
      const res = await admin<{ webhookIds: string[] }>(origin, 'PATCH', `/admin/clients/${client.id}`, { title, delivery: { hold: true } });
      ids.push(...res.body.webhookIds);
    }
    await settle();
    expect(receiver.received).toHaveLength(0);
    expect((await admin<WebhookDelivery[]>(origin, 'GET', '/admin/webhooks?status=held')).body.map((d) => d.id)).toEqual(ids);

    const released = await admin<WebhookDelivery[]>(origin, 'POST', '/admin/webhooks/release', { ids: [...ids].reverse() });
    expect(released.status).toBe(200);
    const order = receiver.received.map((h) => json(h).data.webHookEvent.occurredAt);
    const written = [...ids].reverse().map((id) => started.sandbox.webhooks.get(id)!.event.occurredAt);
    expect(order).toEqual(written);
    expect(Date.parse(order[0]!)).toBeGreaterThan(Date.parse(order[2]!));
  });

  it('retries failed deliveries and records every attempt', async () => {
    receiver.respondWith(500, 503);
    const res = await admin<{ webhookIds: string[] }>(origin, 'POST', `/admin/accounts/${accountId}/clients`, {});
    await settle();
    expect(receiver.received).toHaveLength(3);
    const delivery = (await admin<WebhookDelivery[]>(origin, 'GET', '/admin/webhooks')).body.find((d) => d.id === res.body.webhookIds[0]);
    expect(delivery?.status).toBe('delivered');
    expect(delivery?.attempts.map((a) => a.status)).toEqual([500, 503, 200]);
  });

  it('gives up after the last attempt when the receiver is unreachable', async () => {
    started.sandbox.setWebhookUrl('http://127.0.0.1:9/unreachable');
    const [id] = started.sandbox.webhooks.enqueue({ topic: 'CLIENT_UPDATE', accountId, itemId: 'x', occurredAt: clock.now().toISOString() });
    await settle();
    const delivery = started.sandbox.webhooks.get(id!)!;
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts).toHaveLength(3);
    expect(delivery.attempts[0]!.status).toBeUndefined();
    expect(delivery.attempts[0]!.error).toBeTruthy();
  });

  describe('retry schedule', () => {
    const senders: WebhookSender[] = [];
    const sender = (options: Partial<WebhookSenderOptions>) => {
      const s = new WebhookSender({
        url: receiver.url,
        appId: APP_ID,
        clientSecret: () => SECRET,
        clock: new SandboxClock(() => new Date()),
        logger: pino({ level: 'silent' }),
        ...options,
      });
      senders.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(senders.splice(0).map((s) => s.close()));
    });
    const event = (n: number) => ({ topic: 'CLIENT_UPDATE', accountId, itemId: `item-${n}`, occurredAt: new Date().toISOString() });

    it("waits at least as long as a failed answer's Retry-After (the ingress's 503 sends 5 s) before retrying", async () => {
      receiver.respondWith({ status: 503, headers: { 'Retry-After': '1' } });
      const hooks = sender({ backoffMs: 1, jitter: 0 });
      const [id] = hooks.enqueue(event(1));
      await hooks.settled();
      const delivery = hooks.get(id!)!;
      expect(delivery.status).toBe('delivered');
      expect(delivery.attempts.map((a) => a.status)).toEqual([503, 200]);
      expect(delivery.attempts[0]!.retryInMs).toBe(1000);
      expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(1000);
    });

    it('can model a sender that ignores Retry-After', async () => {
      receiver.respondWith({ status: 503, headers: { 'Retry-After': '30' } });
      const hooks = sender({ backoffMs: 1, jitter: 0, honorRetryAfter: false });
      const [id] = hooks.enqueue(event(1));
      await hooks.settled();
      expect(hooks.get(id!)!.attempts.map((a) => [a.status, a.retryInMs])).toEqual([
        [503, 1],
        [200, undefined],
      ]);
    });

    it('a burst that failed together comes back spread over the jitter, not all at once', async () => {
      const burst = 20;
      receiver.respondWith(...Array.from({ length: burst }, () => ({ status: 503, headers: { 'Retry-After': '0' } })));
      let n = 0;
      // A backoff long enough that all 20 first attempts are in before any retry, even on a loaded
      // machine (at 200 ms, a retry could take a queued 503 and a late first attempt the 200).
      const hooks = sender({ backoffMs: 2000, jitter: 1, random: () => (n++ % burst) / burst });
      const ids = Array.from({ length: burst }, (_, i) => hooks.enqueue(event(i))[0]!);
      await hooks.settled();
      const waits = ids.map((id) => hooks.get(id)!.attempts[0]!.retryInMs!).sort((a, b) => a - b);
      expect(waits[0]).toBe(2000);
      expect(waits[burst - 1]).toBe(3900);
      const retries = receiver.received.slice(burst).map((h) => h.at);
      expect(retries).toHaveLength(burst);
      expect(Math.max(...retries) - Math.min(...retries)).toBeGreaterThanOrEqual(1500);
      expect(ids.every((id) => hooks.get(id)!.status === 'delivered')).toBe(true);
    });

    it('reads Retry-After as seconds or an HTTP date', () => {
      const now = Date.parse('2025-01-15T12:00:00.000Z');
      expect(parseRetryAfter('5', now)).toBe(5000);
      expect(parseRetryAfter('Wed, 15 Jan 2025 12:00:07 GMT', now)).toBe(7000);
      expect(parseRetryAfter('soon', now)).toBeUndefined();
      expect(parseRetryAfter(null, now)).toBeUndefined();
    });
  });

  it('sends any event, such as an unknown topic, signed correctly', async () => {
    const res = await admin<{ webhookIds: string[] }>(origin, 'POST', '/admin/webhooks/send', {
      topic: 'TIMESHEET_CREATE',
      accountId,
      itemId: 'Z2lkOi8vSm9iYmVyL1RpbWVzaGVldC8x',
    });
    expect(res.status).toBe(201);
    const [hook] = await receiver.waitFor(1);
    expect(verifies(hook!)).toBe(true);
    expect(json(hook!).data.webHookEvent).toMatchObject({ topic: 'TIMESHEET_CREATE', itemId: 'Z2lkOi8vSm9iYmVyL1RpbWVzaGVldC8x' });
  });

  it('an invoice moving to paid sends INVOICE_UPDATE and GraphQL shows the payment', async () => {
    const { store } = started.sandbox;
    const client = store.createClient(accountId, {}, { webhook: false });
    const job = store.createJob(accountId, { clientId: client.id, total: 120 }, { webhook: false });
    const invoice = store.createInvoice(accountId, { clientId: client.id, jobIds: [job.id], amounts: { subtotal: 100, taxAmount: 20 } }, { webhook: false });
    await admin(origin, 'PATCH', `/admin/invoices/${invoice.id}`, { invoiceStatus: 'paid' });
    const [hook] = await receiver.waitFor(1);
    expect(json(hook!).data.webHookEvent).toMatchObject({ topic: 'INVOICE_UPDATE', itemId: invoice.id });
    const { access_token } = await started.sandbox.connect(accountId);
    const res = await gql(started.url, access_token, INVOICE_QUERY, { id: invoice.id });
    expect(res.body.data!.invoice).toMatchObject({
      invoiceStatus: 'paid',
      amounts: { total: 120, subtotal: 100, paymentsTotal: 120, invoiceBalance: 0 },
      receivedDate: expect.any(String),
    });
  });

  it('deleting a client destroys its invoices and jobs, each with a webhook', async () => {
    const { store } = started.sandbox;
    const client = store.createClient(accountId, {}, { webhook: false });
    const job = store.createJob(accountId, { clientId: client.id }, { webhook: false });
    const invoice = store.createInvoice(accountId, { clientId: client.id, jobIds: [job.id] }, { webhook: false });
    const res = await admin<{ deleted: unknown }>(origin, 'DELETE', `/admin/clients/${client.id}`);
    expect(res.body.deleted).toEqual({ clients: [client.id], jobs: [job.id], invoices: [invoice.id] });
    await settle();
    expect(receiver.received.map((h) => json(h).data.webHookEvent.topic).sort()).toEqual(['CLIENT_DESTROY', 'INVOICE_DESTROY', 'JOB_DESTROY']);
    expect(store.getInvoice(invoice.id)).toBeUndefined();
  });

  it('after the secret is rolled, webhooks are signed with the new one', async () => {
    const { body } = await admin<{ clientSecret: string }>(origin, 'POST', '/admin/app/roll-secret', { clientSecret: 'rolled-secret' });
    started.sandbox.store.createClient(accountId, {});
    const [hook] = await receiver.waitFor(1);
    expect(verifies(hook!, body.clientSecret)).toBe(true);
    expect(verifies(hook!)).toBe(false);
  });
});
