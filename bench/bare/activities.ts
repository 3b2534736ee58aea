import type { mongo } from 'mongoose';
import { CLIENT_QUERY } from '../../src/records/types/client';

export interface BareDeps {
  /** The sandbox's GraphQL endpoint, e.g. http://127.0.0.1:1234/api/graphql. */
  graphqlUrl: string;
  version: string;
  /** The account's access token, kept in the bench process: only ids cross Temporal. */
  accessToken: (accountId: string) => string;
  db: mongo.Db;
  collection: string;
}

/** The least a pipeline does per event: one GraphQL request, one upsert by `_id` with the plain driver. */
export function createBareActivities(deps: BareDeps) {
  const records = deps.db.collection<{ _id: string }>(deps.collection);
  return {
    async fetchAndUpsert(input: { accountId: string; itemId: string }): Promise<void> {
      const res = await fetch(deps.graphqlUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${deps.accessToken(input.accountId)}`,
          'x-jobber-graphql-version': deps.version,
        },
        body: JSON.stringify({ query: CLIENT_QUERY, variables: { id: input.itemId } }),
      });
      const body = (await res.json()) as { data?: { client?: { id: string } | null }; errors?: unknown[] };
      // Any failure (THROTTLED included) is retried by Temporal.
      if (!res.ok || body.errors?.length) throw new Error(`GraphQL request failed: HTTP ${res.status} ${JSON.stringify(body.errors ?? '')}`);
      const record = body.data?.client;
      if (!record) return;
      const { id, ...fields } = record;
      await records.updateOne({ _id: id }, { $set: { ...fields, accountId: input.accountId } }, { upsert: true });
    },
  };
}

export type BareActivities = ReturnType<typeof createBareActivities>;
