/**
 * Every GraphQL document the service sends to Jobber: the account's own here, each record type's
 * in its module (src/records/types). test/sandbox/jobber-schema.test.ts validates each one against
 * Jobber's official schema (test/fixtures/jobber-schema-2023-01.json) and the sandbox's.
 */
import { RECORD_DOCUMENTS } from '../records';

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
