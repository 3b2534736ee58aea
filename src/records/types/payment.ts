import { Schema } from 'mongoose';
import { date, recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

/**
 * Jobber's `paymentRecord` (the interface PaymentRecordInterface, one type per payment method):
 * topics PAYMENT_CREATE / UPDATE / DESTROY, kind `payment`. No `updatedAt` in the 2023 schema:
 * its copies are ordered by when their fetch started.
 */
export interface JobberPaymentRecord {
  __typename: string;
  id: string;
  amount: number;
  entryDate: string;
  paymentType: string | null;
  adjustmentType: string;
  details: string | null;
  client: { id: string; name: string } | null;
  invoice: { id: string; invoiceNumber: string } | null;
}

export const PAYMENT_FIELDS = /* GraphQL */ `
  fragment PaymentFields on PaymentRecordInterface {
    __typename
    id
    amount
    entryDate
    paymentType
    adjustmentType
    details
    client {
      id
      name
    }
    invoice {
      id
      invoiceNumber
    }
  }
`;

export const PAYMENT_QUERY = /* GraphQL */ `
  query PaymentRecord($id: EncodedId!) {
    paymentRecord(id: $id) {
      ...PaymentFields
    }
  }
  ${PAYMENT_FIELDS}
`;

export const PAYMENTS_PAGE_QUERY = /* GraphQL */ `
  query PaymentRecords($first: Int!, $after: String) {
    paymentRecords(first: $first, after: $after) {
      nodes {
        ...PaymentFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${PAYMENT_FIELDS}
`;

const paymentSchema = new Schema(
  {
    ...recordFields,
    /** Jobber's type of the record (CashPaymentRecord, …): the method as Jobber names it. */
    recordType: String,
    amount: Number,
    entryDate: Date,
    paymentType: String,
    adjustmentType: String,
    details: String,
    clientId: { type: String, index: true },
    clientName: String,
    invoiceId: { type: String, index: true },
    invoiceNumber: String,
  },
  { versionKey: false, collection: 'payments' },
);
// `/jobber payments recent` (src/slack/commands/payments.ts): newest entry first, and the sum since a date.
paymentSchema.index({ accountId: 1, deletedAt: 1, entryDate: -1, _id: 1 });

export const paymentModel = recordModel('Payment', paymentSchema);

/** How it was paid, as Jobber says: its payment type, else its record type without the suffix. */
function paymentMethod(p: { paymentType?: string | null; recordType?: string | null }): string {
  if (p.paymentType) return p.paymentType.replace(/_/g, ' ').toLowerCase();
  return p.recordType ? p.recordType.replace(/PaymentRecord$/, '').replace(/([a-z])([A-Z])/g, '$1 $2') || 'unknown' : 'unknown';
}

export const payment = defineRecordType({
  kind: 'payment',
  label: { one: 'payment', many: 'payments' },
  query: { field: 'paymentRecord', name: 'PAYMENT_QUERY', document: PAYMENT_QUERY },
  page: { field: 'paymentRecords', name: 'PAYMENTS_PAGE_QUERY', document: PAYMENTS_PAGE_QUERY },
  // PaymentRecordFilterAttributes has no updatedAt: a reconciliation pages through all of them.
  pageFilterByUpdatedAt: false,
  orderedBy: 'fetchedAt',
  model: paymentModel,
  toDocument: (p: JobberPaymentRecord) => ({
    recordType: p.__typename,
    amount: p.amount,
    entryDate: date(p.entryDate),
    paymentType: p.paymentType ?? undefined,
    adjustmentType: p.adjustmentType,
    details: p.details ?? undefined,
    clientId: p.client?.id,
    clientName: p.client?.name,
    invoiceId: p.invoice?.id,
    invoiceNumber: p.invoice?.invoiceNumber,
  }),
  links: { clientId: 'client', invoiceId: 'invoice' },
  facts: [
    {
      name: 'payment-received',
      summary: '{item} received',
      due: (action) => action === 'CREATE',
      message: async ({ models, alerts }, itemId) => {
        const p = await models.Payment.findById(itemId).lean();
        if (!p) return undefined;
        const client = p.clientId ? await models.Client.findById(p.clientId).lean() : null;
        // A payment record has no page of its own in Jobber: the alert opens its invoice.
        const invoice = p.invoiceId ? await models.Invoice.findById(p.invoiceId, { jobberWebUri: 1 }).lean() : null;
        const message = alerts.alertMessage(
          `Payment received: ${alerts.money(p.amount)}`,
          [
            ['Amount', alerts.money(p.amount)],
            ['Method', paymentMethod(p)],
            ['Invoice', p.invoiceNumber ? `#${p.invoiceNumber}` : 'none'],
            ['Client', alerts.clientName(client, p.clientName)],
          ],
          invoice?.jobberWebUri ?? undefined,
          alerts.alertKey('payment-received', itemId),
        );
        return { message, record: p };
      },
    },
  ],
  ask: { summary: (doc) => `${String(doc.amount ?? '?')} for invoice #${String(doc.invoiceNumber ?? '?')}` },
});
