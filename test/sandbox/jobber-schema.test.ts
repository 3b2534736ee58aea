import path from 'node:path';
import { readFileSync } from 'node:fs';
import {
  buildClientSchema,
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  parse,
  validate,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { ALL_DOCUMENTS } from '../../src/jobber/queries';
import { RECORD_TYPES } from '../../src/records';
import { JOBBER_SANDBOX_SDL, startJobberSandbox, type StartedJobberSandbox } from '../../src/sandbox/jobber';
import { gql } from './helpers';

const officialPath = path.resolve(__dirname, '../fixtures/jobber-schema-2023-01.json');
const official: GraphQLSchema = buildClientSchema((JSON.parse(readFileSync(officialPath, 'utf8')) as { data: Parameters<typeof buildClientSchema>[0] }).data);
const sandbox: GraphQLSchema = buildSchema(JOBBER_SANDBOX_SDL);

const userTypes = (schema: GraphQLSchema): GraphQLNamedType[] =>
  Object.values(schema.getTypeMap()).filter((t) => !t.name.startsWith('__') && !['String', 'Int', 'Float', 'Boolean', 'ID'].includes(t.name));

/** Every way the sandbox schema could differ from Jobber's for the parts it declares. */
function differences(schema: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const type of userTypes(schema)) {
    const theirs = official.getType(type.name);
    if (!theirs) {
      problems.push(`${type.name}: not in Jobber's schema`);
      continue;
    }
    if (theirs.constructor !== type.constructor) {
      problems.push(`${type.name}: is ${type.constructor.name}, Jobber's is ${theirs.constructor.name}`);
      continue;
    }
    if (isEnumType(type) && isEnumType(theirs)) {
      const allowed = new Set(theirs.getValues().map((v) => v.name));
      for (const v of type.getValues()) if (!allowed.has(v.name)) problems.push(`${type.name}.${v.name}: enum value not in Jobber's`);
    }
    if ((isObjectType(type) || isInterfaceType(type)) && (isObjectType(theirs) || isInterfaceType(theirs))) {
      const theirInterfaces = new Set(theirs.getInterfaces().map((i) => i.name));
      for (const i of type.getInterfaces()) if (!theirInterfaces.has(i.name)) problems.push(`${type.name}: implements ${i.name}, Jobber's does not`);
      const theirFields = theirs.getFields();
      for (const field of Object.values(type.getFields())) {
        const their = theirFields[field.name];
        if (!their) {
          problems.push(`${type.name}.${field.name}: field not in Jobber's`);
          continue;
        }
        if (String(field.type) !== String(their.type)) problems.push(`${type.name}.${field.name}: ${field.type} vs Jobber's ${their.type}`);
        for (const arg of field.args) {
          const theirArg = their.args.find((a) => a.name === arg.name);
          if (!theirArg) problems.push(`${type.name}.${field.name}(${arg.name}): argument not in Jobber's`);
          else if (String(arg.type) !== String(theirArg.type)) problems.push(`${type.name}.${field.name}(${arg.name}): ${arg.type} vs ${theirArg.type}`);
        }
        // A required argument the sandbox lacks would let a query pass here and fail at Jobber.
        for (const theirArg of their.args) {
          if (isNonNullType(theirArg.type) && theirArg.defaultValue === undefined && !field.args.some((a) => a.name === theirArg.name)) {
            problems.push(`${type.name}.${field.name}(${theirArg.name}): required by Jobber, missing here`);
          }
        }
      }
    }
    if (isInputObjectType(type) && isInputObjectType(theirs)) {
      const theirFields = theirs.getFields();
      for (const field of Object.values(type.getFields())) {
        const their = theirFields[field.name];
        if (!their) problems.push(`${type.name}.${field.name}: input field not in Jobber's`);
        else if (String(field.type) !== String(their.type)) problems.push(`${type.name}.${field.name}: ${field.type} vs ${their.type}`);
      }
      for (const their of Object.values(theirFields)) {
        if (isNonNullType(their.type) && their.defaultValue === undefined && !type.getFields()[their.name]) {
          problems.push(`${type.name}.${their.name}: required input field missing here`);
        }
      }
    }
    if (isUnionType(type)) problems.push(`${type.name}: unions are not expected in the sandbox`);
  }
  return problems;
}

