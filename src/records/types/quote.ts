import { Schema } from 'mongoose';
import { date, recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

/** A quote names at most this many jobs (those it was converted to) in one fetch. */
export const QUOTE_JOBS_PAGE = 10;

/** Jobber's `quote`: topics QUOTE_CREATE / UPDATE / DESTROY, and QUOTE_SENT, QUOTE_APPROVED (not in the 2023 enum). */
export interface JobberQuoteRecord {
  id: string;
  quoteNumber: string;
  quoteStatus: string;
  title: string | null;
  amounts: { subtotal: number; total: number };
  client: { id: string; name: string } | null;
  request: { id: string } | null;
  property: { id: string } | null;
  jobs: { nodes: { id: string }[] } | null;
  sentAt: string | null;
  transitionedAt: string;
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export const QUOTE_FIELDS = /* GraphQL */ `
  fragment QuoteFields on Quote {
    id
    quoteNumber
    quoteStatus
    title
    amounts {
      subtotal
      total
    }
    client {
      id
      name
    }
    request {
      id
    }
    property {
      id
    }
    jobs(first: ${QUOTE_JOBS_PAGE}) {
      nodes {
        id
      }
    }
    sentAt
    transitionedAt
    jobberWebUri
    createdAt
    updatedAt
  }
`;

export const QUOTE_QUERY = /* GraphQL */ `
  query Quote($id: EncodedId!) {
    quote(id: $id) {
      ...QuoteFields
    }
  }
  ${QUOTE_FIELDS}
`;

export const QUOTES_PAGE_QUERY = /* GraphQL */ `
  query Quotes($first: Int!, $after: String, $filter: QuoteFilterAttributes) {
    quotes(first: $first, after: $after, filter: $filter) {
      nodes {
        ...QuoteFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${QUOTE_FIELDS}
`;

const quoteSchema = new Schema(
  {
    ...recordFields,
    quoteNumber: String,
    quoteStatus: String,
    title: String,
    subtotal: Number,
    total: Number,
    sentAt: Date,
    transitionedAt: Date,
    clientId: { type: String, index: true },
    clientName: String,
    requestId: { type: String, index: true },
    propertyId: { type: String, index: true },
    jobIds: [String],
  },
  { versionKey: false, collection: 'quotes' },
);
// `/jobber quotes pending` (oldest sent first) and `quotes approved` (newest approval first).
quoteSchema.index({ accountId: 1, deletedAt: 1, quoteStatus: 1, sentAt: 1, _id: 1 });
quoteSchema.index({ accountId: 1, deletedAt: 1, quoteStatus: 1, transitionedAt: -1, _id: 1 });

export const quoteModel = recordModel('Quote', quoteSchema);

export const quote = defineRecordType({
  kind: 'quote',
  label: { one: 'quote', many: 'quotes' },
  query: { field: 'quote', name: 'QUOTE_QUERY', document: QUOTE_QUERY },
  page: { field: 'quotes', name: 'QUOTES_PAGE_QUERY', document: QUOTES_PAGE_QUERY },
  pageFilterByUpdatedAt: true,
  model: quoteModel,
  toDocument: (q: JobberQuoteRecord) => ({
    quoteNumber: q.quoteNumber,
    quoteStatus: q.quoteStatus,
    title: q.title ?? undefined,
    subtotal: q.amounts.subtotal,
    total: q.amounts.total,
    sentAt: date(q.sentAt),
    transitionedAt: date(q.transitionedAt),
    clientId: q.client?.id,
    clientName: q.client?.name,
    requestId: q.request?.id,
    propertyId: q.property?.id,
    jobIds: q.jobs?.nodes.map((n) => n.id) ?? [],
  }),
  links: { clientId: 'client', requestId: 'request', propertyId: 'property', jobIds: 'job' },
  facts: [
    {
      // Any fetch that finds it approved reports it (the alert key makes it once per quote).
      name: 'quote-approved',
      summary: '{item} approved',
      due: (action, q) => action === 'APPROVED' || q.quoteStatus === 'approved',
      message: async ({ models, alerts }, itemId) => {
        const q = await models.Quote.findById(itemId).lean();
        if (!q) return undefined;
        const client = q.clientId ? await models.Client.findById(q.clientId).lean() : null;
        const message = alerts.alertMessage(
          `Quote #${q.quoteNumber ?? '?'} approved${q.title ? `: ${q.title}` : ''}`,
          [
            ['Client', alerts.clientName(client, q.clientName)],
            ['Total', alerts.money(q.total)],
          ],
          q.jobberWebUri ?? undefined,
          alerts.alertKey('quote-approved', itemId),
        );
        return { message, record: q };
      },
    },
  ],
  ask: { summary: (doc) => `#${String(doc.quoteNumber ?? '?')} ${String(doc.title ?? '')}`.trim() },
});
