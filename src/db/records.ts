import type { Model } from 'mongoose';
import { duplicateKeys, isDuplicateKey, type Models } from './models';
import { recordType, type JobberRecordBase, type RecordType } from '../records';
import { date } from '../records/fields';
import { settledAfter, type RecordKind } from '../../workflows/definitions';

/** A record as Jobber returns it, of any registered type (src/records/types). */
export type JobberRecord = JobberRecordBase;

function typeOf(kind: RecordKind): RecordType {
  const type = recordType(kind);
  if (!type) throw new Error(`no record type ${JSON.stringify(kind)} in the registry (src/records)`);
  return type;
}

/** Maps a Jobber record to the fields we keep, with its links (see each type's toDocument). */
export function toDocument(kind: RecordKind, accountId: string, record: JobberRecord): Record<string, unknown> {
  return {
    accountId,
    createdAt: date(record.createdAt),
    updatedAt: date(record.updatedAt),
    jobberWebUri: record.jobberWebUri,
    ...typeOf(kind).toDocument(record),
  };
}

export function modelFor(models: Models, kind: RecordKind): Model<unknown> {
  return (models as unknown as Record<string, Model<unknown>>)[typeOf(kind).model.name]!;
}

/**
 * Serializes the read-check-write of one record document within this process. FerretDB v1 applies
 * an update as a non-atomic read-modify-write, so two conditional writers of one document could
 * both pass the check and land in either order. Across processes only MongoDB's atomic
 * single-document update holds (docs/ARCHITECTURE.md). Keyed per Models, i.e. per connection.
 */
const recordLocks = new WeakMap<object, Map<string, Promise<void>>>();

async function withRecordLocks<T>(models: Models, keys: string[], fn: () => Promise<T>): Promise<T> {
  let locks = recordLocks.get(models);
  if (!locks) recordLocks.set(models, (locks = new Map()));
  const held = locks;
  // Sorted and deduplicated: two batches sharing records take them in the same order, no deadlock.
  const ordered = [...new Set(keys)].sort();
  const releases: (() => void)[] = [];
  for (const key of ordered) {
    const previous = held.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    held.set(key, tail);
    releases.push(() => {
      release();
      if (held.get(key) === tail) held.delete(key);
    });
    await previous;
  }
  try {
    return await fn();
  } finally {
    for (const release of releases) release();
  }
}

const lockKey = (kind: RecordKind, id: string) => `${kind}/${id}`;

/**
 * The filter that matches only a stored document this fetch may replace: live, and older by
 * Jobber's `updatedAt`, or equal `updatedAt` but fetched earlier and not yet settled (a fetch
 * within the second of `updatedAt` may have missed a later change of that second).
 */
function replaceableFilter(id: string, updatedAt: unknown, fetchedAt: Date): Record<string, unknown> {
  const unsettledTie = { updatedAt, settled: { $ne: true } };
  return {
    _id: id,
    deletedAt: null,
    $or: [{ updatedAt: null }, { updatedAt: { $lt: updatedAt } }, { ...unsettledTie, fetchedAt: null }, { ...unsettledTie, fetchedAt: { $lt: fetchedAt } }],
  };
}

/** For a type without `updatedAt`: live, and fetched earlier (or never) than this copy. */
function fetchedEarlierFilter(id: string, fetchedAt: Date): Record<string, unknown> {
  return { _id: id, deletedAt: null, $or: [{ fetchedAt: null }, { fetchedAt: { $lt: fetchedAt } }] };
}

const byFetch = (kind: RecordKind): boolean => typeOf(kind).orderedBy === 'fetchedAt';

function recordUpdate(kind: RecordKind, accountId: string, record: JobberRecord, fetchedAt: Date, now: Date) {
  const doc = toDocument(kind, accountId, record);
  if (byFetch(kind)) {
    // No updatedAt to compare: the copy from the fetch that started last is the newest we can know.
    return { filter: fetchedEarlierFilter(record.id, fetchedAt), update: { $set: { ...doc, fetchedAt, settled: true, syncedAt: now } } };
  }
  const updatedAt = doc.updatedAt as Date | undefined;
  const settled = updatedAt !== undefined && fetchedAt.getTime() >= settledAfter(updatedAt).getTime();
  return { filter: replaceableFilter(record.id, updatedAt, fetchedAt), update: { $set: { ...doc, fetchedAt, settled, syncedAt: now } } };
}

/**
 * Runs a conditional upsert; a duplicate key means the filter matched nothing and the insert met
 * a document. That document may be one a racing first insert put there a moment ago, which our
 * filter would have matched: so try once more before calling the write stale.
 */
async function conditionalUpsert(write: () => Promise<unknown>): Promise<{ applied: boolean }> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return { applied: true };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      if (attempt === 2) return { applied: false };
    }
  }
}

/**
 * Writes the record unless what we hold is newer by Jobber's `updatedAt`, as new and settled, as
 * new and fetched later, or tombstoned. `fetchedAt` is when the fetch that returned `record`
 * started. When the filter matches nothing the upsert tries to insert a second document with the
 * same _id and fails with a duplicate key: that is "stale" (after one retry, see conditionalUpsert).
 */
export async function upsertRecord<R extends JobberRecord>(
  models: Models,
  kind: RecordKind,
  accountId: string,
  record: R,
  fetchedAt = new Date(),
  now = new Date(),
): Promise<{ applied: boolean }> {
  const { filter, update } = recordUpdate(kind, accountId, record, fetchedAt, now);
  return withRecordLocks(models, [lockKey(kind, record.id)], () => conditionalUpsert(() => modelFor(models, kind).updateOne(filter, update, { upsert: true })));
}

