import { Schema } from 'mongoose';
import { date, recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

export interface JobberJobRecord {
  id: string;
  jobNumber: number;
  title: string | null;
  jobStatus: string;
  total: number;
  startAt: string | null;
  endAt: string | null;
  completedAt: string | null;
  client: { id: string; name: string };
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export const JOB_FIELDS = /* GraphQL */ `
  fragment JobFields on Job {
    id
    jobNumber
    title
    jobStatus
    total
    startAt
    endAt
    completedAt
    client {
      id
      name
    }
    jobberWebUri
    createdAt
    updatedAt
  }
`;

export const JOB_QUERY = /* GraphQL */ `
  query Job($id: EncodedId!) {
    job(id: $id) {
      ...JobFields
    }
  }
  ${JOB_FIELDS}
`;

export const JOBS_PAGE_QUERY = /* GraphQL */ `
  query Jobs($first: Int!, $after: String) {
    jobs(first: $first, after: $after) {
      nodes {
        ...JobFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${JOB_FIELDS}
`;

const jobSchema = new Schema(
  {
    ...recordFields,
    jobNumber: Number,
    title: String,
    jobStatus: String,
    total: Number,
    startAt: Date,
    endAt: Date,
    completedAt: Date,
    clientId: { type: String, index: true },
    /** As Jobber named the client when the job was fetched: alerts need it before the client syncs. */
    clientName: String,
  },
  { versionKey: false, collection: 'jobs' },
);

export const jobModel = recordModel('Job', jobSchema);

export const job = defineRecordType({
  kind: 'job',
  label: { one: 'job', many: 'jobs' },
  query: { field: 'job', name: 'JOB_QUERY', document: JOB_QUERY },
  page: { field: 'jobs', name: 'JOBS_PAGE_QUERY', document: JOBS_PAGE_QUERY },
  // Jobber's jobs query has no updatedAt filter: a reconciliation pages through all of them and
  // the ordered upsert skips what is unchanged.
  pageFilterByUpdatedAt: false,
  model: jobModel,
  toDocument: (j: JobberJobRecord) => ({
    jobNumber: j.jobNumber,
    title: j.title ?? undefined,
    jobStatus: j.jobStatus,
    total: j.total,
    startAt: date(j.startAt),
    endAt: date(j.endAt),
    completedAt: date(j.completedAt),
    clientId: j.client.id,
    clientName: j.client.name,
  }),
  links: { clientId: 'client' },
  facts: [
    {
      name: 'job-created',
      summary: 'new {item}',
      due: (action) => action === 'CREATE',
      message: ({ models, alerts }, itemId) => alerts.alertMessageFor(models, 'job-created', itemId),
    },
    // JOB_CLOSED (not in the 2023 enum) refreshes the job like JOB_UPDATE.
    {
      name: 'job-closed',
      summary: '{item} closed',
      due: (action) => action === 'CLOSED',
      message: async ({ models, alerts }, itemId) => {
        const job = await models.Job.findById(itemId).lean();
        if (!job) return undefined;
        const client = job.clientId ? await models.Client.findById(job.clientId).lean() : null;
        const message = alerts.alertMessage(
          `Job #${job.jobNumber ?? '?'} closed: ${job.title || 'Untitled'}`,
          [
            ['Client', alerts.clientName(client, job.clientName)],
            ['Total', alerts.money(job.total)],
          ],
          job.jobberWebUri ?? undefined,
          alerts.alertKey('job-closed', itemId),
        );
        return { message, record: job };
      },
    },
  ],
  ask: { summary: (doc) => `#${String(doc.jobNumber ?? '?')} ${String(doc.title ?? 'Untitled')}` },
});