describe('sandbox GraphQL schema', () => {
  it("is a strict subset of Jobber's official schema", () => {
    expect(differences(sandbox)).toEqual([]);
  });

  it('the subset check itself catches wrong types, unknown fields and arguments', () => {
    const wrong = buildSchema(`
      type Query { client(id: ID!): Client clients(page: Int): [Client] }
      type Client { firstName: String lastName: String! nickname: String! }
      enum InvoiceStatusTypeEnum { paid refunded }
    `);
    expect(differences(wrong)).toEqual(
      expect.arrayContaining([
        'Query.client(id): ID! vs EncodedId!',
        "Query.clients: [Client] vs Jobber's ClientConnection!",
        "Query.clients(page): argument not in Jobber's",
        "Client.firstName: String vs Jobber's String!",
        "Client.nickname: field not in Jobber's",
        "InvoiceStatusTypeEnum.refunded: enum value not in Jobber's",
      ]),
    );
  });

  it("declares the types the project relies on, with Jobber's scalars and root types", () => {
    for (const name of [
      'EncodedId',
      'ISO8601DateTime',
      'JobStatusTypeEnum',
      'InvoiceStatusTypeEnum',
      'Client',
      'Job',
      'Invoice',
      'InvoiceAmounts',
      'ClientPhoneNumber',
      'Email',
      'ClientAddress',
      'Account',
      'User',
      'AppDisconnectPayload',
      'Application',
      'MutationErrors',
      'PageInfo',
      'ClientConnection',
      'JobConnection',
      'InvoiceConnection',
      'ClientFilterAttributes',
      'InvoiceFilterAttributes',
    ]) {
      expect(sandbox.getType(name)).toBeDefined();
    }
    expect(isScalarType(sandbox.getType('EncodedId'))).toBe(true);
    expect(official.getQueryType()?.name).toBe(sandbox.getQueryType()?.name);
    expect(official.getMutationType()?.name).toBe(sandbox.getMutationType()?.name);
  });

  it.each(Object.entries(ALL_DOCUMENTS))('%s validates against both schemas', (_name, document) => {
    const ast = parse(document);
    expect(validate(official, ast).map((e) => e.message)).toEqual([]);
    expect(validate(sandbox, ast).map((e) => e.message)).toEqual([]);
  });
});

