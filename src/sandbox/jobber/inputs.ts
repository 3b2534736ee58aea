import { z } from 'zod';

/** Values of Jobber's JobStatusTypeEnum (schema 2023-01). */
export const JOB_STATUSES = ['requires_invoicing', 'archived', 'late', 'today', 'upcoming', 'action_required', 'on_hold', 'unscheduled', 'active'] as const;
/** Values of Jobber's InvoiceStatusTypeEnum. */
export const INVOICE_STATUSES = ['draft', 'awaiting_payment', 'paid', 'past_due', 'bad_debt'] as const;
/** Values of Jobber's JobTypeTypeEnum. */
export const JOB_TYPES = ['ONE_OFF', 'RECURRING'] as const;

/** Values of Jobber's RequestStatusTypeEnum. */
export const REQUEST_STATUSES = ['new', 'completed', 'converted', 'archived', 'upcoming', 'overdue', 'unscheduled', 'assessment_completed', 'today'] as const;

/** Values of Jobber's QuoteStatusTypeEnum. */
export const QUOTE_STATUSES = ['draft', 'awaiting_response', 'archived', 'approved', 'converted', 'changes_requested'] as const;

/** Values of Jobber's VisitStatusTypeEnum. */
export const VISIT_STATUSES = ['ACTIVE', 'COMPLETED', 'LATE', 'TODAY', 'UNSCHEDULED', 'UPCOMING'] as const;

/** The payment methods the sandbox records, with Jobber's PaymentType values. */
export const PAYMENT_TYPES = ['CASH', 'CHEQUE', 'CREDIT_CARD', 'BANK_TRANSFER', 'MONEY_ORDER', 'OTHER'] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];
export type PaymentType = (typeof PAYMENT_TYPES)[number];
export type VisitStatus = (typeof VISIT_STATUSES)[number];
export type QuoteStatus = (typeof QUOTE_STATUSES)[number];
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];
export type JobType = (typeof JOB_TYPES)[number];

/** Any date-time Date.parse understands, normalised to an ISO 8601 string in UTC. */
export const isoDateTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO 8601 date-time' })
  .transform((s) => new Date(s).toISOString());

const money = z.number().finite();

export const deliveryOptionsSchema = z
  .object({
    /** Extra identical copies of the webhook (at-least-once delivery). */
    duplicates: z.number().int().min(0).max(20).optional(),
    /** Wait this long before the first attempt. */
    delayMs: z.number().int().min(0).max(600_000).optional(),
    encoding: z.enum(['json', 'form']).optional(),
    timestampField: z.enum(['occurredAt', 'occuredAt']).optional(),
    /** Store signed, do not send; release with POST /admin/webhooks/release. */
    hold: z.boolean().optional(),
  })
  .strict();
export type DeliveryOptions = z.infer<typeof deliveryOptionsSchema>;

/** What every write accepts besides the record's fields. */
export const writeOptionsSchema = z.object({
  webhook: z.boolean().optional(),
  delivery: deliveryOptionsSchema.optional(),
});
export type WriteOptions = z.infer<typeof writeOptionsSchema>;

const addressSchema = z
  .object({
    street: z.string().optional(),
    street1: z.string().optional(),
    street2: z.string().optional(),
    city: z.string().optional(),
    province: z.string().optional(),
    postalCode: z.string().optional(),
    country: z.string().optional(),
  })
  .strict();
export type AddressInput = z.infer<typeof addressSchema>;

