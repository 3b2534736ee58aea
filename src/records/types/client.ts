import { Schema } from 'mongoose';
import { addressSchema, recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

export interface JobberClientRecord {
  id: string;
  firstName: string;
  lastName: string;
  companyName: string | null;
  isCompany: boolean;
  isArchived: boolean;
  isLead: boolean;
  emails: { address: string; primary: boolean }[];
  phones: { number: string; primary: boolean }[];
  billingAddress: {
    street: string | null;
    city: string | null;
    province: string | null;
    postalCode: string | null;
    country: string | null;
  } | null;
  jobberWebUri: string;
  createdAt: string;
  updatedAt: string;
}

export const CLIENT_FIELDS = /* GraphQL */ `
  fragment ClientFields on Client {
    id
    firstName
    lastName
    companyName
    isCompany
    isArchived
    isLead
    emails {
      address
      primary
    }
    phones {
      number
      primary
    }
    billingAddress {
      street
      city
      province
      postalCode
      country
    }
    jobberWebUri
    createdAt
    updatedAt
  }
`;

export const CLIENT_QUERY = /* GraphQL */ `
  query Client($id: EncodedId!) {
    client(id: $id) {
      ...ClientFields
    }
  }
  ${CLIENT_FIELDS}
`;

export const CLIENTS_PAGE_QUERY = /* GraphQL */ `
  query Clients($first: Int!, $after: String, $filter: ClientFilterAttributes) {
    clients(first: $first, after: $after, filter: $filter) {
      nodes {
        ...ClientFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${CLIENT_FIELDS}
`;

const clientSchema = new Schema(
  {
    ...recordFields,
    firstName: String,
    lastName: String,
    companyName: String,
    isCompany: Boolean,
    isArchived: Boolean,
    isLead: Boolean,
    emails: [{ _id: false, address: String, primary: Boolean }],
    phones: [{ _id: false, number: String, primary: Boolean }],
    billingAddress: { type: addressSchema },
    /** Lowercased name for `/jobber client <name>` lookups. */
    searchName: { type: String, index: true },
  },
  { versionKey: false, collection: 'clients' },
);

export const clientModel = recordModel('Client', clientSchema);

export const client = defineRecordType({
  kind: 'client',
  label: { one: 'client', many: 'clients' },
  query: { field: 'client', name: 'CLIENT_QUERY', document: CLIENT_QUERY },
  page: { field: 'clients', name: 'CLIENTS_PAGE_QUERY', document: CLIENTS_PAGE_QUERY },
  pageFilterByUpdatedAt: true,
  model: clientModel,
  toDocument(c: JobberClientRecord) {
    const name = [c.firstName, c.lastName].filter(Boolean).join(' ');
    return {
      firstName: c.firstName,
      lastName: c.lastName,
      companyName: c.companyName ?? undefined,
      isCompany: c.isCompany,
      isArchived: c.isArchived,
      isLead: c.isLead,
      emails: c.emails,
      phones: c.phones,
      billingAddress: c.billingAddress ?? undefined,
      searchName: `${name} ${c.companyName ?? ''}`.trim().toLowerCase(),
    };
  },
  links: {},
  facts: [],
  ask: {
    searchField: 'searchName',
    summary: (doc) => String(doc.companyName || [doc.firstName, doc.lastName].filter(Boolean).join(' ') || doc._id),
  },
});