interface HeldState {
  _id: string;
  updatedAt?: Date | null;
  deletedAt?: Date | null;
  fetchedAt?: Date | null;
  settled?: boolean | null;
}

/** What replaceableFilter (or fetchedEarlierFilter) decides, for a document already read: false means the write is stale. */
function replaceable(held: HeldState, updatedAt: Date | undefined, fetchedAt: Date, orderedByFetch = false): boolean {
  if (held.deletedAt) return false;
  if (orderedByFetch) return !held.fetchedAt || held.fetchedAt.getTime() < fetchedAt.getTime();
  if (!held.updatedAt || !updatedAt) return !held.updatedAt;
  if (held.updatedAt.getTime() !== updatedAt.getTime()) return held.updatedAt.getTime() < updatedAt.getTime();
  return !held.settled && (!held.fetchedAt || held.fetchedAt.getTime() < fetchedAt.getTime());
}

/**
 * The batch form of upsertRecord for a page of one kind, with the same outcome per record. The
 * page's stored states are read first, in one query: records held as new or newer are stale
 * without a write (a reconciliation of unchanged records writes nothing); records we do not hold
 * are inserted in one unordered insertMany (one statement for the page, where FerretDB v1 reads
 * and writes each updated document on its own); the rest go in one unordered bulkWrite of
 * upsertRecord's conditional upserts. An insert that meets a duplicate key (a racing first
 * insert) becomes such a conditional upsert: that is its one retry; a conditional upsert that
 * meets one is retried once too. FerretDB v1 stops a bulk write at its first error even when
 * unordered: the counts show it, and the writes it did not run are sent again. Returns how many
 * records were written.
 */
export async function upsertRecords<R extends JobberRecord>(
  models: Models,
  kind: RecordKind,
  accountId: string,
  records: R[],
  fetchedAt: Date,
  now = new Date(),
  /**
   * Given, a record we hold in an older copy is not written here but handed to this (its record
   * workflow, the only writer of a held document): only records we do not hold are inserted, and
   * an insert is atomic even on FerretDB. Counted as applied.
   */
  handOff?: (records: R[]) => Promise<void>,
): Promise<{ applied: number }> {
  if (records.length === 0) return { applied: 0 };
  const model = modelFor(models, kind);
  return withRecordLocks(
    models,
    records.map((r) => lockKey(kind, r.id)),
    async () => {
      const ids = [...new Set(records.map((r) => r.id))];
      const held = new Map(
        ((await model.find({ _id: { $in: ids } }, { updatedAt: 1, deletedAt: 1, fetchedAt: 1, settled: 1 }).lean()) as unknown as HeldState[]).map((d) => [
          d._id,
          d,
        ]),
      );
      let applied = 0;
      type Conditional = { record: JobberRecord; retried: boolean };
      const conditional: Conditional[] = [];
      // A page can list a record twice (it changed while we paged): the later copy goes conditional.
      const seen = new Set<string>();
      let inserts: JobberRecord[] = [];
      for (const record of records) {
        const state = held.get(record.id);
        if (!state && !seen.has(record.id)) inserts.push(record);
        else if (!state || replaceable(state, record.updatedAt ? new Date(record.updatedAt) : undefined, fetchedAt, byFetch(kind)))
          conditional.push({ record, retried: false });
        seen.add(record.id);
      }

      while (inserts.length > 0) {
        const docs = inserts.map((record) => ({ _id: record.id, ...recordUpdate(kind, accountId, record, fetchedAt, now).update.$set }));
        try {
          await model.insertMany(docs, { ordered: false });
          applied += inserts.length;
          break;
        } catch (err) {
          const { failed, stoppedAt } = duplicateKeys(err, inserts.length, (r) => r.insertedCount ?? 0);
          const again: JobberRecord[] = [];
          inserts.forEach((record, i) => {
            if (failed.has(i)) conditional.push({ record, retried: true });
            else if (i > stoppedAt) again.push(record);
            else applied++;
          });
          inserts = again;
        }
      }

      if (handOff) {
        const byId = new Map(conditional.map(({ record }) => [record.id, record as R]));
        if (byId.size > 0) await handOff([...byId.values()]);
        return { applied: applied + byId.size };
      }

      let pending = conditional;
      while (pending.length > 0) {
        const ops = pending.map(({ record }) => {
          const { filter, update } = recordUpdate(kind, accountId, record, fetchedAt, now);
          return { updateOne: { filter, update, upsert: true } };
        });
        try {
          await model.bulkWrite(ops as Parameters<typeof model.bulkWrite>[0], { ordered: false });
          applied += pending.length;
          break;
        } catch (err) {
          const { failed, stoppedAt } = duplicateKeys(err, pending.length, (r) => (r.matchedCount ?? 0) + (r.upsertedCount ?? 0));
          const next: Conditional[] = [];
          pending.forEach((p, i) => {
            if (failed.has(i)) {
              if (!p.retried) next.push({ ...p, retried: true });
            } else if (i > stoppedAt) next.push(p);
            else applied++;
          });
          pending = next;
        }
      }
      return { applied };
    },
  );
}

/** Marks a record deleted at `deletedAt`; the first tombstone wins and nothing revives it. */
export async function tombstoneRecord(models: Models, kind: RecordKind, accountId: string, id: string, deletedAt: Date): Promise<{ applied: boolean }> {
  return withRecordLocks(models, [lockKey(kind, id)], () =>
    conditionalUpsert(() =>
      modelFor(models, kind).updateOne({ _id: id, deletedAt: null }, { $set: { accountId, deletedAt, syncedAt: new Date() } }, { upsert: true }),
    ),
  );
}