export const clientInputSchema = z
  .object({
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    companyName: z.string().nullable().optional(),
    title: z.string().nullable().optional(),
    isCompany: z.boolean().optional(),
    isArchived: z.boolean().optional(),
    isLead: z.boolean().optional(),
    emails: z.array(z.object({ address: z.string(), primary: z.boolean().optional(), description: z.string().optional() }).strict()).optional(),
    phones: z
      .array(
        z
          .object({
            number: z.string(),
            primary: z.boolean().optional(),
            description: z.string().optional(),
            smsAllowed: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    billingAddress: addressSchema.nullable().optional(),
  })
  .strict();
export type ClientInput = z.infer<typeof clientInputSchema>;

export const jobInputSchema = z
  .object({
    title: z.string().nullable().optional(),
    instructions: z.string().nullable().optional(),
    jobStatus: z.enum(JOB_STATUSES).optional(),
    jobType: z.enum(JOB_TYPES).optional(),
    total: money.optional(),
    startAt: isoDateTime.nullable().optional(),
    endAt: isoDateTime.nullable().optional(),
    completedAt: isoDateTime.nullable().optional(),
  })
  .strict();
export type JobInput = z.infer<typeof jobInputSchema>;
export const jobCreateSchema = jobInputSchema.extend({ clientId: z.string() });
export type JobCreateInput = z.infer<typeof jobCreateSchema>;

export const invoiceInputSchema = z
  .object({
    subject: z.string().optional(),
    message: z.string().nullable().optional(),
    invoiceStatus: z.enum(INVOICE_STATUSES).optional(),
    issuedDate: isoDateTime.nullable().optional(),
    dueDate: isoDateTime.nullable().optional(),
    receivedDate: isoDateTime.nullable().optional(),
    jobIds: z.array(z.string()).optional(),
    amounts: z
      .object({
        subtotal: money.optional(),
        taxAmount: money.optional(),
        discountAmount: money.optional(),
        depositAmount: money.optional(),
        tipsTotal: money.optional(),
        total: money.optional(),
        paymentsTotal: money.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type InvoiceInput = z.infer<typeof invoiceInputSchema>;
export const invoiceCreateSchema = invoiceInputSchema.extend({ clientId: z.string() });
export type InvoiceCreateInput = z.infer<typeof invoiceCreateSchema>;

export const requestInputSchema = z
  .object({
    title: z.string().nullable().optional(),
    requestStatus: z.enum(REQUEST_STATUSES).optional(),
    contactName: z.string().nullable().optional(),
    companyName: z.string().nullable().optional(),
    email: z.string().nullable().optional(),
    phone: z.string().nullable().optional(),
    source: z.string().optional(),
  })
  .strict();
export type RequestInput = z.infer<typeof requestInputSchema>;
export const requestCreateSchema = requestInputSchema.extend({ clientId: z.string() });

export const quoteInputSchema = z
  .object({
    title: z.string().nullable().optional(),
    message: z.string().nullable().optional(),
    /** Moving to `awaiting_response` sends QUOTE_SENT, to `approved` QUOTE_APPROVED, instead of QUOTE_UPDATE. */
    quoteStatus: z.enum(QUOTE_STATUSES).optional(),
    requestId: z.string().nullable().optional(),
    propertyId: z.string().nullable().optional(),
    jobIds: z.array(z.string()).optional(),
    amounts: z.object({ subtotal: money.optional(), taxAmount: money.optional(), discountAmount: money.optional() }).strict().optional(),
  })
  .strict();
export const quoteCreateSchema = quoteInputSchema.extend({ clientId: z.string() });

export const visitInputSchema = z
  .object({
    title: z.string().nullable().optional(),
    instructions: z.string().nullable().optional(),
    startAt: isoDateTime.nullable().optional(),
    endAt: isoDateTime.nullable().optional(),
    /** Setting it on an incomplete visit completes it (VISIT_COMPLETE instead of VISIT_UPDATE). */
    completedAt: isoDateTime.nullable().optional(),
    invoiceId: z.string().nullable().optional(),
    /** Where it happens: a property of the job's client (Jobber's Visit.property is non-null). */
    propertyId: z.string().optional(),
  })
  .strict();
export const visitCreateSchema = visitInputSchema.extend({ jobId: z.string() });

/** A property's address fields are a billing address's, without the `street` shorthand. */
export const propertyInputSchema = addressSchema.omit({ street: true }).extend({ isBillingAddress: z.boolean().optional() }).strict();
export const propertyCreateSchema = propertyInputSchema.extend({ clientId: z.string() });

export const paymentInputSchema = z
  .object({
    amount: money.optional(),
    paymentType: z.enum(PAYMENT_TYPES).optional(),
    details: z.string().nullable().optional(),
    entryDate: isoDateTime.optional(),
  })
  .strict();
export const paymentCreateSchema = paymentInputSchema.extend({ invoiceId: z.string(), amount: money });

export const accountInputSchema = z
  .object({
    name: z.string().min(1).optional(),
    user: z.object({ firstName: z.string().optional(), lastName: z.string().optional(), email: z.string().optional() }).strict().optional(),
  })
  .strict();
export type AccountInput = z.infer<typeof accountInputSchema>;

export const seedSchema = z
  .object({
    clients: z.number().int().min(0).max(20_000),
    jobsPerClient: z.number().int().min(0).max(50).default(0),
    invoicesPerJob: z.number().int().min(0).max(20).default(0),
    requestsPerClient: z.number().int().min(0).max(20).default(0),
    quotesPerClient: z.number().int().min(0).max(20).default(0),
    visitsPerJob: z.number().int().min(0).max(20).default(0),
    propertiesPerClient: z.number().int().min(0).max(20).default(0),
    paymentsPerInvoice: z.number().int().min(0).max(20).default(0),
  })
  .strict()
  // Jobber's Visit.property is non-null: a seeded visit takes its client's first property.
  .refine((s) => s.visitsPerJob === 0 || s.jobsPerClient === 0 || s.propertiesPerClient > 0, {
    message: "visitsPerJob needs propertiesPerClient of at least 1: a visit happens at one of its client's properties",
    path: ['propertiesPerClient'],
  });
export type SeedInput = z.input<typeof seedSchema>;
