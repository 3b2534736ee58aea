import mongoose from 'mongoose';
import { createModels, type Models } from '../../src/db/models';
import { tombstoneRecord, upsertRecord, upsertRecords } from '../../src/db/records';
import { settledAfter } from '../../workflows/definitions';
import type { JobberClientRecord } from '../../src/records/types/client';
import type { JobberVisitRecord } from '../../src/records/types/visit';
import { testMongoUrl } from '../helpers/env';

const client = (updatedAt: string, firstName: string): JobberClientRecord => ({
  id: 'Z2lkOi8vSm9iYmVyL0NsaWVudC8x',
  firstName,
  lastName: 'Doe',
  companyName: null,
  isCompany: false,
  isArchived: false,
  isLead: false,
  emails: [{ address: 'jo@example.com', primary: true }],
  phones: [],
  billingAddress: null,
  jobberWebUri: 'https://secure.getjobber.com/clients/1',
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt,
});

const visit = (title: string): JobberVisitRecord => ({
  id: 'Z2lkOi8vSm9iYmVyL1Zpc2l0LzE=',
  title,
  visitStatus: 'UPCOMING',
  startAt: '2025-02-01T09:00:00Z',
  endAt: null,
  completedAt: null,
  isComplete: false,
  job: { id: 'job-1', jobNumber: 7 },
  client: { id: 'client-1', name: 'Jo Doe' },
  invoice: null,
  property: { id: 'Z2lkOi8vSm9iYmVyL1Byb3BlcnR5LzE=' },
  createdAt: '2025-01-01T00:00:00Z',
});

