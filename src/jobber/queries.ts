/**
 * Every GraphQL document the service sends to Jobber. test/sandbox/jobber-schema.test.ts validates each
 * one against Jobber's official schema (test/fixtures/jobber-schema-2023-01.json) and the sandbox's.
 */

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

/** An invoice names at most this many jobs in one fetch; more is a data error we log. */
export const INVOICE_JOBS_PAGE = 20;

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

export const CLIENT_QUERY = /* GraphQL */ `
  query Client($id: EncodedId!) {
    client(id: $id) {
      ...ClientFields
    }
  }
  ${CLIENT_FIELDS}
`;

export const JOB_QUERY = /* GraphQL */ `
  query Job($id: EncodedId!) {
    job(id: $id) {
      ...JobFields
    }
  }
  ${JOB_FIELDS}
`;

export const INVOICE_QUERY = /* GraphQL */ `
  query Invoice($id: EncodedId!) {
    invoice(id: $id) {
      ...InvoiceFields
    }
  }
  ${INVOICE_FIELDS}
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

export const ACCOUNT_QUERY = /* GraphQL */ `
  query AccountAndUser {
    account {
      id
      name
    }
    user {
      id
    }
  }
`;

export const APP_DISCONNECT_MUTATION = /* GraphQL */ `
  mutation AppDisconnect {
    appDisconnect {
      app {
        name
        author
      }
      userErrors {
        message
        path
      }
    }
  }
`;

/** Named so tests can validate every document the service sends. */
export const ALL_DOCUMENTS: Record<string, string> = {
  CLIENT_QUERY,
  JOB_QUERY,
  INVOICE_QUERY,
  CLIENTS_PAGE_QUERY,
  JOBS_PAGE_QUERY,
  INVOICES_PAGE_QUERY,
  ACCOUNT_QUERY,
  APP_DISCONNECT_MUTATION,
};

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
