/**
 * Every GraphQL document the service sends to Jobber: the account's own here, each record type's
 * in its module (src/records/types). test/sandbox/jobber-schema.test.ts validates each one against
 * Jobber's official schema (test/fixtures/jobber-schema-2023-01.json) and the sandbox's.
 */
import { RECORD_DOCUMENTS } from '../records';

export { CLIENT_FIELDS, CLIENT_QUERY, CLIENTS_PAGE_QUERY, type JobberClientRecord } from '../records/types/client';
export { JOB_FIELDS, JOB_QUERY, JOBS_PAGE_QUERY, type JobberJobRecord } from '../records/types/job';
export { INVOICE_FIELDS, INVOICE_JOBS_PAGE, INVOICE_QUERY, INVOICES_PAGE_QUERY, type JobberInvoiceRecord } from '../records/types/invoice';

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
  ...RECORD_DOCUMENTS,
  ACCOUNT_QUERY,
  APP_DISCONNECT_MUTATION,
};