describe('records on a real MongoDB wire-protocol server', () => {
  let connection: mongoose.Connection;
  let models: Models;
  /** A second connection to the same database: another worker process, as far as writes go. */
  let otherConnection: mongoose.Connection;
  let otherWorker: Models;

  beforeAll(async () => {
    const url = testMongoUrl('records');
    connection = await mongoose.createConnection(url).asPromise();
    models = await createModels(connection);
    otherConnection = await mongoose.createConnection(url).asPromise();
    otherWorker = await createModels(otherConnection);
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
    await otherConnection.close();
  });

  it('never lets an older state overwrite a newer one', async () => {
    expect(await upsertRecord(models, 'client', 'acct', client('2025-01-02T00:00:00Z', 'New'))).toEqual({ applied: true });
    expect(await upsertRecord(models, 'client', 'acct', client('2025-01-01T12:00:00Z', 'Old'))).toEqual({ applied: false });
    expect(await upsertRecord(models, 'client', 'acct', client('2025-01-02T00:00:00Z', 'Same'))).toEqual({ applied: false });
    const stored = await models.Client.findById(client('', '').id).lean();
    expect(stored).toMatchObject({ firstName: 'New', accountId: 'acct', searchName: 'new doe' });
    expect(await upsertRecord(models, 'client', 'acct', client('2025-01-03T00:00:00Z', 'Newer'))).toEqual({ applied: true });
    expect((await models.Client.findById(client('', '').id).lean())?.firstName).toBe('Newer');
  });

  it('orders copies of a type without updatedAt (visits) by when their fetch started, and keeps its tombstone', async () => {
    const at = (s: number) => new Date(Date.UTC(2025, 1, 1, 10, 0, s));
    expect(await upsertRecord(models, 'visit', 'acct', visit('second fetch'), at(2))).toEqual({ applied: true });
    // A fetch that started earlier but finished later holds an older copy: it must not win.
    expect(await upsertRecord(models, 'visit', 'acct', visit('first fetch'), at(1))).toEqual({ applied: false });
    expect(await upsertRecords(otherWorker, 'visit', 'acct', [visit('first fetch, batch')], at(1))).toEqual({ applied: 0 });
    expect(await models.Visit.findById(visit('').id).lean()).toMatchObject({ title: 'second fetch', jobId: 'job-1', clientId: 'client-1', jobNumber: 7 });
    expect(await upsertRecords(otherWorker, 'visit', 'acct', [visit('third fetch')], at(3))).toEqual({ applied: 1 });
    expect((await models.Visit.findById(visit('').id).lean())?.title).toBe('third fetch');
    expect(await tombstoneRecord(models, 'visit', 'acct', visit('').id, at(4))).toEqual({ applied: true });
    expect(await upsertRecord(models, 'visit', 'acct', visit('zombie'), at(5))).toEqual({ applied: false });
    expect(await upsertRecords(otherWorker, 'visit', 'acct', [visit('zombie')], at(6))).toEqual({ applied: 0 });
    expect((await models.Visit.findById(visit('').id).lean())?.title).toBe('third fetch');
  });

  it('keeps a tombstone: a late update does not bring the record back', async () => {
    const id = client('', '').id;
    expect(await tombstoneRecord(models, 'client', 'acct', id, new Date('2025-01-04T00:00:00Z'))).toEqual({ applied: true });
    expect(await tombstoneRecord(models, 'client', 'acct', id, new Date('2025-01-05T00:00:00Z'))).toEqual({ applied: false });
    expect(await upsertRecord(models, 'client', 'acct', client('2025-01-06T00:00:00Z', 'Zombie'))).toEqual({ applied: false });
    const stored = await models.Client.findById(id).lean();
    expect(stored?.deletedAt?.toISOString()).toBe('2025-01-04T00:00:00.000Z');
    expect(stored?.firstName).toBe('Newer');
  });

  it('tombstones a record it never saw', async () => {
    expect(await tombstoneRecord(models, 'job', 'acct', 'never-seen', new Date('2025-02-01T00:00:00Z'))).toEqual({ applied: true });
    expect((await models.Job.findById('never-seen').lean())?.deletedAt).toBeInstanceOf(Date);
  });

  it('enforces one alert per key with a unique index', async () => {
    const alert = { _id: 'job-created/1', accountId: 'acct', status: 'pending' as const, owner: 'w1', claimedAt: new Date() };
    await models.Alert.create(alert);
    await expect(models.Alert.create({ ...alert, owner: 'w2' })).rejects.toMatchObject({ code: 11000 });
    expect(await models.Alert.countDocuments({ _id: 'job-created/1' })).toBe(1);
  });

  const withId = (record: JobberClientRecord, id: string): JobberClientRecord => ({ ...record, id });

  it('a newer state racing the first insert of an older one is stored, not called stale', async () => {
    // Two workers insert the same new record at once; the loser's duplicate key must not be
    // read as "someone newer got there first" when the winner holds the older state.
    const lost: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `race-${i}`;
      const [older, newer] = await Promise.all([
        upsertRecord(models, 'client', 'acct', withId(client('2025-03-01T00:00:00Z', 'Older'), id)),
        upsertRecord(otherWorker, 'client', 'acct', withId(client('2025-03-02T00:00:00Z', 'Newer'), id)),
      ]);
      const stored = await models.Client.findById(id).lean();
      if (stored?.firstName !== 'Newer') lost.push(`${id}: stored ${stored?.firstName}, older ${older.applied}, newer ${newer.applied}`);
    }
    expect(lost).toEqual([]);
  });

  it('a tombstone racing the first insert of a record is kept', async () => {
    const lost: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `race-tomb-${i}`;
      const [, tomb] = await Promise.all([
        upsertRecord(models, 'client', 'acct', withId(client('2025-03-01T00:00:00Z', 'Alive'), id)),
        tombstoneRecord(otherWorker, 'client', 'acct', id, new Date('2025-03-02T00:00:00Z')),
      ]);
      const stored = await models.Client.findById(id).lean();
      if (!stored?.deletedAt || !tomb.applied) lost.push(`${id}: deletedAt ${stored?.deletedAt?.toISOString()}, applied ${tomb.applied}`);
    }
    expect(lost).toEqual([]);
  });

  it('concurrent writers of one record in one worker end with the newest state', async () => {
    // FerretDB v1 applies an update as read-modify-write: unserialized, an older write that read
    // the document before a newer one landed can overwrite it.
    const wrong: string[] = [];
    for (let i = 0; i < 15; i++) {
      const id = `order-${i}`;
      await upsertRecord(models, 'client', 'acct', withId(client('2025-04-01T00:00:00Z', 'Start'), id));
      const days = [2, 3, 4, 5, 6, 7, 8, 9].sort(() => Math.random() - 0.5);
      await Promise.all(days.map((d) => upsertRecord(models, 'client', 'acct', withId(client(`2025-04-0${d}T00:00:00Z`, `Day ${d}`), id))));
      const stored = await models.Client.findById(id).lean();
      if (stored?.firstName !== 'Day 9') wrong.push(`${id}: ${stored?.firstName} (${stored?.updatedAt?.toISOString()})`);
    }
    expect(wrong).toEqual([]);
  });

  it('breaks a tie of equal updatedAt by the later fetch until the copy is settled', async () => {
    // Jobber stamps whole seconds: a copy fetched within the second of its updatedAt may have
    // missed a later change of that second; one fetched after the second ended has not.
    const id = 'tie-1';
    const stamp = '2025-05-01T10:00:00Z';
    const within = new Date('2025-05-01T10:00:00.400Z');
    const later = new Date('2025-05-01T10:00:00.900Z');
    const settled = settledAfter(new Date(stamp));
    expect(await upsertRecord(models, 'client', 'acct', withId(client(stamp, 'Partial'), id), within)).toEqual({ applied: true });
    // An earlier fetch with the same stamp does not replace a later one.
    expect(await upsertRecord(models, 'client', 'acct', withId(client(stamp, 'Earlier'), id), new Date(within.getTime() - 100))).toEqual({ applied: false });
    expect(await upsertRecord(models, 'client', 'acct', withId(client(stamp, 'Later'), id), later)).toEqual({ applied: true });
    expect(await upsertRecord(models, 'client', 'acct', withId(client(stamp, 'Final'), id), settled)).toEqual({ applied: true });
    // Settled: a later fetch of the same stamp has nothing new, so it writes nothing.
    expect(await upsertRecord(models, 'client', 'acct', withId(client(stamp, 'Final'), id), new Date(settled.getTime() + 60_000))).toEqual({ applied: false });
    expect(await models.Client.findById(id).lean()).toMatchObject({ firstName: 'Final', settled: true, fetchedAt: settled });
    // A copy stored before fetchedAt existed counts as unsettled: a reconciliation repairs it.
    await models.Client.updateOne({ _id: id }, { $set: { firstName: 'Legacy' }, $unset: { fetchedAt: 1, settled: 1 } });
    expect(await upsertRecord(models, 'client', 'acct', withId(client(stamp, 'Final'), id), new Date(settled.getTime() + 60_000))).toEqual({ applied: true });
    expect((await models.Client.findById(id).lean())?.firstName).toBe('Final');
  });

  it('writes a page in one batch with the same ordering rules as single writes (FerretDB serves bulkWrite)', async () => {
    const fetchedAt = new Date('2026-01-01T00:00:00Z');
    await upsertRecord(models, 'client', 'acct', withId(client('2025-06-05T00:00:00Z', 'Newer held'), 'batch-newer'), fetchedAt);
    await upsertRecord(models, 'client', 'acct', withId(client('2025-06-01T00:00:00Z', 'Older held'), 'batch-older'), fetchedAt);
    await tombstoneRecord(models, 'client', 'acct', 'batch-deleted', new Date('2025-06-01T00:00:00Z'));
    const page = [
      withId(client('2025-06-02T00:00:00Z', 'Fresh'), 'batch-new'),
      withId(client('2025-06-02T00:00:00Z', 'Stale'), 'batch-newer'),
      withId(client('2025-06-02T00:00:00Z', 'Update'), 'batch-older'),
      withId(client('2025-06-02T00:00:00Z', 'Zombie'), 'batch-deleted'),
    ];
    expect(await upsertRecords(models, 'client', 'acct', page, new Date('2026-01-02T00:00:00Z'))).toEqual({ applied: 2 });
    const stored = Object.fromEntries((await models.Client.find({ _id: { $regex: /^batch-/ } }).lean()).map((d) => [d._id, d]));
    expect(stored['batch-new']).toMatchObject({ firstName: 'Fresh', accountId: 'acct', settled: true });
    expect(stored['batch-newer']?.firstName).toBe('Newer held');
    expect(stored['batch-older']?.firstName).toBe('Update');
    expect(stored['batch-deleted']?.deletedAt).toBeInstanceOf(Date);
    expect(stored['batch-deleted']?.firstName).toBeUndefined();
    // The same page again: everything is held as new and settled, nothing is written.
    expect(await upsertRecords(models, 'client', 'acct', page, new Date('2026-01-03T00:00:00Z'))).toEqual({ applied: 0 });
  });

  it("a batch racing another worker's first inserts stores the newer states", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `batch-race-${i}`);
    const newer = ids.map((id) => withId(client('2025-07-02T00:00:00Z', 'Newer'), id));
    const [batch] = await Promise.all([
      upsertRecords(models, 'client', 'acct', newer, new Date()),
      ...ids.map((id) => upsertRecord(otherWorker, 'client', 'acct', withId(client('2025-07-01T00:00:00Z', 'Older'), id))),
    ]);
    expect(batch).toEqual({ applied: 30 });
    const stored = await models.Client.find({ _id: { $in: ids } }).lean();
    expect(stored.map((d) => d.firstName)).toEqual(ids.map(() => 'Newer'));
  });

  it('stores the newer copy when one page lists a record twice (it changed while we paged)', async () => {
    const fetchedAt = new Date('2026-01-05T00:00:00Z');
    const older = withId(client('2025-08-01T00:00:00Z', 'Older'), 'twice-1');
    const newer = withId(client('2025-08-02T00:00:00Z', 'Newer'), 'twice-1');
    expect(await upsertRecords(models, 'client', 'acct', [older, newer], fetchedAt)).toEqual({ applied: 2 });
    expect((await models.Client.findById('twice-1').lean())?.firstName).toBe('Newer');
    expect(await upsertRecords(models, 'client', 'acct', [withId(newer, 'twice-2'), withId(older, 'twice-2')], fetchedAt)).toEqual({ applied: 1 });
    expect((await models.Client.findById('twice-2').lean())?.firstName).toBe('Newer');
  });
  it('reaches a record by its _id index when it writes it, not by reading the whole collection', async () => {
    // Every write of one record names its document by `_id` and adds the ordering guard. Without
    // the index, each webhook's write reads every record of the collection: a cost that grows with
    // the account (a third of a second per webhook at 4,000 clients on FerretDB 1.24.2 as released).
    const sent: { collection: string; method: string; filter: Record<string, unknown> }[] = [];
    connection.set('debug', (collection: string, method: string, filter: unknown) => {
      if (filter && typeof filter === 'object' && '_id' in filter) sent.push({ collection, method, filter: filter as Record<string, unknown> });
    });
    try {
      await upsertRecord(models, 'client', 'acct', withId(client('2025-09-01T00:00:00Z', 'Indexed'), 'by-index'));
      await upsertRecord(models, 'client', 'acct', withId(client('2025-09-02T00:00:00Z', 'Indexed again'), 'by-index'));
      await upsertRecord(models, 'visit', 'acct', { ...visit('Indexed'), id: 'by-index-visit' });
      await tombstoneRecord(models, 'client', 'acct', 'by-index', new Date('2025-09-03T00:00:00Z'));
    } finally {
      connection.set('debug', false);
    }
    const writes = sent.filter((s) => s.method === 'updateOne');
    expect(writes.map((w) => w.collection).sort()).toEqual(['clients', 'clients', 'clients', 'visits']);
    for (const { collection, filter } of writes) {
      // A guarded write: `_id` and more (on FerretDB v1 that is what kept `_id` from SQLite).
      expect(Object.keys(filter).length).toBeGreaterThan(1);
      const explain = (await connection.db!.command({ explain: { find: collection, filter }, verbosity: 'queryPlanner' })) as {
        serverInfo?: { ferretdbVersion?: string };
        filterPushdown?: boolean;
        queryPlanner?: { Plan?: string[]; winningPlan?: unknown };
      };
      const what = `${collection} ${JSON.stringify(filter)}`;
      if (explain.serverInfo?.ferretdbVersion) {
        // FerretDB (SQLite): the filter's _id goes to SQLite, which searches the collection's _id index.
        expect({ what, pushdown: explain.filterPushdown, plan: explain.queryPlanner?.Plan }).toEqual({
          what,
          pushdown: true,
          plan: [expect.stringMatching(/SEARCH \S+ USING INDEX \S+__id_ /)],
        });
      } else {
        // MongoDB: the _id index (or its express path for _id equality).
        expect({ what, plan: JSON.stringify(explain.queryPlanner?.winningPlan) }).toEqual({
          what,
          plan: expect.stringMatching(/"stage":"(IDHACK|EXPRESS_IXSCAN)"|"indexName":"_id_"/),
        });
      }
    }
  });
});
