import type mongoose from 'mongoose';
import { createModels, type Models } from '../../src/db/models';
import { modelFor } from '../../src/db/records';
import { clientOpenQueries } from '../../src/slack/commands/clients';
import type { ListQuery } from '../../src/slack/commands/common';
import { paymentsQuery, paymentsSinceQuery } from '../../src/slack/commands/payments';
import { quotesQuery } from '../../src/slack/commands/quotes';
import { requestsQuery } from '../../src/slack/commands/requests';
import { visitsQuery, visitWindow } from '../../src/slack/commands/visits';
import { connectMongo } from '../helpers/env';

/**
 * Every list the new `/jobber` subcommands read has an index that serves it: the index starts with
 * equality fields of the filter (so it reaches only the asked accounts' or clients' records) and
 * continues with the sort keys in order (so `limit(10)` stops after ten entries), or with the range
 * field when there is no sort. The indexes are read back from the database the models built.
 *
 * FerretDB v1 (SQLite) cannot show this: its `explain` answers `SCAN` with `filterPushdown: false`
 * for every filter but `_id`, indexes or not (see docs/BENCHMARKS.md, "/jobber on the backfill data
 * set", for its explain and the measured answer times). On MongoDB these indexes are what keeps
 * the answers within Slack's 3 seconds as the collections grow.
 */

type Key = Record<string, number>;

const isEquality = (v: unknown): boolean =>
  v === null || typeof v !== 'object' || v instanceof Date || (Object.keys(v as object).length === 1 && '$in' in (v as object));
const isRange = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !(v instanceof Date) && Object.keys(v).some((k) => ['$gt', '$gte', '$lt', '$lte'].includes(k));

/** Whether an index with this key serves the query as described above; the reason when not. */
function serves(key: Key, q: ListQuery): true | string {
  const fields = Object.keys(key);
  const filter = Object.entries(q.filter);
  const equal = new Set(filter.filter(([, v]) => isEquality(v)).map(([k]) => k));
  let i = 0;
  while (i < fields.length && equal.has(fields[i]!)) i++;
  if (i === 0) return 'does not start with an equality field';
  const sort = Object.entries(q.sort ?? {});
  if (sort.length > 0) {
    const flip = key[fields[i]!] === -sort[0]![1] ? -1 : 1;
    for (const [j, [field, direction]] of sort.entries()) {
      if (fields[i + j] !== field || key[field] !== direction * flip) return `sort ${field} does not follow the equality prefix`;
    }
    return true;
  }
  const ranges = new Set(filter.filter(([, v]) => isRange(v)).map(([k]) => k));
  if (ranges.size > 0 && !ranges.has(fields[i]!)) return 'the range field does not follow the equality prefix';
  return true;
}

describe('/jobber lists are served by indexes', () => {
  let mongo: mongoose.Connection;
  let models: Models;
  beforeAll(async () => {
    mongo = await connectMongo('command_indexes');
    models = await createModels(mongo);
  });
  afterAll(async () => {
    await mongo.dropDatabase();
    await mongo.close();
  });

  const accounts = ['acct-1', 'acct-2'];
  const now = new Date('2025-05-14T15:00:00Z');
  const open = clientOpenQueries(accounts, ['c-1', 'c-2'], now);
  const queries: [string, ListQuery][] = [
    ['requests new', requestsQuery(accounts, 'new')],
    ['requests all', requestsQuery(accounts, 'all')],
    ['quotes pending', quotesQuery(accounts, 'pending')],
    ['quotes approved', quotesQuery(accounts, 'approved')],
    ['visits today', visitsQuery(accounts, visitWindow(now, 'UTC', 'today'))],
    ['visits week', visitsQuery(accounts, visitWindow(now, 'America/Edmonton', 'week'))],
    ['payments recent', paymentsQuery(accounts)],
    ['payments: the 30-day sum', paymentsSinceQuery(accounts, now)],
    ["client <name>: a client's open requests", open.requests],
    ["client <name>: a client's open quotes", open.quotes],
    ["client <name>: a client's upcoming visits", open.visits],
  ];

  it.each(queries)('%s', async (_name, q) => {
    const indexes = (await modelFor(models, q.kind).collection.indexes()) as { name: string; key: Key }[];
    const serving = indexes.filter((ix) => serves(ix.key, q) === true);
    expect(serving.map((ix) => ix.name)).not.toEqual([]);
    // Every list reads only the asked accounts' live records.
    expect(q.filter).toMatchObject({ accountId: { $in: accounts }, deletedAt: null });
  });

  it('the rule refuses an index that does not serve the query (positive control)', () => {
    const q = requestsQuery(accounts, 'new');
    expect(serves({ _id: 1 }, q)).toMatch(/equality/);
    expect(serves({ accountId: 1 }, q)).toMatch(/sort createdAt/);
    expect(serves({ accountId: 1, deletedAt: 1, createdAt: 1, _id: 1 }, q)).toMatch(/does not follow/); // _id's direction against createdAt's
    expect(serves({ accountId: 1, deletedAt: 1, requestStatus: 1, createdAt: -1, _id: 1 }, q)).toBe(true);
    expect(serves({ accountId: -1, deletedAt: -1, requestStatus: -1, createdAt: 1, _id: -1 }, q)).toBe(true); // walked backwards
    expect(serves({ accountId: 1, deletedAt: 1 }, paymentsSinceQuery(accounts, now))).toMatch(/range/);
  });
});
