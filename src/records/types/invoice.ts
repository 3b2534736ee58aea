import { Schema } from 'mongoose';
import { date, recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

/** An invoice names at most this many jobs in one fetch; more is a data error we log. */
export const INVOICE_JOBS_PAGE = 20;

export interface JobberInvoiceRecord {
  id: string;
  invoiceNumber: string;
  invoiceStatus: string;
  subject: string;
  issuedDate: string | null;
  dueDate: string | null;
  receivedDate: string | null;
  amounts: { total: number; subtotal: number; invoiceBalance: number; paymentsTotal: number } | null;
  client: { id: string; name: string } | null;
  jobs: { nodes: { id: string }[] };
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export const INVOICE_FIELDS = /* GraphQL */ `
  fragment InvoiceFields on Invoice {
    id
    invoiceNumber
    invoiceStatus
    subject
    issuedDate
    dueDate
    receivedDate
    amounts { total subtotal invoiceBalance paymentsTotal }
    client { id name }
    jobs(first: ${INVOICE_JOBS_PAGE}) { nodes { id } }
    jobberWebUri
    createdAt
    updatedAt
  }
`;

export const INVOICE_QUERY = /* GraphQL */ `
  query Invoice($id: EncodedId!) {
    invoice(id: $id) {
      ...InvoiceFields
    }
  }
  ${INVOICE_FIELDS}
`;

export const INVOICES_PAGE_QUERY = /* GraphQL */ `
  query Invoices($first: Int!, $after: String, $filter: InvoiceFilterAttributes) {
    invoices(first: $first, after: $after, filter: $filter) {
      nodes {
        ...InvoiceFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${INVOICE_FIELDS}
`;

const invoiceSchema = new Schema(
  {
    ...recordFields,
    invoiceNumber: String,
    invoiceStatus: String,
    subject: String,
    issuedDate: Date,
    dueDate: Date,
    receivedDate: Date,
    total: Number,
    subtotal: Number,
    invoiceBalance: Number,
    paymentsTotal: Number,
    clientId: { type: String, index: true },
    clientName: String,
    jobIds: [String],
  },
  { versionKey: false, collection: 'invoices' },
);

export const invoiceModel = recordModel('Invoice', invoiceSchema);

export const invoice = defineRecordType({
  kind: 'invoice',
  label: { one: 'invoice', many: 'invoices' },
  query: { field: 'invoice', name: 'INVOICE_QUERY', document: INVOICE_QUERY },
  page: { field: 'invoices', name: 'INVOICES_PAGE_QUERY', document: INVOICES_PAGE_QUERY },
  pageFilterByUpdatedAt: true,
  model: invoiceModel,
  toDocument: (i: JobberInvoiceRecord) => ({
    invoiceNumber: i.invoiceNumber,
    invoiceStatus: i.invoiceStatus,
    subject: i.subject,
    issuedDate: date(i.issuedDate),
    dueDate: date(i.dueDate),
    receivedDate: date(i.receivedDate),
    total: i.amounts?.total,
    subtotal: i.amounts?.subtotal,
    invoiceBalance: i.amounts?.invoiceBalance,
    paymentsTotal: i.amounts?.paymentsTotal,
    clientId: i.client?.id,
    clientName: i.client?.name,
    jobIds: i.jobs.nodes.map((n) => n.id),
  }),
  links: { clientId: 'client', jobIds: 'job' },
  facts: [
    {
      // Whatever the topic: any fetch that finds it paid reports it (the alert key makes it once).
      name: 'invoice-paid',
      summary: '{item} paid',
      due: (_action, i) => i.invoiceStatus === 'paid',
      message: ({ models, alerts }, itemId) => alerts.alertMessageFor(models, 'invoice-paid', itemId),
    },
  ],
  ask: { summary: (doc) => `#${String(doc.invoiceNumber ?? '?')} ${String(doc.subject ?? '')}`.trim() },
});
