import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { JOBBER_SANDBOX_SDL } from './schema';
import {
  jobberWebUri,
  streetOf,
  type JobberStore,
  type StoredClient,
  type StoredInvoice,
  type StoredJob,
  type StoredQuote,
  type StoredRequest,
  type StoredUser,
  type StoredPayment,
  type StoredProperty,
  PAYMENT_RECORD_TYPES,
  type StoredVisit,
  visitStatusOf,
} from './store';

/** Largest page a connection returns; `first`/`last` above it is an error (the sandbox's choice). */
export const MAX_PAGE_SIZE = 100;

export interface GraphQLContext {
  store: JobberStore;
  accountId: number;
  userId: number;
  app: { id: number; name: string; author: string };
  /** Revokes this account's tokens for the app and sends APP_DISCONNECT. */
  disconnect(): void;
}

interface PageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

interface DateRange {
  before?: string | null;
  after?: string | null;
  eq?: string | null;
}

interface FloatRange {
  min?: number | null;
  max?: number | null;
  eq?: number | null;
}

/** Cursors are opaque to callers; inside they name the last record's id, so pages stay stable. */
export function encodeCursor(id: number): string {
  return Buffer.from(`cursor:${id}`, 'utf8').toString('base64');
}

function decodeCursor(cursor: string): number {
  const match = /^cursor:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!match) throw new GraphQLError(`Invalid cursor: ${cursor}`, { extensions: { code: 'BAD_USER_INPUT' } });
  return Number(match[1]);
}

