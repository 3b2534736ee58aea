import { Schema } from 'mongoose';
import { recordFields } from '../fields';
import { defineRecordType, recordModel } from '../record-type';

/**
 * Jobber's `property` (a service address): topics PROPERTY_CREATE / UPDATE / DESTROY. No
 * `updatedAt` in the 2023 schema: its copies are ordered by when their fetch started.
 */
export interface JobberPropertyRecord {
  id: string;
  street: string;
  city: string;
  province: string;
  postalCode: string;
  country: string;
  isBillingAddress: boolean | null;
  client: { id: string; name: string } | null;
  jobberWebUri: string;
}

export const PROPERTY_FIELDS = /* GraphQL */ `
  fragment PropertyFields on Property {
    id
    street
    city
    province
    postalCode
    country
    isBillingAddress
    client {
      id
      name
    }
    jobberWebUri
  }
`;

export const PROPERTY_QUERY = /* GraphQL */ `
  query Property($id: EncodedId!) {
    property(id: $id) {
      ...PropertyFields
    }
  }
  ${PROPERTY_FIELDS}
`;

export const PROPERTIES_PAGE_QUERY = /* GraphQL */ `
  query Properties($first: Int!, $after: String) {
    properties(first: $first, after: $after) {
      nodes {
        ...PropertyFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
    }
  }
  ${PROPERTY_FIELDS}
`;

const propertySchema = new Schema(
  {
    ...recordFields,
    street: String,
    city: String,
    province: String,
    postalCode: String,
    country: String,
    isBillingAddress: Boolean,
    clientId: { type: String, index: true },
    clientName: String,
  },
  { versionKey: false, collection: 'properties' },
);

export const propertyModel = recordModel('Property', propertySchema);

export const property = defineRecordType({
  kind: 'property',
  label: { one: 'property', many: 'properties' },
  query: { field: 'property', name: 'PROPERTY_QUERY', document: PROPERTY_QUERY },
  page: { field: 'properties', name: 'PROPERTIES_PAGE_QUERY', document: PROPERTIES_PAGE_QUERY },
  // PropertiesFilterAttributes has no updatedAt: a reconciliation pages through all of them.
  pageFilterByUpdatedAt: false,
  orderedBy: 'fetchedAt',
  model: propertyModel,
  toDocument: (p: JobberPropertyRecord) => ({
    street: p.street,
    city: p.city,
    province: p.province,
    postalCode: p.postalCode,
    country: p.country,
    isBillingAddress: p.isBillingAddress ?? undefined,
    clientId: p.client?.id,
    clientName: p.client?.name,
  }),
  links: { clientId: 'client' },
  facts: [],
  ask: { summary: (doc) => [doc.street, doc.city].filter(Boolean).map(String).join(', ') || String(doc._id) },
});
