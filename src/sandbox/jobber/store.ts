import type { z } from 'zod';
import { encodeGlobalId, parseGlobalId } from '../../../workflows/ids';
import { SandboxClock, SandboxError, notFound } from './clock';
import {
  accountInputSchema,
  clientInputSchema,
  invoiceCreateSchema,
  invoiceInputSchema,
  jobCreateSchema,
  jobInputSchema,
  quoteCreateSchema,
  quoteInputSchema,
  paymentCreateSchema,
  paymentInputSchema,
  propertyCreateSchema,
  propertyInputSchema,
  requestCreateSchema,
  requestInputSchema,
  visitCreateSchema,
  visitInputSchema,
  seedSchema,
  writeOptionsSchema,
  type DeliveryOptions,
  type InvoiceStatus,
  type JobStatus,
  type JobType,
  type PaymentType,
  type QuoteStatus,
  type RequestStatus,
  type VisitStatus,
  type SeedInput,
  type WriteOptions,
} from './inputs';

/** Where Jobber's web app shows a record; the sandbox mimics the URL shape. */
export function jobberWebUri(kind: 'Client' | 'Job' | 'Invoice' | 'Request' | 'Quote' | 'Visit' | 'Property', id: number): string {
  const path = { Client: 'clients', Job: 'work_orders', Invoice: 'invoices', Request: 'requests', Quote: 'quotes', Visit: 'visits', Property: 'properties' }[
    kind
  ];
  return `https://secure.getjobber.com/${path}/${id}`;
}

export interface StoredAccount {
  id: number;
  name: string;
  ownerUserId: number;
  createdAt: string;
}

export interface StoredUser {
  id: number;
  accountId: number;
  firstName: string;
  lastName: string;
  email: string;
}

export interface StoredAddress {
  street1: string;
  street2: string;
  city: string;
  province: string;
  postalCode: string;
  country: string;
}

export interface StoredClient {
  id: number;
  accountId: number;
  firstName: string;
  lastName: string;
  companyName: string | null;
  title: string | null;
  isCompany: boolean;
  isArchived: boolean;
  isLead: boolean;
  emails: { id: number; address: string; primary: boolean; description: string }[];
  phones: { id: number; number: string; primary: boolean; description: string; smsAllowed: boolean }[];
  billingAddress: StoredAddress | null;
  createdAt: string;
  updatedAt: string;
}