function pageSize(name: 'first' | 'last', value: number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (value < 0 || value > MAX_PAGE_SIZE) {
    throw new GraphQLError(`Argument '${name}' must be between 0 and ${MAX_PAGE_SIZE}`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return value;
}

/** Relay connection over records already in stable (id) order. */
export function paginate<T extends { id: number }>(items: T[], args: PageArgs) {
  const first = pageSize('first', args.first);
  const last = pageSize('last', args.last);
  let start = 0;
  let end = items.length;
  if (args.after) {
    const afterId = decodeCursor(args.after);
    start = items.findIndex((i) => i.id > afterId);
    if (start < 0) start = items.length;
  }
  if (args.before) {
    const beforeId = decodeCursor(args.before);
    const idx = items.findIndex((i) => i.id >= beforeId);
    end = Math.max(start, idx < 0 ? items.length : idx);
  }
  if (first === undefined && last === undefined) end = Math.min(end, start + MAX_PAGE_SIZE);
  if (first !== undefined) end = Math.min(end, start + first);
  if (last !== undefined) start = Math.max(start, end - last);
  const page = items.slice(start, end);
  return {
    nodes: page,
    edges: page.map((node) => ({ cursor: encodeCursor(node.id), node })),
    totalCount: items.length,
    pageInfo: {
      startCursor: page.length ? encodeCursor(page[0]!.id) : null,
      endCursor: page.length ? encodeCursor(page[page.length - 1]!.id) : null,
      hasNextPage: end < items.length,
      hasPreviousPage: start > 0,
    },
  };
}

/** Range bounds are inclusive (the sandbox's choice; Jobber does not document it). */
function inDateRange(value: string | null, range: DateRange | null | undefined): boolean {
  if (!range) return true;
  if (value === null) return false;
  const t = Date.parse(value);
  if (range.eq && t !== Date.parse(range.eq)) return false;
  if (range.after && t < Date.parse(range.after)) return false;
  if (range.before && t > Date.parse(range.before)) return false;
  return true;
}

function inFloatRange(value: number, range: FloatRange | null | undefined): boolean {
  if (!range) return true;
  if (range.eq !== null && range.eq !== undefined && value !== range.eq) return false;
  if (range.min !== null && range.min !== undefined && value < range.min) return false;
  if (range.max !== null && range.max !== undefined && value > range.max) return false;
  return true;
}

const matches = (term: string | null | undefined, ...values: (string | null | undefined)[]): boolean =>
  !term || values.some((v) => v?.toLowerCase().includes(term.toLowerCase()));

function parseDateTime(value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError(`ISO8601DateTime cannot represent ${JSON.stringify(value)}`);
  }
  return new Date(value).toISOString();
}

const ISO8601DateTime = new GraphQLScalarType({
  name: 'ISO8601DateTime',
  serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseEncodedId(value: unknown): string {
  if (typeof value !== 'string') throw new GraphQLError(`EncodedId cannot represent ${JSON.stringify(value)}`);
  return value;
}

const EncodedId = new GraphQLScalarType({
  name: 'EncodedId',
  serialize: (value) => String(value),
  parseValue: parseEncodedId,
  parseLiteral: (ast) => parseEncodedId(ast.kind === Kind.STRING ? ast.value : undefined),
});

const clientName = (c: StoredClient): string => (c.isCompany && c.companyName ? c.companyName : `${c.firstName} ${c.lastName}`.trim());

/** Every payment record type resolves alike (the sandbox records payments only: adjustmentType PAYMENT). */
const paymentRecordResolvers = {
  id: (p: StoredPayment, _a: unknown, ctx: GraphQLContext) => ctx.store.enc('PaymentRecord', p.id),
  adjustmentType: () => 'PAYMENT',
  client: (p: StoredPayment, _a: unknown, ctx: GraphQLContext) => ctx.store.clientByNumber(p.clientId) ?? null,
  invoice: (p: StoredPayment, _a: unknown, ctx: GraphQLContext) => (p.invoiceId === null ? null : (ctx.store.invoiceByNumber(p.invoiceId) ?? null)),
};

export function createSandboxSchema(): GraphQLSchema {
  return makeExecutableSchema<GraphQLContext>({
    typeDefs: JOBBER_SANDBOX_SDL,
    resolvers: {
      ISO8601DateTime,
      EncodedId,
      Query: {
        account: (_p, _a, ctx) => ctx.store.accountByNumber(ctx.accountId) ?? null,
        user: (_p, args: { id?: string | null }, ctx) =>
          args.id ? (ctx.store.find('User', ctx.accountId, args.id) ?? null) : (ctx.store.userByNumber(ctx.userId) ?? null),
        client: (_p, args: { id: string }, ctx) => ctx.store.find('Client', ctx.accountId, args.id) ?? null,
        job: (_p, args: { id: string }, ctx) => ctx.store.find('Job', ctx.accountId, args.id) ?? null,
        invoice: (_p, args: { id: string }, ctx) => ctx.store.find('Invoice', ctx.accountId, args.id) ?? null,
        request: (_p, args: { id: string }, ctx) => ctx.store.find('Request', ctx.accountId, args.id) ?? null,
        quote: (_p, args: { id: string }, ctx) => ctx.store.find('Quote', ctx.accountId, args.id) ?? null,
        visit: (_p, args: { id: string }, ctx) => ctx.store.find('Visit', ctx.accountId, args.id) ?? null,
        property: (_p, args: { id: string }, ctx) => ctx.store.find('Property', ctx.accountId, args.id) ?? null,
        paymentRecord: (_p, args: { id: string }, ctx) => ctx.store.find('PaymentRecord', ctx.accountId, args.id) ?? null,
        paymentRecords: (
          _p,
          args: PageArgs & { filter?: { entryDate?: DateRange; adjustmentType?: string | null; paymentType?: string | null } | null },
          ctx,
        ) => {
          const f = args.filter ?? {};
          const items = ctx.store
            .paymentsOf(ctx.accountId)
            .filter(
              (p) =>
                inDateRange(p.entryDate, f.entryDate) &&
                (f.adjustmentType == null || f.adjustmentType === 'PAYMENT') &&
                (f.paymentType == null || p.paymentType === f.paymentType),
            );
          return paginate(items, args);
        },
        properties: (_p, args: PageArgs & { searchTerm?: string | null; filter?: { clientId?: string | null } | null }, ctx) => {
          const f = args.filter ?? {};
          const clientId = f.clientId ? (ctx.store.find('Client', ctx.accountId, f.clientId)?.id ?? -1) : undefined;
          const items = ctx.store
            .propertiesOf(ctx.accountId)
            .filter((p) => (clientId === undefined || p.clientId === clientId) && matches(args.searchTerm, streetOf(p), p.city, p.postalCode));
          return paginate(items, args);
        },
        visits: (
          _p,
          args: PageArgs & {
            filter?: { status?: string | null; createdAt?: DateRange; startAt?: DateRange; endAt?: DateRange; completedAt?: DateRange } | null;
          },
          ctx,
        ) => {
          const f = args.filter ?? {};
          const items = ctx.store
            .visitsOf(ctx.accountId)
            .filter(
              (v) =>
                (f.status == null || visitStatusOf(v) === f.status) &&
                inDateRange(v.createdAt, f.createdAt) &&
                inDateRange(v.startAt, f.startAt) &&
                inDateRange(v.endAt, f.endAt) &&
                inDateRange(v.completedAt, f.completedAt),
            );
          return paginate(items, args);
        },
        quotes: (
          _p,
          args: PageArgs & {
            searchTerm?: string | null;
            filter?: {
              clientId?: string | null;
              quoteNumber?: { min?: number | null; max?: number | null; eq?: number | null } | null;
              status?: string | null;
              cost?: FloatRange;
              sentAt?: DateRange;
              updatedAt?: DateRange;
              createdAt?: DateRange;
            } | null;
          },
          ctx,
        ) => {
          const f = args.filter ?? {};
          const clientId = f.clientId ? (ctx.store.find('Client', ctx.accountId, f.clientId)?.id ?? -1) : undefined;
          const items = ctx.store.quotesOf(ctx.accountId).filter(
            (q) =>
              (clientId === undefined || q.clientId === clientId) &&
              inFloatRange(q.quoteNumber, f.quoteNumber) &&
              (f.status == null || q.quoteStatus === f.status) &&
              // The sandbox's quotes have no line-item costs: cost filters on the subtotal.
              inFloatRange(q.amounts.subtotal, f.cost) &&
              inDateRange(q.sentAt, f.sentAt) &&
              inDateRange(q.updatedAt, f.updatedAt) &&
              inDateRange(q.createdAt, f.createdAt) &&
              matches(args.searchTerm, q.title, String(q.quoteNumber)),
          );
          return paginate(items, args);
        },
        requests: (
          _p,
          args: PageArgs & {
            searchTerm?: string | null;
            filter?: { clientId?: string | null; propertyId?: string | null; status?: string | null; updatedAt?: DateRange; createdAt?: DateRange } | null;
          },
          ctx,
        ) => {
          const f = args.filter ?? {};
          const clientId = f.clientId ? (ctx.store.find('Client', ctx.accountId, f.clientId)?.id ?? -1) : undefined;
          const items = ctx.store.requestsOf(ctx.accountId).filter(
            (r) =>
              (clientId === undefined || r.clientId === clientId) &&
              // The sandbox's requests have no property: a property filter matches none.
              !f.propertyId &&
              (f.status == null || r.requestStatus === f.status) &&
              inDateRange(r.updatedAt, f.updatedAt) &&
              inDateRange(r.createdAt, f.createdAt) &&
              matches(args.searchTerm, r.title, r.contactName, r.companyName, r.email),
          );
          return paginate(items, args);
        },
        clients: (
          _p,
          args: PageArgs & {
            searchTerm?: string | null;
            filter?: { isCompany?: boolean | null; isLead?: boolean | null; isArchived?: boolean | null; updatedAt?: DateRange; createdAt?: DateRange } | null;
          },
          ctx,
        ) => {
          const f = args.filter ?? {};
          const items = ctx.store
            .clientsOf(ctx.accountId)
            .filter(
              (c) =>
                (f.isCompany == null || c.isCompany === f.isCompany) &&
                (f.isLead == null || c.isLead === f.isLead) &&
                (f.isArchived == null || c.isArchived === f.isArchived) &&
                inDateRange(c.updatedAt, f.updatedAt) &&
                inDateRange(c.createdAt, f.createdAt) &&
                matches(args.searchTerm, clientName(c), c.companyName, ...c.emails.map((e) => e.address), ...c.phones.map((p) => p.number)),
            );
          return paginate(items, args);
        },
        jobs: (
          _p,
          args: PageArgs & {
            searchTerm?: string | null;
            filter?: {
              jobType?: string | null;
              status?: string | null;
              createdAt?: DateRange;
              startAt?: DateRange;
              endAt?: DateRange;
              completedAt?: DateRange;
            } | null;
          },
          ctx,
        ) => {
          const f = args.filter ?? {};
          const items = ctx.store
            .jobsOf(ctx.accountId)
            .filter(
              (j) =>
                (f.jobType == null || j.jobType === f.jobType) &&
                (f.status == null || j.jobStatus === f.status) &&
                inDateRange(j.createdAt, f.createdAt) &&
                inDateRange(j.startAt, f.startAt) &&
                inDateRange(j.endAt, f.endAt) &&
                inDateRange(j.completedAt, f.completedAt) &&
                matches(args.searchTerm, j.title, String(j.jobNumber)),
            );
          return paginate(items, args);
        },
        invoices: (
          _p,
          args: PageArgs & {
            searchTerm?: string | null;
            filter?: {
              clientId?: string | null;
              status?: string | null;
              total?: FloatRange;
              issuedDate?: DateRange;
              dueDate?: DateRange;
              updatedAt?: DateRange;
              createdAt?: DateRange;
            } | null;
          },
          ctx,
        ) => {
          const f = args.filter ?? {};
          const clientId = f.clientId ? (ctx.store.find('Client', ctx.accountId, f.clientId)?.id ?? -1) : undefined;
          const items = ctx.store
            .invoicesOf(ctx.accountId)
            .filter(
              (i) =>
                (clientId === undefined || i.clientId === clientId) &&
                (f.status == null || i.invoiceStatus === f.status) &&
                inFloatRange(i.amounts.total, f.total) &&
                inDateRange(i.issuedDate, f.issuedDate) &&
                inDateRange(i.dueDate, f.dueDate) &&
                inDateRange(i.updatedAt, f.updatedAt) &&
                inDateRange(i.createdAt, f.createdAt) &&
                matches(args.searchTerm, i.subject, i.invoiceNumber),
            );
          return paginate(items, args);
        },
      },
      Mutation: {
        appDisconnect: (_p, _a, ctx) => {
          ctx.disconnect();
          return { app: ctx.app, userErrors: [] };
        },
      },
      Application: {
        id: (app: { id: number }, _a, ctx) => ctx.store.enc('Application', app.id),
      },
      Account: {
        id: (a: { id: number }, _a, ctx) => ctx.store.enc('Account', a.id),
        accountOwner: (a: { ownerUserId: number }, _a, ctx) => ctx.store.userByNumber(a.ownerUserId),
        currentUser: (_a: unknown, _args, ctx) => ctx.store.userByNumber(ctx.userId),
      },
      User: {
        id: (u: StoredUser, _a, ctx) => ctx.store.enc('User', u.id),
        account: (u: StoredUser, _a, ctx) => ctx.store.accountByNumber(u.accountId) ?? null,
        email: (u: StoredUser) => ({ raw: u.email, isValid: /^[^@\s]+@[^@\s]+$/.test(u.email) }),
        name: (u: StoredUser) => ({ first: u.firstName, last: u.lastName, full: `${u.firstName} ${u.lastName}`.trim() }),
        isAccountAdmin: () => true,
        isAccountOwner: (u: StoredUser, _a, ctx) => ctx.store.accountByNumber(u.accountId)?.ownerUserId === u.id,
        isCurrentUser: (u: StoredUser, _a, ctx) => u.id === ctx.userId,
      },
      Client: {
        id: (c: StoredClient, _a, ctx) => ctx.store.enc('Client', c.id),
        name: clientName,
        secondaryName: (c: StoredClient) => (c.isCompany ? `${c.firstName} ${c.lastName}`.trim() || null : c.companyName),
        balance: (c: StoredClient, _a, ctx) => Math.round(ctx.store.invoicesOfClient(c.id).reduce((sum, i) => sum + i.amounts.invoiceBalance, 0) * 100) / 100,
        isArchivable: () => true,
        defaultEmails: (c: StoredClient) => c.emails.filter((e) => e.primary).map((e) => e.address),
        emails: (c: StoredClient) => c.emails.map((e) => ({ ...e, clientId: c.id })),
        phones: (c: StoredClient) => c.phones.map((p) => ({ ...p, clientId: c.id })),
        billingAddress: (c: StoredClient) => c.billingAddress && { ...c.billingAddress, street: streetOf(c.billingAddress) },
        jobberWebUri: (c: StoredClient) => jobberWebUri('Client', c.id),
        jobs: (c: StoredClient, args: PageArgs, ctx) => paginate(ctx.store.jobsOfClient(c.id), args),
        invoices: (c: StoredClient, args: PageArgs, ctx) => paginate(ctx.store.invoicesOfClient(c.id), args),
      },
      Email: {
        id: (e: { id: number }, _a, ctx) => ctx.store.enc('Email', e.id),
        client: (e: { clientId: number }, _a, ctx) => ctx.store.clientByNumber(e.clientId),
      },
      ClientPhoneNumber: {
        id: (p: { id: number }, _a, ctx) => ctx.store.enc('ClientPhoneNumber', p.id),
        client: (p: { clientId: number }, _a, ctx) => ctx.store.clientByNumber(p.clientId),
        friendly: (p: { number: string }) => p.number,
        normalizedPhoneNumber: (p: { number: string }) => p.number.replace(/[^\d+]/g, '') || null,
      },
      Job: {
        id: (j: StoredJob, _a, ctx) => ctx.store.enc('Job', j.id),
        client: (j: StoredJob, _a, ctx) => ctx.store.clientByNumber(j.clientId),
        jobberWebUri: (j: StoredJob) => jobberWebUri('Job', j.id),
        invoices: (j: StoredJob, args: PageArgs, ctx) => paginate(ctx.store.invoicesOfJob(j.id), args),
      },
      PaymentRecordInterface: {
        __resolveType: (p: StoredPayment) => PAYMENT_RECORD_TYPES[p.paymentType],
      },
      ...Object.fromEntries(Object.values(PAYMENT_RECORD_TYPES).map((type) => [type, paymentRecordResolvers])),
      Property: {
        id: (p: StoredProperty, _a, ctx) => ctx.store.enc('Property', p.id),
        street: (p: StoredProperty) => streetOf(p),
        client: (p: StoredProperty, _a, ctx) => ctx.store.clientByNumber(p.clientId) ?? null,
        jobberWebUri: (p: StoredProperty) => jobberWebUri('Property', p.id),
      },
      Visit: {
        id: (v: StoredVisit, _a, ctx) => ctx.store.enc('Visit', v.id),
        job: (v: StoredVisit, _a, ctx) => ctx.store.jobByNumber(v.jobId),
        client: (v: StoredVisit, _a, ctx) => ctx.store.clientByNumber(ctx.store.jobByNumber(v.jobId)!.clientId),
        invoice: (v: StoredVisit, _a, ctx) => (v.invoiceId === null ? null : (ctx.store.invoiceByNumber(v.invoiceId) ?? null)),
        // Non-null in Jobber's schema: the store keeps every visit at a property of its job's client.
        property: (v: StoredVisit, _a, ctx) => ctx.store.propertyByNumber(v.propertyId),
        visitStatus: (v: StoredVisit) => visitStatusOf(v),
        isComplete: (v: StoredVisit) => v.completedAt !== null,
      },
      Quote: {
        id: (q: StoredQuote, _a, ctx) => ctx.store.enc('Quote', q.id),
        quoteNumber: (q: StoredQuote) => String(q.quoteNumber),
        amounts: (q: StoredQuote) => ({ ...q.amounts, nonTaxAmount: 0, depositAmount: 0, outstandingDepositAmount: 0 }),
        cost: (q: StoredQuote) => q.amounts.subtotal,
        client: (q: StoredQuote, _a, ctx) => ctx.store.clientByNumber(q.clientId) ?? null,
        request: (q: StoredQuote, _a, ctx) => (q.requestId === null ? null : (ctx.store.requestByNumber(q.requestId) ?? null)),
        property: (q: StoredQuote, _a, ctx) => (q.propertyId === null ? null : (ctx.store.propertyByNumber(q.propertyId) ?? null)),
        jobs: (q: StoredQuote, args: PageArgs, ctx) =>
          paginate(
            q.jobIds
              .map((id) => ctx.store.jobByNumber(id))
              .filter((j): j is StoredJob => j !== undefined)
              .sort((a, b) => a.id - b.id),
            args,
          ),
        jobberWebUri: (q: StoredQuote) => jobberWebUri('Quote', q.id),
      },
      Request: {
        id: (r: StoredRequest, _a, ctx) => ctx.store.enc('Request', r.id),
        client: (r: StoredRequest, _a, ctx) => ctx.store.clientByNumber(r.clientId),
        jobberWebUri: (r: StoredRequest) => jobberWebUri('Request', r.id),
      },
      Invoice: {
        id: (i: StoredInvoice, _a, ctx) => ctx.store.enc('Invoice', i.id),
        client: (i: StoredInvoice, _a, ctx) => ctx.store.clientByNumber(i.clientId) ?? null,
        jobberWebUri: (i: StoredInvoice) => jobberWebUri('Invoice', i.id),
        jobs: (i: StoredInvoice, args: PageArgs, ctx) =>
          paginate(
            i.jobIds
              .map((id) => ctx.store.jobByNumber(id))
              .filter((j): j is StoredJob => j !== undefined)
              .sort((a, b) => a.id - b.id),
            args,
          ),
      },
    },
  });
}
