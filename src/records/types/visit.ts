import { Schema } from 'mongoose';
import { date, recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

/**
 * Jobber's `visit`: topics VISIT_CREATE / UPDATE / DESTROY, and VISIT_COMPLETE (not in the 2023
 * enum). A visit has no `updatedAt`: its copies are ordered by when their fetch started.
 */
export interface JobberVisitRecord {
  id: string;
  title: string | null;
  visitStatus: string;
  startAt: string | null;
  endAt: string | null;
  completedAt: string | null;
  isComplete: boolean;
  job: { id: string; jobNumber: number };
  client: { id: string; name: string };
  invoice: { id: string } | null;
  /** Where the visit happens (non-null in Jobber's schema). */
  property: { id: string } | null;
  createdAt: string;
}

export const VISIT_FIELDS = /* GraphQL */ `
  fragment VisitFields on Visit {
    id
    title
    visitStatus
    startAt
    endAt
    completedAt
    isComplete
    job {
      id
      jobNumber
    }
    client {
      id
      name
    }
    invoice {
      id
    }
    property {
      id
    }
    createdAt
  }
`;

export const VISIT_QUERY = /* GraphQL */ `
  query Visit($id: EncodedId!) {
    visit(id: $id) {
      ...VisitFields
    }
  }
  ${VISIT_FIELDS}
`;

export const VISITS_PAGE_QUERY = /* GraphQL */ `
  query Visits($first: Int!, $after: String) {
    visits(first: $first, after: $after) {
      nodes {
        ...VisitFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${VISIT_FIELDS}
`;

const visitSchema = new Schema(
  {
    ...recordFields,
    title: String,
    visitStatus: String,
    startAt: { type: Date, index: true },
    endAt: Date,
    completedAt: Date,
    isComplete: Boolean,
    jobId: { type: String, index: true },
    jobNumber: Number,
    clientId: { type: String, index: true },
    clientName: String,
    invoiceId: String,
    propertyId: { type: String, index: true },
  },
  { versionKey: false, collection: 'visits' },
);
// `/jobber visits today|tomorrow|week` (src/slack/commands/visits.ts): the account's live visits by start time.
visitSchema.index({ accountId: 1, deletedAt: 1, startAt: 1, _id: 1 });
// `/jobber client <name>`: a client's upcoming visits.
visitSchema.index({ clientId: 1, deletedAt: 1, startAt: 1 });

export const visitModel = recordModel('Visit', visitSchema);

export const visit = defineRecordType({
  kind: 'visit',
  label: { one: 'visit', many: 'visits' },
  query: { field: 'visit', name: 'VISIT_QUERY', document: VISIT_QUERY },
  page: { field: 'visits', name: 'VISITS_PAGE_QUERY', document: VISITS_PAGE_QUERY },
  // Visits have no updatedAt filter (VisitFilterAttributes): a reconciliation pages through all.
  pageFilterByUpdatedAt: false,
  orderedBy: 'fetchedAt',
  model: visitModel,
  toDocument: (v: JobberVisitRecord) => ({
    title: v.title ?? undefined,
    visitStatus: v.visitStatus,
    startAt: date(v.startAt),
    endAt: date(v.endAt),
    completedAt: date(v.completedAt),
    isComplete: v.isComplete,
    jobId: v.job.id,
    jobNumber: v.job.jobNumber,
    clientId: v.client.id,
    clientName: v.client.name,
    invoiceId: v.invoice?.id,
    propertyId: v.property?.id,
  }),
  links: { jobId: 'job', clientId: 'client', invoiceId: 'invoice', propertyId: 'property' },
  facts: [
    {
      name: 'visit-completed',
      summary: '{item} completed',
      due: (action, v) => action === 'COMPLETE' || v.isComplete,
      message: async ({ models, alerts }, itemId) => {
        const v = await models.Visit.findById(itemId).lean();
        if (!v) return undefined;
        const client = v.clientId ? await models.Client.findById(v.clientId).lean() : null;
        // A visit has no page of its own in Jobber's API: the alert opens its job.
        const job = v.jobId ? await models.Job.findById(v.jobId, { jobberWebUri: 1 }).lean() : null;
        const message = alerts.alertMessage(
          `Visit completed: ${v.title || 'Untitled'} (job #${v.jobNumber ?? '?'})`,
          [
            ['Client', alerts.clientName(client, v.clientName)],
            ['Completed', v.completedAt ? v.completedAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'unknown'],
          ],
          job?.jobberWebUri ?? undefined,
          alerts.alertKey('visit-completed', itemId),
        );
        return { message, record: v };
      },
    },
  ],
  ask: { summary: (doc) => `${String(doc.title ?? 'Visit')} (job #${String(doc.jobNumber ?? '?')})` },
});