describe('every document the service sends executes against the sandbox', () => {
  let started: StartedJobberSandbox;
  let token: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    started = await startJobberSandbox();
    const { store } = started.sandbox;
    const account = store.createAccount({ name: 'Documents' });
    const client = store.createClient(account.id, {
      firstName: 'Ada',
      lastName: 'Lovelace',
      emails: [{ address: 'ada@example.com' }],
      phones: [{ number: '555-0100' }],
      billingAddress: { street: '1 Analytical Way', city: 'London', province: 'LDN', postalCode: 'N1', country: 'UK' },
    });
    const property = store.createProperty(account.id, { clientId: client.id, street1: '1 Analytical Way', city: 'London', country: 'UK' });
    const job = store.createJob(account.id, { clientId: client.id, title: 'Engine tune-up', total: 250 });
    const invoice = store.createInvoice(account.id, { clientId: client.id, jobIds: [job.id], amounts: { subtotal: 250 } });
    const request = store.createRequest(account.id, { clientId: client.id, title: 'New engine', phone: '555-0100' });
    const quote = store.createQuote(account.id, {
      clientId: client.id,
      requestId: request.id,
      propertyId: property.id,
      jobIds: [job.id],
      title: 'Engine plan',
      amounts: { subtotal: 900 },
    });
    const visit = store.createVisit(account.id, { jobId: job.id, startAt: '2025-06-02T09:00:00Z', completedAt: '2025-06-02T10:00:00Z', invoiceId: invoice.id });
    const payment = store.createPayment(account.id, { invoiceId: invoice.id, amount: 100, paymentType: 'CREDIT_CARD', entryDate: '2025-06-03T12:00:00Z' });
    Object.assign(ids, {
      client: client.id,
      job: job.id,
      invoice: invoice.id,
      request: request.id,
      quote: quote.id,
      visit: visit.id,
      property: property.id,
      payment: payment.id,
      account: account.id,
      user: account.user.id,
    });
    token = (await started.sandbox.connect(account.id)).access_token;
  });
  afterAll(() => started.close());

  // Every record type of the registry: one record by id (created above), a page.
  const variablesFor: Record<string, () => Record<string, unknown>> = Object.fromEntries(
    RECORD_TYPES.flatMap((t) => [
      [t.query.name, () => ({ id: ids[t.kind] })],
      [t.page.name, () => ({ first: 50 })],
    ]),
  );

  it('has a record for every type of the registry', () => {
    for (const t of RECORD_TYPES) expect(ids[t.kind]).toBeDefined();
  });

  // The mutation disconnects the account, so it runs last.
  const documents = Object.entries(ALL_DOCUMENTS).sort(([a], [b]) => Number(a === 'APP_DISCONNECT_MUTATION') - Number(b === 'APP_DISCONNECT_MUTATION'));

  it.each(documents)('%s returns data without errors', async (name, document) => {
    const res = await gql(started.url, token, document, variablesFor[name]?.() ?? {});
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toBeTruthy();
    for (const value of Object.values(res.body.data!)) expect(value).not.toBeNull();
    expect(res.body.extensions?.versioning.version).toBe('2025-04-16');
    expect(res.body.extensions?.cost.actualQueryCost).toBeLessThanOrEqual(res.body.extensions!.cost.requestedQueryCost);
  });

  it('returns the records with the shape the service reads', async () => {
    // The documents test ends with appDisconnect: connect again.
    const fresh = (await started.sandbox.connect(ids.account!)).access_token;
    const invoice = (await gql(started.url, fresh, ALL_DOCUMENTS.INVOICE_QUERY!, { id: ids.invoice })).body.data!.invoice;
    expect(invoice).toMatchObject({
      id: ids.invoice,
      invoiceStatus: 'awaiting_payment',
      amounts: { total: 250, subtotal: 250, invoiceBalance: 250, paymentsTotal: 0 },
      client: { id: ids.client },
      jobs: { nodes: [{ id: ids.job }] },
    });
    const client = (await gql(started.url, fresh, ALL_DOCUMENTS.CLIENT_QUERY!, { id: ids.client })).body.data!.client;
    expect(client).toMatchObject({
      firstName: 'Ada',
      emails: [{ address: 'ada@example.com', primary: true }],
      phones: [{ number: '555-0100', primary: true }],
      billingAddress: { street: '1 Analytical Way', city: 'London', province: 'LDN', postalCode: 'N1', country: 'UK' },
    });
    const request = (await gql(started.url, fresh, ALL_DOCUMENTS.REQUEST_QUERY!, { id: ids.request })).body.data!.request;
    expect(request).toMatchObject({
      id: ids.request,
      title: 'New engine',
      requestStatus: 'new',
      phone: '555-0100',
      client: { id: ids.client, name: 'Ada Lovelace' },
    });
    const quote = (await gql(started.url, fresh, ALL_DOCUMENTS.QUOTE_QUERY!, { id: ids.quote })).body.data!.quote;
    expect(quote).toMatchObject({
      id: ids.quote,
      quoteNumber: '1',
      quoteStatus: 'draft',
      amounts: { subtotal: 900, total: 900 },
      client: { id: ids.client },
      request: { id: ids.request },
      property: { id: ids.property },
      jobs: { nodes: [{ id: ids.job }] },
      sentAt: null,
    });
    const visit = (await gql(started.url, fresh, ALL_DOCUMENTS.VISIT_QUERY!, { id: ids.visit })).body.data!.visit;
    expect(visit).toMatchObject({
      id: ids.visit,
      visitStatus: 'COMPLETED',
      isComplete: true,
      startAt: '2025-06-02T09:00:00.000Z',
      completedAt: '2025-06-02T10:00:00.000Z',
      job: { id: ids.job, jobNumber: 1 },
      client: { id: ids.client },
      invoice: { id: ids.invoice },
    });
    const property = (await gql(started.url, fresh, ALL_DOCUMENTS.PROPERTY_QUERY!, { id: ids.property })).body.data!.property;
    expect(property).toMatchObject({ id: ids.property, street: '1 Analytical Way', city: 'London', country: 'UK', postalCode: '', client: { id: ids.client } });
    const payment = (await gql(started.url, fresh, ALL_DOCUMENTS.PAYMENT_QUERY!, { id: ids.payment })).body.data!.paymentRecord;
    expect(payment).toMatchObject({
      __typename: 'CreditCardPaymentRecord',
      id: ids.payment,
      amount: 100,
      paymentType: 'CREDIT_CARD',
      adjustmentType: 'PAYMENT',
      entryDate: '2025-06-03T12:00:00.000Z',
      client: { id: ids.client },
      invoice: { id: ids.invoice },
    });
    const account = (await gql(started.url, fresh, ALL_DOCUMENTS.ACCOUNT_QUERY!)).body.data!;
    expect(account).toMatchObject({ account: { id: ids.account, name: 'Documents' }, user: { id: ids.user } });
  });
});