export interface StoredJob {
  id: number;
  accountId: number;
  clientId: number;
  jobNumber: number;
  title: string | null;
  instructions: string | null;
  jobStatus: JobStatus;
  jobType: JobType;
  total: number;
  startAt: string | null;
  endAt: string | null;
  completedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StoredAmounts {
  subtotal: number;
  taxAmount: number;
  discountAmount: number;
  depositAmount: number;
  tipsTotal: number;
  nonTaxAmount: number;
  total: number;
  paymentsTotal: number;
  invoiceBalance: number;
}

export interface StoredInvoice {
  id: number;
  accountId: number;
  clientId: number;
  jobIds: number[];
  invoiceNumber: string;
  invoiceStatus: InvoiceStatus;
  subject: string;
  message: string | null;
  issuedDate: string | null;
  dueDate: string | null;
  receivedDate: string | null;
  amounts: StoredAmounts;
  createdAt: string;
  updatedAt: string;
}

export interface StoredRequest {
  id: number;
  accountId: number;
  clientId: number;
  title: string | null;
  requestStatus: RequestStatus;
  contactName: string | null;
  companyName: string | null;
  email: string | null;
  phone: string | null;
  source: string;
  createdAt: string;
  updatedAt: string;
}

export interface RequestView extends Omit<StoredRequest, 'id' | 'accountId' | 'clientId'> {
  id: string;
  accountId: string;
  clientId: string;
  jobberWebUri: string;
}

export interface StoredQuote {
  id: number;
  accountId: number;
  clientId: number;
  requestId: number | null;
  propertyId: number | null;
  jobIds: number[];
  quoteNumber: number;
  quoteStatus: QuoteStatus;
  title: string | null;
  message: string | null;
  amounts: { subtotal: number; taxAmount: number; discountAmount: number; total: number };
  sentAt: string | null;
  transitionedAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface QuoteView extends Omit<StoredQuote, 'id' | 'accountId' | 'clientId' | 'requestId' | 'propertyId' | 'jobIds'> {
  id: string;
  accountId: string;
  clientId: string;
  requestId: string | null;
  propertyId: string | null;
  jobIds: string[];
  jobberWebUri: string;
}

/** A job's visit. Jobber's Visit has no updatedAt (2023 schema): nor has this one. */
export interface StoredVisit {
  id: number;
  accountId: number;
  jobId: number;
  invoiceId: number | null;
  /** A property of the job's client: Jobber's Visit.property is non-null. */
  propertyId: number;
  title: string | null;
  instructions: string | null;
  startAt: string | null;
  endAt: string | null;
  completedAt: string | null;
  createdAt: string;
}

export interface VisitView extends Omit<StoredVisit, 'id' | 'accountId' | 'jobId' | 'invoiceId' | 'propertyId'> {
  id: string;
  accountId: string;
  jobId: string;
  clientId: string;
  invoiceId: string | null;
  propertyId: string;
  visitStatus: VisitStatus;
  isComplete: boolean;
}

/** Jobber's status of a visit, from what the sandbox keeps (LATE, TODAY and ACTIVE are not modelled). */
export function visitStatusOf(v: StoredVisit): VisitStatus {
  return v.completedAt ? 'COMPLETED' : v.startAt ? 'UPCOMING' : 'UNSCHEDULED';
}

/** A client's service address. Jobber's Property has no updatedAt (2023 schema): nor has this one. */
export interface StoredProperty extends StoredAddress {
  id: number;
  accountId: number;
  clientId: number;
  isBillingAddress: boolean;
}

export interface PropertyView extends Omit<StoredProperty, 'id' | 'accountId' | 'clientId'> {
  id: string;
  accountId: string;
  clientId: string;
  street: string;
  jobberWebUri: string;
}

/**
 * A payment recorded against an invoice. Jobber's PaymentRecordInterface has no updatedAt, nor
 * has this one; recording it leaves the invoice's amounts as they are (the sandbox's choice).
 */
export interface StoredPayment {
  id: number;
  accountId: number;
  invoiceId: number | null;
  clientId: number;
  amount: number;
  paymentType: PaymentType;
  details: string | null;
  entryDate: string;
}

export interface PaymentView extends Omit<StoredPayment, 'id' | 'accountId' | 'invoiceId' | 'clientId'> {
  id: string;
  accountId: string;
  invoiceId: string | null;
  clientId: string;
  adjustmentType: 'PAYMENT';
}

/** Jobber's type of a payment record, by its method. */
export const PAYMENT_RECORD_TYPES: Record<PaymentType, string> = {
  CASH: 'CashPaymentRecord',
  CHEQUE: 'CheckPaymentRecord',
  CREDIT_CARD: 'CreditCardPaymentRecord',
  BANK_TRANSFER: 'BankTransferPaymentRecord',
  MONEY_ORDER: 'MoneyOrderPaymentRecord',
  OTHER: 'OtherPaymentRecord',
};

export interface AccountView {
  id: string;
  name: string;
  createdAt: string;
  user: { id: string; firstName: string; lastName: string; email: string };
}

export interface ClientView {
  id: string;
  accountId: string;
  firstName: string;
  lastName: string;
  companyName: string | null;
  title: string | null;
  name: string;
  isCompany: boolean;
  isArchived: boolean;
  isLead: boolean;
  emails: { id: string; address: string; primary: boolean; description: string }[];
  phones: { id: string; number: string; primary: boolean; description: string; smsAllowed: boolean }[];
  billingAddress: (StoredAddress & { street: string }) | null;
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export interface JobView {
  id: string;
  accountId: string;
  clientId: string;
  jobNumber: number;
  title: string | null;
  instructions: string | null;
  jobStatus: JobStatus;
  jobType: JobType;
  total: number;
  startAt: string | null;
  endAt: string | null;
  completedAt: string | null;
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export interface InvoiceView {
  id: string;
  accountId: string;
  clientId: string;
  jobIds: string[];
  invoiceNumber: string;
  invoiceStatus: InvoiceStatus;
  subject: string;
  message: string | null;
  issuedDate: string | null;
  dueDate: string | null;
  receivedDate: string | null;
  amounts: StoredAmounts;
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeletedView {
  clients: string[];
  jobs: string[];
  invoices: string[];
  /** Present when requests were deleted (or seeded). */
  requests?: string[];
  /** Present when quotes were deleted (or seeded). */
  quotes?: string[];
  /** Present when visits were deleted (or seeded). */
  visits?: string[];
  /** Present when properties were deleted (or seeded). */
  properties?: string[];
  /** Present when payments were deleted (or seeded). */
  payments?: string[];
}

/** A change that Jobber would announce with a webhook. */
export interface ChangeEvent {
  topic: string;
  accountId: string;
  itemId: string;
  occurredAt: string;
}

export type ChangeListener = (events: ChangeEvent[], delivery: DeliveryOptions | undefined) => void;

type RecordType =
  'Account' | 'User' | 'Client' | 'Job' | 'Invoice' | 'Request' | 'Quote' | 'Visit' | 'Property' | 'PaymentRecord' | 'Email' | 'ClientPhoneNumber';

/** Where a deleted record's id goes in a DeletedView. */
const DELETED_LISTS = {
  Client: 'clients',
  Job: 'jobs',
  Invoice: 'invoices',
  Request: 'requests',
  Quote: 'quotes',
  Visit: 'visits',
  Property: 'properties',
  PaymentRecord: 'payments',
} as const satisfies Partial<Record<RecordType, keyof DeletedView>>;
type DeletableType = keyof typeof DELETED_LISTS;

const round2 = (n: number): number => Math.round(n * 100) / 100;
const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Katherine', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen'];

/**
 * The sandbox's in-memory Jobber data: accounts (each with one user), clients, jobs and invoices.
 * Every write takes a fresh strictly increasing `updatedAt` and, unless `{ webhook: false }`,
 * reports the matching webhook topic to the change listener.
 * Ids in and out are EncodedIds; ids keep increasing across `reset()` so stale ids never resolve.
 */
export class JobberStore {
  private readonly accounts = new Map<number, StoredAccount>();
  private readonly users = new Map<number, StoredUser>();
  private readonly clients = new Map<number, StoredClient>();
  private readonly jobs = new Map<number, StoredJob>();
  private readonly invoices = new Map<number, StoredInvoice>();
  private readonly requests = new Map<number, StoredRequest>();
  private readonly quotes = new Map<number, StoredQuote>();
  private readonly visits = new Map<number, StoredVisit>();
  private readonly properties = new Map<number, StoredProperty>();
  private readonly payments = new Map<number, StoredPayment>();
  private readonly quoteNumbers = new Map<number, number>();
  private readonly jobNumbers = new Map<number, number>();
  private readonly invoiceNumbers = new Map<number, number>();
  private readonly seq: Record<RecordType, number>;
  private readonly listeners: ChangeListener[] = [];

  /** Ids of every type start after `idBase`: sandboxes sharing one Temporal server use their own ranges. */
  constructor(
    private readonly clock: SandboxClock,
    idBase = 0,
  ) {
    this.seq = {
      Account: idBase,
      User: idBase,
      Client: idBase,
      Job: idBase,
      Invoice: idBase,
      Request: idBase,
      Quote: idBase,
      Visit: idBase,
      Property: idBase,
      PaymentRecord: idBase,
      Email: idBase,
      ClientPhoneNumber: idBase,
    };
  }

  /** Called with the events of every write that asks for webhooks. */
  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** Forgets all data. Id counters keep going. */
  reset(): void {
    for (const map of [
      this.accounts,
      this.users,
      this.clients,
      this.jobs,
      this.invoices,
      this.requests,
      this.quotes,
      this.visits,
      this.properties,
      this.payments,
      this.jobNumbers,
      this.invoiceNumbers,
      this.quoteNumbers,
    ]) {
      map.clear();
    }
  }

  // ---- accounts -------------------------------------------------------------------------------

  createAccount(input: z.input<typeof accountInputSchema> = {}): AccountView {
    const parsed = accountInputSchema.parse(input);
    const id = this.next('Account');
    const userId = this.next('User');
    const at = this.clock.stamp().toISOString();
    this.accounts.set(id, { id, name: parsed.name ?? `Sandbox Account ${id}`, ownerUserId: userId, createdAt: at });
    this.users.set(userId, {
      id: userId,
      accountId: id,
      firstName: parsed.user?.firstName ?? 'Sandbox',
      lastName: parsed.user?.lastName ?? `Owner ${id}`,
      email: parsed.user?.email ?? `owner${id}@sandbox.example`,
    });
    return this.accountView(this.accounts.get(id)!);
  }

  getAccount(accountId: string): AccountView | undefined {
    return this.getRecord('Account', this.accounts, accountId, (r) => this.accountView(r));
  }

  listAccounts(): AccountView[] {
    return [...this.accounts.values()].map((a) => this.accountView(a));
  }

  // ---- clients --------------------------------------------------------------------------------

  createClient(accountId: string, input: z.input<typeof clientInputSchema> = {}, write?: WriteOptions): ClientView {
    const account = this.requireAccount(accountId);
    const parsed = clientInputSchema.parse(input);
    const id = this.next('Client');
    const at = this.clock.stamp().toISOString();
    const client: StoredClient = {
      id,
      accountId: account.id,
      firstName: parsed.firstName ?? FIRST_NAMES[id % FIRST_NAMES.length]!,
      lastName: parsed.lastName ?? LAST_NAMES[(id * 7) % LAST_NAMES.length]!,
      companyName: parsed.companyName ?? null,
      title: parsed.title ?? null,
      isCompany: parsed.isCompany ?? false,
      isArchived: parsed.isArchived ?? false,
      isLead: parsed.isLead ?? false,
      emails: [],
      phones: [],
      billingAddress: null,
      createdAt: at,
      updatedAt: at,
    };
    this.applyClientContacts(client, parsed);
    this.clients.set(id, client);
    this.emit(write, [{ topic: 'CLIENT_CREATE', accountId: this.enc('Account', account.id), itemId: this.enc('Client', id), occurredAt: at }]);
    return this.clientView(client);
  }

  updateClient(clientId: string, input: z.input<typeof clientInputSchema>, write?: WriteOptions): ClientView {
    const client = this.requireRecord('Client', this.clients, clientId);
    const parsed = clientInputSchema.parse(input);
    assignDefined(client, parsed, { only: ['firstName', 'lastName', 'companyName', 'title', 'isCompany', 'isArchived', 'isLead'] });
    this.applyClientContacts(client, parsed);
    client.updatedAt = this.clock.stamp().toISOString();
    this.emit(write, [this.event('CLIENT_UPDATE', client.accountId, 'Client', client.id, client.updatedAt)]);
    return this.clientView(client);
  }

  /** Deletes the client with its properties, quotes, requests, jobs (with visits) and invoices (each gets its own DESTROY webhook). */
  deleteClient(clientId: string, write?: WriteOptions): DeletedView {
    const client = this.requireRecord('Client', this.clients, clientId);
    const { deleted, events, drop } = this.deletion(client.accountId);
    drop('PaymentRecord', this.payments, this.ofClient(this.payments, client.id), 'PAYMENT_DESTROY');
    drop('Property', this.properties, this.propertiesOfClient(client.id), 'PROPERTY_DESTROY');
    drop('Quote', this.quotes, this.quotesOfClient(client.id), 'QUOTE_DESTROY');
    drop('Request', this.requests, this.requestsOfClient(client.id), 'REQUEST_DESTROY');
    drop('Invoice', this.invoices, this.invoicesOfClient(client.id), 'INVOICE_DESTROY');
    for (const job of this.jobsOfClient(client.id)) {
      drop('Visit', this.visits, this.visitsOfJob(job.id), 'VISIT_DESTROY');
      drop('Job', this.jobs, [job], 'JOB_DESTROY');
    }
    drop('Client', this.clients, [client], 'CLIENT_DESTROY');
    this.emit(write, events);
    return deleted;
  }

  getClient(clientId: string): ClientView | undefined {
    return this.getRecord('Client', this.clients, clientId, (r) => this.clientView(r));
  }

  listClients(accountId: string): ClientView[] {
    return this.listRecords(this.clients, accountId, (r) => this.clientView(r));
  }

  // ---- requests -------------------------------------------------------------------------------

  createRequest(accountId: string, input: z.input<typeof requestCreateSchema>, write?: WriteOptions): RequestView {
    const account = this.requireAccount(accountId);
    const parsed = requestCreateSchema.parse(input);
    const client = this.requireOwnRecord('Client', this.clients, account, parsed.clientId);
    const id = this.next('Request');
    const at = this.clock.stamp().toISOString();
    const request: StoredRequest = {
      id,
      accountId: account.id,
      clientId: client.id,
      title: parsed.title !== undefined ? parsed.title : `Request from ${clientName(client)}`,
      requestStatus: parsed.requestStatus ?? 'new',
      contactName: parsed.contactName !== undefined ? parsed.contactName : clientName(client),
      companyName: parsed.companyName ?? client.companyName,
      email: parsed.email !== undefined ? parsed.email : (client.emails.find((e) => e.primary)?.address ?? null),
      phone: parsed.phone !== undefined ? parsed.phone : (client.phones.find((p) => p.primary)?.number ?? null),
      source: parsed.source ?? 'online_booking',
      createdAt: at,
      updatedAt: at,
    };
    this.requests.set(id, request);
    this.emit(write, [this.event('REQUEST_CREATE', account.id, 'Request', id, at)]);
    return this.requestView(request);
  }

  updateRequest(requestId: string, input: z.input<typeof requestInputSchema>, write?: WriteOptions): RequestView {
    const request = this.requireRecord('Request', this.requests, requestId);
    const parsed = requestInputSchema.parse(input);
    assignDefined(request, parsed);
    request.updatedAt = this.clock.stamp().toISOString();
    this.emit(write, [this.event('REQUEST_UPDATE', request.accountId, 'Request', request.id, request.updatedAt)]);
    return this.requestView(request);
  }

  deleteRequest(requestId: string, write?: WriteOptions): DeletedView {
    return this.deleteRecord('Request', this.requests, requestId, 'REQUEST_DESTROY', write, (request) => {
      // Quotes made from it lose the link silently, as invoices lose a deleted job.
      for (const quote of this.quotes.values()) if (quote.requestId === request.id) quote.requestId = null;
    });
  }

  getRequest(requestId: string): RequestView | undefined {
    return this.getRecord('Request', this.requests, requestId, (r) => this.requestView(r));
  }

  listRequests(accountId: string): RequestView[] {
    return this.listRecords(this.requests, accountId, (r) => this.requestView(r));
  }

  // ---- quotes ---------------------------------------------------------------------------------

  createQuote(accountId: string, input: z.input<typeof quoteCreateSchema>, write?: WriteOptions): QuoteView {
    const account = this.requireAccount(accountId);
    const parsed = quoteCreateSchema.parse(input);
    const client = this.requireOwnRecord('Client', this.clients, account, parsed.clientId);
    const id = this.next('Quote');
    const quoteNumber = this.nextNumber(this.quoteNumbers, account.id);
    const at = this.clock.stamp().toISOString();
    const quote: StoredQuote = {
      id,
      accountId: account.id,
      clientId: client.id,
      requestId: null,
      propertyId: null,
      jobIds: [],
      quoteNumber,
      quoteStatus: 'draft',
      title: parsed.title !== undefined ? parsed.title : `Quote #${quoteNumber}`,
      message: parsed.message ?? null,
      amounts: { subtotal: 0, taxAmount: 0, discountAmount: 0, total: 0 },
      sentAt: null,
      transitionedAt: at,
      createdAt: at,
      updatedAt: at,
    };
    this.applyQuote(quote, parsed, at);
    this.quotes.set(id, quote);
    this.emit(write, [this.event('QUOTE_CREATE', account.id, 'Quote', id, at)]);
    return this.quoteView(quote);
  }

  /** QUOTE_SENT when the status moves to awaiting_response, QUOTE_APPROVED when to approved, else QUOTE_UPDATE. */
  updateQuote(quoteId: string, input: z.input<typeof quoteInputSchema>, write?: WriteOptions): QuoteView {
    const quote = this.requireRecord('Quote', this.quotes, quoteId);
    const parsed = quoteInputSchema.parse(input);
    const before = quote.quoteStatus;
    const at = this.clock.stamp().toISOString();
    this.applyQuote(quote, parsed, at);
    quote.updatedAt = at;
    const moved = quote.quoteStatus !== before;
    const topic =
      moved && quote.quoteStatus === 'awaiting_response' ? 'QUOTE_SENT' : moved && quote.quoteStatus === 'approved' ? 'QUOTE_APPROVED' : 'QUOTE_UPDATE';
    this.emit(write, [this.event(topic, quote.accountId, 'Quote', quote.id, at)]);
    return this.quoteView(quote);
  }

  deleteQuote(quoteId: string, write?: WriteOptions): DeletedView {
    return this.deleteRecord('Quote', this.quotes, quoteId, 'QUOTE_DESTROY', write);
  }

  getQuote(quoteId: string): QuoteView | undefined {
    return this.getRecord('Quote', this.quotes, quoteId, (r) => this.quoteView(r));
  }

  listQuotes(accountId: string): QuoteView[] {
    return this.listRecords(this.quotes, accountId, (r) => this.quoteView(r));
  }

  // ---- payments -------------------------------------------------------------------------------

  createPayment(accountId: string, input: z.input<typeof paymentCreateSchema>, write?: WriteOptions): PaymentView {
    const account = this.requireAccount(accountId);
    const parsed = paymentCreateSchema.parse(input);
    const invoice = this.requireOwnRecord('Invoice', this.invoices, account, parsed.invoiceId);
    const id = this.next('PaymentRecord');
    const at = this.clock.stamp().toISOString();
    const pay: StoredPayment = {
      id,
      accountId: account.id,
      invoiceId: invoice.id,
      clientId: invoice.clientId,
      amount: round2(parsed.amount),
      paymentType: parsed.paymentType ?? 'CASH',
      details: parsed.details ?? null,
      entryDate: parsed.entryDate ?? at,
    };
    this.payments.set(id, pay);
    this.emit(write, [this.event('PAYMENT_CREATE', account.id, 'PaymentRecord', id, at)]);
    return this.paymentView(pay);
  }

  updatePayment(paymentId: string, input: z.input<typeof paymentInputSchema>, write?: WriteOptions): PaymentView {
    const pay = this.requireRecord('PaymentRecord', this.payments, paymentId);
    const parsed = paymentInputSchema.parse(input);
    assignDefined(pay, parsed, { cents: 'amount' });
    this.emit(write, [this.event('PAYMENT_UPDATE', pay.accountId, 'PaymentRecord', pay.id, this.clock.stamp().toISOString())]);
    return this.paymentView(pay);
  }

  deletePayment(paymentId: string, write?: WriteOptions): DeletedView {
    return this.deleteRecord('PaymentRecord', this.payments, paymentId, 'PAYMENT_DESTROY', write);
  }

  getPayment(paymentId: string): PaymentView | undefined {
    return this.getRecord('PaymentRecord', this.payments, paymentId, (r) => this.paymentView(r));
  }

  listPayments(accountId: string): PaymentView[] {
    return this.listRecords(this.payments, accountId, (r) => this.paymentView(r));
  }

  // ---- properties -----------------------------------------------------------------------------

  createProperty(accountId: string, input: z.input<typeof propertyCreateSchema>, write?: WriteOptions): PropertyView {
    const account = this.requireAccount(accountId);
    const parsed = propertyCreateSchema.parse(input);
    const client = this.requireOwnRecord('Client', this.clients, account, parsed.clientId);
    const id = this.next('Property');
    const prop: StoredProperty = {
      id,
      accountId: account.id,
      clientId: client.id,
      street1: parsed.street1 ?? '',
      street2: parsed.street2 ?? '',
      city: parsed.city ?? '',
      province: parsed.province ?? '',
      postalCode: parsed.postalCode ?? '',
      country: parsed.country ?? '',
      isBillingAddress: parsed.isBillingAddress ?? false,
    };
    this.properties.set(id, prop);
    this.emit(write, [this.event('PROPERTY_CREATE', account.id, 'Property', id, this.clock.stamp().toISOString())]);
    return this.propertyView(prop);
  }

  updateProperty(propertyId: string, input: z.input<typeof propertyInputSchema>, write?: WriteOptions): PropertyView {
    const prop = this.requireRecord('Property', this.properties, propertyId);
    const parsed = propertyInputSchema.parse(input);
    assignDefined(prop, parsed);
    this.emit(write, [this.event('PROPERTY_UPDATE', prop.accountId, 'Property', prop.id, this.clock.stamp().toISOString())]);
    return this.propertyView(prop);
  }

  deleteProperty(propertyId: string, write?: WriteOptions): DeletedView {
    return this.deleteRecord('Property', this.properties, propertyId, 'PROPERTY_DESTROY', write, (prop) => {
      // A visit cannot lose its property (non-null in Jobber): move or delete the visits first.
      const visits = [...this.visits.values()].filter((v) => v.propertyId === prop.id);
      if (visits.length > 0) {
        throw new SandboxError(409, `property ${propertyId} has ${visits.length} visit(s): move them to another property or delete them first`);
      }
      for (const quote of this.quotes.values()) if (quote.propertyId === prop.id) quote.propertyId = null;
    });
  }

  getProperty(propertyId: string): PropertyView | undefined {
    return this.getRecord('Property', this.properties, propertyId, (r) => this.propertyView(r));
  }

  listProperties(accountId: string): PropertyView[] {
    return this.listRecords(this.properties, accountId, (r) => this.propertyView(r));
  }

  // ---- visits ---------------------------------------------------------------------------------

  createVisit(accountId: string, input: z.input<typeof visitCreateSchema>, write?: WriteOptions): VisitView {
    const account = this.requireAccount(accountId);
    const parsed = visitCreateSchema.parse(input);
    const job = this.requireOwnRecord('Job', this.jobs, account, parsed.jobId);
    // Jobber's Visit.property is non-null: the one named, else the client's first property.
    const propertyId =
      parsed.propertyId === undefined
        ? this.propertiesOf(account.id).find((p) => p.clientId === job.clientId)?.id
        : this.propertyOfClient(parsed.propertyId, job.clientId);
    if (propertyId === undefined) {
      throw new SandboxError(400, `the job's client has no property: create one first (POST /admin/accounts/:id/properties) or name propertyId`);
    }
    const id = this.next('Visit');
    const at = this.clock.stamp().toISOString();
    const visit: StoredVisit = {
      id,
      accountId: account.id,
      jobId: job.id,
      invoiceId: null,
      propertyId,
      title: job.title,
      instructions: null,
      startAt: null,
      endAt: null,
      completedAt: null,
      createdAt: at,
    };
    this.applyVisit(visit, parsed);
    this.visits.set(id, visit);
    this.emit(write, [this.event('VISIT_CREATE', account.id, 'Visit', id, at)]);
    return this.visitView(visit);
  }

  /** VISIT_COMPLETE when the change completes the visit (sets completedAt), else VISIT_UPDATE. */
  updateVisit(visitId: string, input: z.input<typeof visitInputSchema>, write?: WriteOptions): VisitView {
    const visit = this.requireRecord('Visit', this.visits, visitId);
    const parsed = visitInputSchema.parse(input);
    const wasComplete = visit.completedAt !== null;
    this.applyVisit(visit, parsed);
    const topic = !wasComplete && visit.completedAt !== null ? 'VISIT_COMPLETE' : 'VISIT_UPDATE';
    this.emit(write, [this.event(topic, visit.accountId, 'Visit', visit.id, this.clock.stamp().toISOString())]);
    return this.visitView(visit);
  }

  deleteVisit(visitId: string, write?: WriteOptions): DeletedView {
    return this.deleteRecord('Visit', this.visits, visitId, 'VISIT_DESTROY', write);
  }

  getVisit(visitId: string): VisitView | undefined {
    return this.getRecord('Visit', this.visits, visitId, (r) => this.visitView(r));
  }

  listVisits(accountId: string): VisitView[] {
    return this.listRecords(this.visits, accountId, (r) => this.visitView(r));
  }

  // ---- jobs -----------------------------------------------------------------------------------

  createJob(accountId: string, input: z.input<typeof jobCreateSchema>, write?: WriteOptions): JobView {
    const account = this.requireAccount(accountId);
    const parsed = jobCreateSchema.parse(input);
    const client = this.requireOwnRecord('Client', this.clients, account, parsed.clientId);
    const id = this.next('Job');
    const jobNumber = this.nextNumber(this.jobNumbers, account.id);
    const at = this.clock.stamp().toISOString();
    const job: StoredJob = {
      id,
      accountId: account.id,
      clientId: client.id,
      jobNumber,
      title: parsed.title !== undefined ? parsed.title : `Job #${jobNumber}`,
      instructions: parsed.instructions ?? null,
      jobStatus: parsed.jobStatus ?? 'upcoming',
      jobType: parsed.jobType ?? 'ONE_OFF',
      total: round2(parsed.total ?? 0),
      startAt: parsed.startAt ?? null,
      endAt: parsed.endAt ?? null,
      completedAt: parsed.completedAt ?? null,
      createdAt: at,
      updatedAt: at,
    };
    this.jobs.set(id, job);
    this.emit(write, [this.event('JOB_CREATE', account.id, 'Job', id, at)]);
    return this.jobView(job);
  }

  updateJob(jobId: string, input: z.input<typeof jobInputSchema>, write?: WriteOptions): JobView {
    const job = this.requireRecord('Job', this.jobs, jobId);
    const parsed = jobInputSchema.parse(input);
    const before = job.jobStatus;
    assignDefined(job, parsed, { cents: 'total' });
    job.updatedAt = this.clock.stamp().toISOString();
    // Closing a job (it moves to archived) is announced as JOB_CLOSED, not JOB_UPDATE (the sandbox's reading).
    const topic = parsed.jobStatus === 'archived' && before !== 'archived' ? 'JOB_CLOSED' : 'JOB_UPDATE';
    this.emit(write, [this.event(topic, job.accountId, 'Job', job.id, job.updatedAt)]);
    return this.jobView(job);
  }

  /** Deletes the job with its visits (VISIT_DESTROY each); invoices and quotes that named it silently drop it from their jobs. */
  deleteJob(jobId: string, write?: WriteOptions): DeletedView {
    const job = this.requireRecord('Job', this.jobs, jobId);
    const { deleted, events, drop } = this.deletion(job.accountId);
    drop('Visit', this.visits, this.visitsOfJob(job.id), 'VISIT_DESTROY');
    drop('Job', this.jobs, [job], 'JOB_DESTROY');
    for (const invoice of this.invoices.values()) invoice.jobIds = invoice.jobIds.filter((id) => id !== job.id);
    for (const quote of this.quotes.values()) quote.jobIds = quote.jobIds.filter((id) => id !== job.id);
    this.emit(write, events);
    return deleted;
  }

  getJob(jobId: string): JobView | undefined {
    return this.getRecord('Job', this.jobs, jobId, (r) => this.jobView(r));
  }

  listJobs(accountId: string): JobView[] {
    return this.listRecords(this.jobs, accountId, (r) => this.jobView(r));
  }

  // ---- invoices -------------------------------------------------------------------------------

  createInvoice(accountId: string, input: z.input<typeof invoiceCreateSchema>, write?: WriteOptions): InvoiceView {
    const account = this.requireAccount(accountId);
    const parsed = invoiceCreateSchema.parse(input);
    const client = this.requireOwnRecord('Client', this.clients, account, parsed.clientId);
    const jobIds = this.resolveInvoiceJobs(client, parsed.jobIds ?? []);
    const id = this.next('Invoice');
    const invoiceNumber = this.nextNumber(this.invoiceNumbers, account.id);
    const atDate = this.clock.stamp();
    const at = atDate.toISOString();
    const status = parsed.invoiceStatus ?? 'awaiting_payment';
    const invoice: StoredInvoice = {
      id,
      accountId: account.id,
      clientId: client.id,
      jobIds,
      invoiceNumber: String(invoiceNumber),
      invoiceStatus: status,
      subject: parsed.subject ?? `For services rendered`,
      message: parsed.message ?? null,
      issuedDate: parsed.issuedDate !== undefined ? parsed.issuedDate : status === 'draft' ? null : at,
      dueDate: parsed.dueDate !== undefined ? parsed.dueDate : status === 'draft' ? null : new Date(atDate.getTime() + 30 * 86_400_000).toISOString(),
      receivedDate: parsed.receivedDate ?? null,
      amounts: computeAmounts(undefined, parsed.amounts ?? {}),
      createdAt: at,
      updatedAt: at,
    };
    this.applyPayment(invoice, undefined, parsed.amounts?.paymentsTotal, parsed.receivedDate, at);
    this.invoices.set(id, invoice);
    this.emit(write, [this.event('INVOICE_CREATE', account.id, 'Invoice', id, at)]);
    return this.invoiceView(invoice);
  }

  /** Updates an invoice; moving it to `paid` records the full payment unless amounts say otherwise. */
  updateInvoice(invoiceId: string, input: z.input<typeof invoiceInputSchema>, write?: WriteOptions): InvoiceView {
    const invoice = this.requireRecord('Invoice', this.invoices, invoiceId);
    const parsed = invoiceInputSchema.parse(input);
    const previousStatus = invoice.invoiceStatus;
    assignDefined(invoice, parsed, { only: ['subject', 'message', 'invoiceStatus', 'issuedDate', 'dueDate', 'receivedDate'] });
    if (parsed.jobIds) invoice.jobIds = this.resolveInvoiceJobs(this.clients.get(invoice.clientId)!, parsed.jobIds);
    if (parsed.amounts) invoice.amounts = computeAmounts(invoice.amounts, parsed.amounts);
    invoice.updatedAt = this.clock.stamp().toISOString();
    this.applyPayment(invoice, previousStatus, parsed.amounts?.paymentsTotal, parsed.receivedDate, invoice.updatedAt);
    this.emit(write, [this.event('INVOICE_UPDATE', invoice.accountId, 'Invoice', invoice.id, invoice.updatedAt)]);
    return this.invoiceView(invoice);
  }

  deleteInvoice(invoiceId: string, write?: WriteOptions): DeletedView {
    return this.deleteRecord('Invoice', this.invoices, invoiceId, 'INVOICE_DESTROY', write, (invoice) => {
      // Its payments stay, no longer linked (the sandbox's choice).
      for (const pay of this.payments.values()) if (pay.invoiceId === invoice.id) pay.invoiceId = null;
    });
  }

  getInvoice(invoiceId: string): InvoiceView | undefined {
    return this.getRecord('Invoice', this.invoices, invoiceId, (r) => this.invoiceView(r));
  }

  listInvoices(accountId: string): InvoiceView[] {
    return this.listRecords(this.invoices, accountId, (r) => this.invoiceView(r));
  }

  /** Bulk data for backfill tests; sends no webhooks. Returns the new ids in creation order. */
  seed(accountId: string, input: SeedInput): DeletedView {
    this.requireAccount(accountId);
    const { clients, jobsPerClient, invoicesPerJob, requestsPerClient, quotesPerClient, visitsPerJob, propertiesPerClient, paymentsPerInvoice } =
      seedSchema.parse(input);
    const out: DeletedView = {
      clients: [],
      jobs: [],
      invoices: [],
      ...(requestsPerClient > 0 ? { requests: [] } : {}),
      ...(quotesPerClient > 0 ? { quotes: [] } : {}),
      ...(visitsPerJob > 0 && jobsPerClient > 0 ? { visits: [] } : {}),
      ...(propertiesPerClient > 0 ? { properties: [] } : {}),
      ...(paymentsPerInvoice > 0 && invoicesPerJob > 0 && jobsPerClient > 0 ? { payments: [] } : {}),
    };
    const quiet = { webhook: false };
    for (let c = 0; c < clients; c++) {
      const n = this.seq.Client + 1;
      const first = FIRST_NAMES[n % FIRST_NAMES.length]!;
      const last = LAST_NAMES[(n * 7) % LAST_NAMES.length]!;
      const client = this.createClient(
        accountId,
        {
          firstName: first,
          lastName: last,
          isCompany: n % 5 === 0,
          companyName: n % 5 === 0 ? `${last} & Co.` : null,
          emails: [{ address: `${first}.${last}.${n}@example.com`.toLowerCase(), primary: true }],
          phones: [{ number: `555-01${String(n % 100).padStart(2, '0')}`, primary: true }],
          billingAddress: { street1: `${n} Main Street`, city: 'Springfield', province: 'ON', postalCode: 'A1A 1A1', country: 'Canada' },
        },
        quiet,
      );
      out.clients.push(client.id);
      for (let r = 0; r < requestsPerClient; r++) {
        out.requests!.push(this.createRequest(accountId, { clientId: client.id, title: `Quote request ${r + 1}` }, quiet).id);
      }
      for (let a = 0; a < propertiesPerClient; a++) {
        const street1 = `${n + a * 1000} Garden Row`;
        out.properties!.push(
          this.createProperty(accountId, { clientId: client.id, street1, city: 'Springfield', province: 'ON', country: 'Canada' }, quiet).id,
        );
      }
      for (let q = 0; q < quotesPerClient; q++) {
        out.quotes!.push(this.createQuote(accountId, { clientId: client.id, title: `Hedge plan ${q + 1}`, amounts: { subtotal: 200 + q * 50 } }, quiet).id);
      }
      for (let j = 0; j < jobsPerClient; j++) {
        const job = this.createJob(accountId, { clientId: client.id, title: `Lawn care visit ${j + 1}`, jobStatus: 'active', total: 100 + j * 25 }, quiet);
        out.jobs.push(job.id);
        for (let v = 0; v < visitsPerJob; v++) {
          out.visits!.push(this.createVisit(accountId, { jobId: job.id, startAt: new Date(Date.UTC(2025, 5, 1 + v, 9)).toISOString() }, quiet).id);
        }
        for (let i = 0; i < invoicesPerJob; i++) {
          const invoice = this.createInvoice(
            accountId,
            { clientId: client.id, jobIds: [job.id], subject: `Invoice for ${job.title}`, amounts: { subtotal: job.total } },
            quiet,
          );
          out.invoices.push(invoice.id);
          for (let k = 0; k < paymentsPerInvoice; k++) out.payments!.push(this.createPayment(accountId, { invoiceId: invoice.id, amount: 25 }, quiet).id);
        }
      }
    }
    return out;
  }

  // ---- internal access for the GraphQL resolvers ------------------------------------------------

  accountByNumber(id: number): StoredAccount | undefined {
    return this.accounts.get(id);
  }

  userByNumber(id: number): StoredUser | undefined {
    return this.users.get(id);
  }

  /** The record of `type` with this EncodedId, only if it belongs to the account. */
  find(type: 'Client', accountId: number, encodedId: string): StoredClient | undefined;
  find(type: 'Job', accountId: number, encodedId: string): StoredJob | undefined;
  find(type: 'Invoice', accountId: number, encodedId: string): StoredInvoice | undefined;
  find(type: 'Request', accountId: number, encodedId: string): StoredRequest | undefined;
  find(type: 'Quote', accountId: number, encodedId: string): StoredQuote | undefined;
  find(type: 'Visit', accountId: number, encodedId: string): StoredVisit | undefined;
  find(type: 'Property', accountId: number, encodedId: string): StoredProperty | undefined;
  find(type: 'PaymentRecord', accountId: number, encodedId: string): StoredPayment | undefined;
  find(type: 'User', accountId: number, encodedId: string): StoredUser | undefined;
  find(
    type: 'Client' | 'Job' | 'Invoice' | 'Request' | 'Quote' | 'Visit' | 'Property' | 'PaymentRecord' | 'User',
    accountId: number,
    encodedId: string,
  ): { accountId: number } | undefined {
    const id = this.decode(type, encodedId);
    if (id === undefined) return undefined;
    const map: Map<number, { accountId: number }> = {
      Client: this.clients,
      Job: this.jobs,
      Invoice: this.invoices,
      Request: this.requests,
      Quote: this.quotes,
      Visit: this.visits,
      Property: this.properties,
      PaymentRecord: this.payments,
      User: this.users,
    }[type];
    const record = map.get(id);
    return record && record.accountId === accountId ? record : undefined;
  }

  clientByNumber(id: number): StoredClient | undefined {
    return this.clients.get(id);
  }

  jobByNumber(id: number): StoredJob | undefined {
    return this.jobs.get(id);
  }

  /** Maps iterate in insertion order and ids only grow, so these lists are in id order. */
  clientsOf(accountId: number): StoredClient[] {
    return this.ofAccount(this.clients, accountId);
  }

  jobsOf(accountId: number): StoredJob[] {
    return this.ofAccount(this.jobs, accountId);
  }

  invoicesOf(accountId: number): StoredInvoice[] {
    return this.ofAccount(this.invoices, accountId);
  }

  requestsOf(accountId: number): StoredRequest[] {
    return this.ofAccount(this.requests, accountId);
  }

  requestByNumber(id: number): StoredRequest | undefined {
    return this.requests.get(id);
  }

  invoiceByNumber(id: number): StoredInvoice | undefined {
    return this.invoices.get(id);
  }

  paymentsOf(accountId: number): StoredPayment[] {
    return this.ofAccount(this.payments, accountId);
  }

  propertyByNumber(id: number): StoredProperty | undefined {
    return this.properties.get(id);
  }

  propertiesOf(accountId: number): StoredProperty[] {
    return this.ofAccount(this.properties, accountId);
  }

  propertiesOfClient(clientId: number): StoredProperty[] {
    return this.ofClient(this.properties, clientId);
  }

  visitsOf(accountId: number): StoredVisit[] {
    return this.ofAccount(this.visits, accountId);
  }

  visitsOfJob(jobId: number): StoredVisit[] {
    return this.ofJob(this.visits, jobId);
  }

  quotesOf(accountId: number): StoredQuote[] {
    return this.ofAccount(this.quotes, accountId);
  }

  quotesOfClient(clientId: number): StoredQuote[] {
    return this.ofClient(this.quotes, clientId);
  }

  requestsOfClient(clientId: number): StoredRequest[] {
    return this.ofClient(this.requests, clientId);
  }

  jobsOfClient(clientId: number): StoredJob[] {
    return this.ofClient(this.jobs, clientId);
  }

  invoicesOfClient(clientId: number): StoredInvoice[] {
    return this.ofClient(this.invoices, clientId);
  }

  invoicesOfJob(jobId: number): StoredInvoice[] {
    return [...this.invoices.values()].filter((i) => i.jobIds.includes(jobId));
  }

  /** The numeric id of an account EncodedId, or undefined when unknown. */
  accountNumber(accountId: string): number | undefined {
    const id = this.decode('Account', accountId);
    return id !== undefined && this.accounts.has(id) ? id : undefined;
  }

  /** The EncodedId of a record of this type (`gid://Jobber/<type>/<id>`). */
  enc(type: RecordType | 'Application', id: number): string {
    return encodeGlobalId(type, id);
  }

  // ---- views ----------------------------------------------------------------------------------

  accountView(account: StoredAccount): AccountView {
    const user = this.users.get(account.ownerUserId)!;
    return {
      id: this.enc('Account', account.id),
      name: account.name,
      createdAt: account.createdAt,
      user: { id: this.enc('User', user.id), firstName: user.firstName, lastName: user.lastName, email: user.email },
    };
  }

  clientView(c: StoredClient): ClientView {
    return {
      id: this.enc('Client', c.id),
      accountId: this.enc('Account', c.accountId),
      firstName: c.firstName,
      lastName: c.lastName,
      companyName: c.companyName,
      title: c.title,
      name: clientName(c),
      isCompany: c.isCompany,
      isArchived: c.isArchived,
      isLead: c.isLead,
      emails: c.emails.map((e) => ({ ...e, id: this.enc('Email', e.id) })),
      phones: c.phones.map((p) => ({ ...p, id: this.enc('ClientPhoneNumber', p.id) })),
      billingAddress: c.billingAddress && { ...c.billingAddress, street: streetOf(c.billingAddress) },
      jobberWebUri: jobberWebUri('Client', c.id),
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
    };
  }

  jobView(j: StoredJob): JobView {
    return {
      ...j,
      ...this.refs('Job', j),
      jobberWebUri: jobberWebUri('Job', j.id),
    };
  }

  invoiceView(i: StoredInvoice): InvoiceView {
    return {
      ...i,
      ...this.refs('Invoice', i),
      jobIds: i.jobIds.map((id) => this.enc('Job', id)),
      amounts: { ...i.amounts },
      jobberWebUri: jobberWebUri('Invoice', i.id),
    };
  }

  requestView(r: StoredRequest): RequestView {
    return {
      ...r,
      ...this.refs('Request', r),
      jobberWebUri: jobberWebUri('Request', r.id),
    };
  }

  quoteView(q: StoredQuote): QuoteView {
    return {
      ...q,
      ...this.refs('Quote', q),
      requestId: q.requestId === null ? null : this.enc('Request', q.requestId),
      propertyId: q.propertyId === null ? null : this.enc('Property', q.propertyId),
      jobIds: q.jobIds.map((id) => this.enc('Job', id)),
      amounts: { ...q.amounts },
      jobberWebUri: jobberWebUri('Quote', q.id),
    };
  }

  paymentView(p: StoredPayment): PaymentView {
    return {
      ...p,
      id: this.enc('PaymentRecord', p.id),
      accountId: this.enc('Account', p.accountId),
      invoiceId: p.invoiceId === null ? null : this.enc('Invoice', p.invoiceId),
      clientId: this.enc('Client', p.clientId),
      adjustmentType: 'PAYMENT',
    };
  }

  propertyView(p: StoredProperty): PropertyView {
    return {
      ...p,
      ...this.refs('Property', p),
      street: streetOf(p),
      jobberWebUri: jobberWebUri('Property', p.id),
    };
  }

  visitView(v: StoredVisit): VisitView {
    return {
      ...v,
      id: this.enc('Visit', v.id),
      accountId: this.enc('Account', v.accountId),
      jobId: this.enc('Job', v.jobId),
      clientId: this.enc('Client', this.jobs.get(v.jobId)!.clientId),
      invoiceId: v.invoiceId === null ? null : this.enc('Invoice', v.invoiceId),
      propertyId: this.enc('Property', v.propertyId),
      visitStatus: visitStatusOf(v),
      isComplete: v.completedAt !== null,
    };
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** A record's EncodedIds: its own, its account's and its client's. */
  private refs(type: RecordType, r: { id: number; accountId: number; clientId: number }): { id: string; accountId: string; clientId: string } {
    return { id: this.enc(type, r.id), accountId: this.enc('Account', r.accountId), clientId: this.enc('Client', r.clientId) };
  }

  /** Applies a visit's input; its invoice and property must be of the job's client (checked before anything changes). */
  private applyVisit(visit: StoredVisit, parsed: z.infer<typeof visitInputSchema>): void {
    const clientId = this.jobs.get(visit.jobId)!.clientId;
    const propertyId = parsed.propertyId === undefined ? undefined : this.propertyOfClient(parsed.propertyId, clientId);
    const invoice = parsed.invoiceId == null ? undefined : this.requireRecord('Invoice', this.invoices, parsed.invoiceId);
    if (invoice && invoice.clientId !== clientId) throw new SandboxError(400, `invoice ${parsed.invoiceId} is another client's`);
    assignDefined(visit, parsed, { only: ['title', 'instructions', 'startAt', 'endAt', 'completedAt'] });
    if (propertyId !== undefined) visit.propertyId = propertyId;
    if (parsed.invoiceId !== undefined) visit.invoiceId = invoice?.id ?? null;
  }

  /** The number of this property, which must be the client's (400 otherwise). */
  private propertyOfClient(propertyId: string, clientId: number): number {
    const prop = this.requireRecord('Property', this.properties, propertyId);
    if (prop.clientId !== clientId) throw new SandboxError(400, `property ${propertyId} is another client's`);
    return prop.id;
  }

  /** Applies a quote's input: links must be of the quote's client; a status change stamps transitionedAt (and sentAt). */
  private applyQuote(quote: StoredQuote, parsed: z.infer<typeof quoteInputSchema>, at: string): void {
    if (parsed.title !== undefined) quote.title = parsed.title;
    if (parsed.message !== undefined) quote.message = parsed.message;
    if (parsed.requestId !== undefined) {
      const request = parsed.requestId === null ? undefined : this.requireRecord('Request', this.requests, parsed.requestId);
      if (request && request.clientId !== quote.clientId) throw new SandboxError(400, `request ${parsed.requestId} is another client's`);
      quote.requestId = request?.id ?? null;
    }
    if (parsed.propertyId !== undefined) {
      const prop = parsed.propertyId === null ? undefined : this.requireRecord('Property', this.properties, parsed.propertyId);
      if (prop && prop.clientId !== quote.clientId) throw new SandboxError(400, `property ${parsed.propertyId} is another client's`);
      quote.propertyId = prop?.id ?? null;
    }
    if (parsed.jobIds !== undefined) {
      quote.jobIds = parsed.jobIds.map((jobId) => {
        const job = this.requireRecord('Job', this.jobs, jobId);
        if (job.clientId !== quote.clientId) throw new SandboxError(400, `job ${jobId} is another client's`);
        return job.id;
      });
    }
    if (parsed.amounts) {
      const a = { ...quote.amounts, ...Object.fromEntries(Object.entries(parsed.amounts).filter(([, v]) => v !== undefined)) };
      quote.amounts = { ...a, total: round2(a.subtotal + a.taxAmount - a.discountAmount) };
    }
    if (parsed.quoteStatus !== undefined && parsed.quoteStatus !== quote.quoteStatus) {
      quote.quoteStatus = parsed.quoteStatus;
      quote.transitionedAt = at;
      if (parsed.quoteStatus === 'awaiting_response') quote.sentAt = at;
    }
  }

  private next(type: RecordType): number {
    this.seq[type] += 1;
    return this.seq[type];
  }

  private decode(type: RecordType, encodedId: string): number | undefined {
    const gid = typeof encodedId === 'string' ? parseGlobalId(encodedId) : undefined;
    return gid && gid.type === type ? Number(gid.id) : undefined;
  }

  private requireAccount(accountId: string): StoredAccount {
    const account = this.accounts.get(this.decode('Account', accountId) ?? -1);
    if (!account) throw notFound('account', accountId);
    return account;
  }

  /** The record of `type` with this EncodedId (404 when unknown), which must be the account's (400 otherwise). */
  private requireOwnRecord<T extends { accountId: number }>(type: RecordType, map: Map<number, T>, account: StoredAccount, encodedId: string): T {
    const record = this.requireRecord(type, map, encodedId);
    if (record.accountId !== account.id) throw new SandboxError(400, `${type.toLowerCase()} ${encodedId} belongs to another account`);
    return record;
  }

  /** The account's next number (jobNumber, invoiceNumber, quoteNumber) from its counter in `numbers`. */
  private nextNumber(numbers: Map<number, number>, accountId: number): number {
    const n = (numbers.get(accountId) ?? 0) + 1;
    numbers.set(accountId, n);
    return n;
  }

  private requireRecord<T>(type: RecordType, map: Map<number, T>, encodedId: string): T {
    const record = map.get(this.decode(type, encodedId) ?? -1);
    if (!record) throw notFound(type.toLowerCase(), encodedId);
    return record;
  }

  /**
   * Deletes one record: `beforeDelete` may refuse (throw) or unlink other records; then the record goes,
   * with its id in the returned view and its DESTROY webhook (unless `{ webhook: false }`).
   */
  private deleteRecord<T extends { id: number; accountId: number }>(
    type: DeletableType,
    map: Map<number, T>,
    encodedId: string,
    topic: string,
    write: WriteOptions | undefined,
    beforeDelete?: (record: T) => void,
  ): DeletedView {
    const record = this.requireRecord(type, map, encodedId);
    beforeDelete?.(record);
    const { deleted, events, drop } = this.deletion(record.accountId);
    drop(type, map, [record], topic);
    this.emit(write, events);
    return deleted;
  }

  /**
   * A deletion in the account: `drop` removes records in the order given, each with its id in `deleted`
   * (its type's list, created on first use) and its DESTROY event, stamped as it goes, in `events`.
   */
  private deletion(accountId: number): {
    deleted: DeletedView;
    events: ChangeEvent[];
    drop: <T extends { id: number }>(type: DeletableType, map: Map<number, T>, records: T[], topic: string) => void;
  } {
    const deleted: DeletedView = { clients: [], jobs: [], invoices: [] };
    const events: ChangeEvent[] = [];
    const drop = <T extends { id: number }>(type: DeletableType, map: Map<number, T>, records: T[], topic: string): void => {
      for (const record of records) {
        map.delete(record.id);
        (deleted[DELETED_LISTS[type]] ??= []).push(this.enc(type, record.id));
        events.push(this.event(topic, accountId, type, record.id, this.clock.stamp().toISOString()));
      }
    };
    return { deleted, events, drop };
  }

  /** The view of the record of `type` with this EncodedId, or undefined when there is none. */
  private getRecord<T, V>(type: RecordType, map: Map<number, T>, encodedId: string, view: (record: T) => V): V | undefined {
    const record = map.get(this.decode(type, encodedId) ?? -1);
    return record === undefined ? undefined : view(record);
  }

  /** The views of the account's records, in id order (404 for an unknown account). */
  private listRecords<T extends { accountId: number }, V>(map: Map<number, T>, accountId: string, view: (record: T) => V): V[] {
    return this.ofAccount(map, this.requireAccount(accountId).id).map((r) => view(r));
  }

  /** The map's records of the account, in id order (see clientsOf). */
  private ofAccount<T extends { accountId: number }>(map: Map<number, T>, accountId: number): T[] {
    return [...map.values()].filter((r) => r.accountId === accountId);
  }

  private ofClient<T extends { clientId: number }>(map: Map<number, T>, clientId: number): T[] {
    return [...map.values()].filter((r) => r.clientId === clientId);
  }

  private ofJob<T extends { jobId: number }>(map: Map<number, T>, jobId: number): T[] {
    return [...map.values()].filter((r) => r.jobId === jobId);
  }

  private event(topic: string, accountId: number, type: RecordType, id: number, occurredAt: string): ChangeEvent {
    return { topic, accountId: this.enc('Account', accountId), itemId: this.enc(type, id), occurredAt };
  }

  private emit(write: WriteOptions | undefined, events: ChangeEvent[]): void {
    const options = writeOptionsSchema.parse(write ?? {});
    if (options.webhook === false) return;
    for (const listener of this.listeners) listener(events, options.delivery);
  }

  private applyClientContacts(client: StoredClient, parsed: z.infer<typeof clientInputSchema>): void {
    if (parsed.emails) {
      client.emails = parsed.emails.map((e, i) => ({
        id: this.next('Email'),
        address: e.address,
        primary: e.primary ?? i === 0,
        description: e.description ?? 'MAIN',
      }));
    }
    if (parsed.phones) {
      client.phones = parsed.phones.map((p, i) => ({
        id: this.next('ClientPhoneNumber'),
        number: p.number,
        primary: p.primary ?? i === 0,
        description: p.description ?? 'MAIN',
        smsAllowed: p.smsAllowed ?? false,
      }));
    }
    if (parsed.billingAddress === null) client.billingAddress = null;
    else if (parsed.billingAddress) {
      const a = parsed.billingAddress;
      const prev = client.billingAddress;
      client.billingAddress = {
        street1: a.street1 ?? a.street ?? prev?.street1 ?? '',
        street2: a.street2 ?? (a.street !== undefined ? '' : (prev?.street2 ?? '')),
        city: a.city ?? prev?.city ?? '',
        province: a.province ?? prev?.province ?? '',
        postalCode: a.postalCode ?? prev?.postalCode ?? '',
        country: a.country ?? prev?.country ?? '',
      };
    }
  }

  private resolveInvoiceJobs(client: StoredClient, jobIds: string[]): number[] {
    return jobIds.map((encoded) => {
      const job = this.requireRecord('Job', this.jobs, encoded);
      if (job.clientId !== client.id) throw new SandboxError(400, `job ${encoded} belongs to another client`);
      return job.id;
    });
  }

  private applyPayment(
    invoice: StoredInvoice,
    previousStatus: InvoiceStatus | undefined,
    paymentsTotal: number | undefined,
    receivedDate: string | null | undefined,
    at: string,
  ): void {
    if (invoice.invoiceStatus !== 'paid' || previousStatus === 'paid') return;
    if (paymentsTotal === undefined) {
      invoice.amounts.paymentsTotal = invoice.amounts.total;
      invoice.amounts.invoiceBalance = 0;
    }
    if (receivedDate === undefined) invoice.receivedDate = at;
  }
}

/**
 * Copies the values `parsed` defines onto `record` (only the keys in `only`, when given); the `cents`
 * key is rounded to cents. Each schema's keys are the record's fields of the same name.
 */
function assignDefined(record: object, parsed: Record<string, unknown>, options: { only?: readonly string[]; cents?: string } = {}): void {
  for (const [key, value] of Object.entries(parsed)) {
    if (value === undefined || (options.only && !options.only.includes(key))) continue;
    Object.assign(record, { [key]: key === options.cents ? round2(value as number) : value });
  }
}

function clientName(c: StoredClient): string {
  return c.isCompany && c.companyName ? c.companyName : `${c.firstName} ${c.lastName}`.trim();
}

export function streetOf(a: StoredAddress): string {
  return [a.street1, a.street2].filter(Boolean).join(' ');
}

type AmountsInput = NonNullable<z.infer<typeof invoiceInputSchema>['amounts']>;

/** Jobber's arithmetic, simplified: total = subtotal + tax - discount; balance = total - payments. */
function computeAmounts(prev: StoredAmounts | undefined, input: AmountsInput): StoredAmounts {
  const taxAmount = input.taxAmount ?? prev?.taxAmount ?? 0;
  const discountAmount = input.discountAmount ?? prev?.discountAmount ?? 0;
  let subtotal = input.subtotal ?? prev?.subtotal;
  let total = input.total;
  if (subtotal === undefined) subtotal = total !== undefined ? total - taxAmount + discountAmount : 0;
  if (total === undefined) total = subtotal + taxAmount - discountAmount;
  const paymentsTotal = input.paymentsTotal ?? prev?.paymentsTotal ?? 0;
  return {
    subtotal: round2(subtotal),
    taxAmount: round2(taxAmount),
    discountAmount: round2(discountAmount),
    depositAmount: round2(input.depositAmount ?? prev?.depositAmount ?? 0),
    tipsTotal: round2(input.tipsTotal ?? prev?.tipsTotal ?? 0),
    nonTaxAmount: 0,
    total: round2(total),
    paymentsTotal: round2(paymentsTotal),
    invoiceBalance: round2(total - paymentsTotal),
  };
}
