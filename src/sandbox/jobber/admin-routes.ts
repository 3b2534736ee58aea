import type Koa from 'koa';
import type Router from '@koa/router';
import { z } from 'zod';
import { SandboxError, notFound } from './clock';
import type { SandboxDeps } from './deps';
import { deliveryOptionsSchema, isoDateTime, writeOptionsSchema, type WriteOptions } from './inputs';

const sendSchema = z
  .object({
    topic: z.string().min(1),
    accountId: z.string().min(1),
    itemId: z.string().min(1),
    occurredAt: isoDateTime.optional(),
    appId: z.string().optional(),
    delivery: deliveryOptionsSchema.optional(),
  })
  .strict();

const releaseSchema = z.object({ ids: z.array(z.string()).min(1) }).strict();
const webhookUrlSchema = z.object({ url: z.string().url().nullable() }).strict();
const rollSchema = z.object({ clientSecret: z.string().min(1).optional() }).strict();
const disconnectSchema = z.object({ delivery: deliveryOptionsSchema.optional() }).strict();

function body(ctx: Koa.Context): Record<string, unknown> {
  const b = ctx.request.body;
  return b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
}

/** Splits `{ webhook, delivery, ...fields }`; `?webhook=false` works too (handy for DELETE). */
function splitWrite(ctx: Koa.Context): { fields: Record<string, unknown>; write: WriteOptions } {
  const { webhook, delivery, ...fields } = body(ctx);
  const write = writeOptionsSchema.parse({ webhook, delivery });
  if (ctx.query.webhook === 'false') write.webhook = false;
  return { fields, write };
}

