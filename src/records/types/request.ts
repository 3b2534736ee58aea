import { Schema } from 'mongoose';
import { recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

/** A request (a lead): Jobber's `request`, topics REQUEST_CREATE / UPDATE / DESTROY. */
export interface JobberRequestRecord {
  id: string;
  title: string | null;
  requestStatus: string;
  contactName: string | null;
  companyName: string | null;
  email: string | null;
  phone: string | null;
  source: string;
  client: { id: string; name: string };
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export const REQUEST_FIELDS = /* GraphQL */ `
  fragment RequestFields on Request {
    id
    title
    requestStatus
    contactName
    companyName
    email
    phone
    source
    client {
      id
      name
    }
    jobberWebUri
    createdAt
    updatedAt
  }
`;

export const REQUEST_QUERY = /* GraphQL */ `
  query Request($id: EncodedId!) {
    request(id: $id) {
      ...RequestFields
    }
  }
  ${REQUEST_FIELDS}
`;

export const REQUESTS_PAGE_QUERY = /* GraphQL */ `
  query Requests($first: Int!, $after: String, $filter: RequestFilterAttributes) {
    requests(first: $first, after: $after, filter: $filter) {
      nodes {
        ...RequestFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${REQUEST_FIELDS}
`;

const requestSchema = new Schema(
  {
    ...recordFields,
    title: String,
    requestStatus: String,
    contactName: String,
    companyName: String,
    email: String,
    phone: String,
    source: String,
    clientId: { type: String, index: true },
    /** As Jobber named the client when the request was fetched. */
    clientName: String,
  },
  { versionKey: false, collection: 'requests' },
);
// `/jobber requests new` and `requests all` (src/slack/commands/requests.ts): newest first.
requestSchema.index({ accountId: 1, deletedAt: 1, requestStatus: 1, createdAt: -1, _id: 1 });
requestSchema.index({ accountId: 1, deletedAt: 1, createdAt: -1, _id: 1 });

export const requestModel = recordModel('Request', requestSchema);

export const request = defineRecordType({
  kind: 'request',
  label: { one: 'request', many: 'requests' },
  query: { field: 'request', name: 'REQUEST_QUERY', document: REQUEST_QUERY },
  page: { field: 'requests', name: 'REQUESTS_PAGE_QUERY', document: REQUESTS_PAGE_QUERY },
  pageFilterByUpdatedAt: true,
  model: requestModel,
  toDocument: (r: JobberRequestRecord) => ({
    title: r.title ?? undefined,
    requestStatus: r.requestStatus,
    contactName: r.contactName ?? undefined,
    companyName: r.companyName ?? undefined,
    email: r.email ?? undefined,
    phone: r.phone ?? undefined,
    source: r.source,
    clientId: r.client.id,
    clientName: r.client.name,
  }),
  links: { clientId: 'client' },
  // Declared without a message builder: it posts once the alert rules give it one (see FactDeclaration).
  facts: [
    {
      name: 'request-created',
      summary: 'new {item}',
      due: (action) => action === 'CREATE',
      message: async ({ models, alerts }, itemId) => {
        const r = await models.Request.findById(itemId).lean();
        if (!r) return undefined;
        const client = r.clientId ? await models.Client.findById(r.clientId).lean() : null;
        const message = alerts.alertMessage(
          `New request: ${r.title || 'Untitled'}`,
          [
            ['Client', alerts.clientName(client, r.clientName ?? r.companyName ?? r.contactName)],
            ['Source', r.source || 'unknown'],
          ],
          r.jobberWebUri ?? undefined,
          alerts.alertKey('request-created', itemId),
        );
        return { message, record: r };
      },
    },
  ],
  ask: { summary: (doc) => String(doc.title || doc.contactName || doc._id) },
});