/** The sandbox's control API under /admin (no auth: never expose the sandbox publicly). */
export function registerAdminRoutes(router: Router, deps: SandboxDeps, reset: () => void): void {
  const { store, webhooks, oauth, faults } = deps;
  const accountNumber = (id: string): number => {
    const n = store.accountNumber(id);
    if (n === undefined) throw notFound('account', id);
    return n;
  };
  const accountDetail = (id: string) => {
    const account = store.getAccount(id);
    if (!account) throw notFound('account', id);
    const n = accountNumber(id);
    return {
      ...account,
      connection: oauth.connection(n),
      counts: {
        clients: store.clientsOf(n).length,
        jobs: store.jobsOf(n).length,
        invoices: store.invoicesOf(n).length,
        requests: store.requestsOf(n).length,
        quotes: store.quotesOf(n).length,
        visits: store.visitsOf(n).length,
        properties: store.propertiesOf(n).length,
        payments: store.paymentsOf(n).length,
      },
    };
  };

  // Jobber's whole-second stamps (two changes in one second share them) or strict milliseconds.
  router.put('/admin/clock', (ctx) => {
    const body = ctx.request.body as { wholeSecondStamps?: unknown } | undefined;
    if (typeof body?.wholeSecondStamps !== 'boolean') throw new SandboxError(400, 'give { "wholeSecondStamps": true | false }');
    deps.clock.wholeSeconds = body.wholeSecondStamps;
    ctx.body = { wholeSecondStamps: deps.clock.wholeSeconds };
  });

  router.post('/admin/reset', (ctx) => {
    reset();
    ctx.body = { ok: true };
  });

  // ---- app ----------------------------------------------------------------------------------------
  router.get('/admin/app', (ctx) => {
    ctx.body = {
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      appId: oauth.appId,
      name: deps.application.name,
      author: deps.application.author,
      webhookUrl: webhooks.webhookUrl ?? null,
    };
  });
  router.post('/admin/app/roll-secret', (ctx) => {
    const { clientSecret } = rollSchema.parse(body(ctx));
    ctx.body = { clientSecret: oauth.rollSecret(clientSecret) };
  });

  // ---- accounts -----------------------------------------------------------------------------------
  router.get('/admin/accounts', (ctx) => {
    ctx.body = store.listAccounts().map((a) => accountDetail(a.id));
  });
  router.post('/admin/accounts', (ctx) => {
    const account = store.createAccount(body(ctx));
    ctx.status = 201;
    ctx.body = accountDetail(account.id);
  });
  router.get('/admin/accounts/:id', (ctx) => {
    ctx.body = accountDetail(ctx.params.id!);
  });
  router.post('/admin/accounts/:id/connect', async (ctx) => {
    ctx.body = await oauth.connect(accountNumber(ctx.params.id!));
  });
  router.post('/admin/accounts/:id/disconnect', (ctx) => {
    const { delivery } = disconnectSchema.parse(body(ctx));
    const webhookIds = deps.disconnect(accountNumber(ctx.params.id!), 'marketplace disconnect', delivery);
    ctx.body = { account: accountDetail(ctx.params.id!), webhookIds };
  });
  router.post('/admin/accounts/:id/expire-tokens', (ctx) => {
    ctx.body = { expired: oauth.expireAccessTokens(accountNumber(ctx.params.id!)) };
  });
  router.post('/admin/accounts/:id/seed', (ctx) => {
    ctx.status = 201;
    ctx.body = store.seed(ctx.params.id!, body(ctx) as never);
  });

  // ---- records ------------------------------------------------------------------------------------
  const kinds = [
    {
      plural: 'clients',
      singular: 'client',
      list: (a: string) => store.listClients(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createClient(a, f, w),
      get: (id: string) => store.getClient(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updateClient(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deleteClient(id, w),
    },
    {
      plural: 'jobs',
      singular: 'job',
      list: (a: string) => store.listJobs(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createJob(a, f as never, w),
      get: (id: string) => store.getJob(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updateJob(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deleteJob(id, w),
    },
    {
      plural: 'invoices',
      singular: 'invoice',
      list: (a: string) => store.listInvoices(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createInvoice(a, f as never, w),
      get: (id: string) => store.getInvoice(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updateInvoice(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deleteInvoice(id, w),
    },
    {
      plural: 'requests',
      singular: 'request',
      list: (a: string) => store.listRequests(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createRequest(a, f as never, w),
      get: (id: string) => store.getRequest(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updateRequest(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deleteRequest(id, w),
    },
    {
      plural: 'quotes',
      singular: 'quote',
      list: (a: string) => store.listQuotes(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createQuote(a, f as never, w),
      get: (id: string) => store.getQuote(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updateQuote(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deleteQuote(id, w),
    },
    {
      plural: 'visits',
      singular: 'visit',
      list: (a: string) => store.listVisits(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createVisit(a, f as never, w),
      get: (id: string) => store.getVisit(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updateVisit(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deleteVisit(id, w),
    },
    {
      plural: 'properties',
      singular: 'property',
      list: (a: string) => store.listProperties(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createProperty(a, f as never, w),
      get: (id: string) => store.getProperty(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updateProperty(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deleteProperty(id, w),
    },
    {
      plural: 'payments',
      singular: 'payment',
      list: (a: string) => store.listPayments(a),
      create: (a: string, f: Record<string, unknown>, w: WriteOptions) => store.createPayment(a, f as never, w),
      get: (id: string) => store.getPayment(id),
      update: (id: string, f: Record<string, unknown>, w: WriteOptions) => store.updatePayment(id, f, w),
      remove: (id: string, w: WriteOptions) => store.deletePayment(id, w),
    },
  ];
  for (const kind of kinds) {
    router.get(`/admin/accounts/:id/${kind.plural}`, (ctx) => {
      ctx.body = kind.list(ctx.params.id!);
    });
    router.post(`/admin/accounts/:id/${kind.plural}`, (ctx) => {
      const { fields, write } = splitWrite(ctx);
      const { result, webhookIds } = webhooks.capture(() => kind.create(ctx.params.id!, fields, write));
      ctx.status = 201;
      ctx.body = { [kind.singular]: result, webhookIds };
    });
    router.get(`/admin/${kind.plural}/:id`, (ctx) => {
      const record = kind.get(ctx.params.id!);
      if (!record) throw notFound(kind.singular, ctx.params.id!);
      ctx.body = record;
    });
    router.patch(`/admin/${kind.plural}/:id`, (ctx) => {
      const { fields, write } = splitWrite(ctx);
      const { result, webhookIds } = webhooks.capture(() => kind.update(ctx.params.id!, fields, write));
      ctx.body = { [kind.singular]: result, webhookIds };
    });
    router.delete(`/admin/${kind.plural}/:id`, (ctx) => {
      const { write } = splitWrite(ctx);
      const { result, webhookIds } = webhooks.capture(() => kind.remove(ctx.params.id!, write));
      ctx.body = { deleted: result, webhookIds };
    });
  }

  // ---- webhooks -----------------------------------------------------------------------------------
  router.get('/admin/webhooks', (ctx) => {
    const q = ctx.query;
    ctx.body = webhooks.list({
      status: typeof q.status === 'string' ? q.status : undefined,
      topic: typeof q.topic === 'string' ? q.topic : undefined,
    });
  });
  router.delete('/admin/webhooks', (ctx) => {
    webhooks.clear();
    ctx.status = 204;
  });
  router.put('/admin/webhooks/url', (ctx) => {
    const { url } = webhookUrlSchema.parse(body(ctx));
    webhooks.setUrl(url ?? undefined);
    ctx.body = { webhookUrl: url };
  });
  router.post('/admin/webhooks/release', async (ctx) => {
    const { ids } = releaseSchema.parse(body(ctx));
    try {
      ctx.body = await webhooks.release(ids);
    } catch (err) {
      throw new SandboxError(400, (err as Error).message);
    }
  });
  router.post('/admin/webhooks/send', (ctx) => {
    const input = sendSchema.parse(body(ctx));
    const webhookIds = webhooks.enqueue(
      {
        topic: input.topic,
        accountId: input.accountId,
        itemId: input.itemId,
        occurredAt: input.occurredAt ?? deps.clock.stamp().toISOString(),
        appId: input.appId,
      },
      input.delivery,
    );
    ctx.status = 201;
    ctx.body = { webhookIds };
  });

  // ---- faults and observability -------------------------------------------------------------------
  router.post('/admin/faults', (ctx) => {
    ctx.status = 201;
    ctx.body = { faults: faults.add(body(ctx)) };
  });
  router.get('/admin/faults', (ctx) => {
    ctx.body = faults.list();
  });
  router.delete('/admin/faults', (ctx) => {
    faults.clear();
    ctx.status = 204;
  });
  router.get('/admin/requests', (ctx) => {
    ctx.body = deps.requests;
  });
  router.delete('/admin/requests', (ctx) => {
    deps.requests.length = 0;
    ctx.status = 204;
  });
  router.get('/admin/oauth/log', (ctx) => {
    ctx.body = oauth.log;
  });
  router.delete('/admin/oauth/log', (ctx) => {
    oauth.log.length = 0;
    ctx.status = 204;
  });
}
