import type { Model } from 'mongoose';
import type { JobberClientRecord, JobberInvoiceRecord, JobberJobRecord } from '../jobber/queries';
import { isDuplicateKey, type Models } from './models';
import type { RecordKind } from '../../workflows/definitions';

export type JobberRecord = JobberClientRecord | JobberJobRecord | JobberInvoiceRecord;

const date = (value: string | null | undefined): Date | undefined => (value ? new Date(value) : undefined);

/** Maps a Jobber record to the fields we keep, with links (job→client, invoice→client and jobs). */
export function toDocument(kind: RecordKind, accountId: string, record: JobberRecord): Record<string, unknown> {
  const common = {
    accountId,
    createdAt: date(record.createdAt),
    updatedAt: date(record.updatedAt),
    jobberWebUri: record.jobberWebUri,
  };
  switch (kind) {
    case 'client': {
      const c = record as JobberClientRecord;
      const name = [c.firstName, c.lastName].filter(Boolean).join(' ');
      return {
        ...common,
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
    }
    case 'job': {
      const j = record as JobberJobRecord;
      return {
        ...common,
        jobNumber: j.jobNumber,
        title: j.title ?? undefined,
        jobStatus: j.jobStatus,
        total: j.total,
        startAt: date(j.startAt),
        endAt: date(j.endAt),
        completedAt: date(j.completedAt),
        clientId: j.client.id,
        clientName: j.client.name,
      };
    }
    case 'invoice': {
      const i = record as JobberInvoiceRecord;
      return {
        ...common,
        invoiceNumber: i.invoiceNumber,
        invoiceStatus: i.invoiceStatus,
        subject: i.subject,
        issuedDate: date(i.issuedDate),
        dueDate: date(i.dueDate),
        receivedDate: date(i.receivedDate),
        total: i.amounts?.total,
        subtotal: i.amounts?.subtotal,
        invoiceBalance: i.amounts?.invoiceBalance,
        paymentsTotal: i.amounts?.paymentsTotal,
        clientId: i.client?.id,
        clientName: i.client?.name,
        jobIds: i.jobs.nodes.map((n) => n.id),
      };
    }
  }
}

export function modelFor(models: Models, kind: RecordKind): Model<unknown> {
  return { client: models.Client, job: models.Job, invoice: models.Invoice }[kind] as unknown as Model<unknown>;
}

/**
 * Writes the record unless what we hold is as new or newer (Jobber's updatedAt) or tombstoned.
 * The filter only matches an older live document; when it matches nothing the upsert tries to
 * insert a second document with the same _id and fails with a duplicate key: that is "stale".
 * One atomic operation per record, so concurrent event workflows cannot interleave badly.
 */
export async function upsertRecord(
  models: Models,
  kind: RecordKind,
  accountId: string,
  record: JobberRecord,
  now = new Date(),
): Promise<{ applied: boolean }> {
  const doc = toDocument(kind, accountId, record);
  try {
    await modelFor(models, kind).updateOne(
      { _id: record.id, deletedAt: null, $or: [{ updatedAt: null }, { updatedAt: { $lt: doc.updatedAt } }] },
      { $set: { ...doc, syncedAt: now } },
      { upsert: true },
    );
    return { applied: true };
  } catch (err) {
    if (isDuplicateKey(err)) return { applied: false };
    throw err;
  }
}

/** Marks a record deleted at `deletedAt`; the first tombstone wins and nothing revives it. */
export async function tombstoneRecord(
  models: Models,
  kind: RecordKind,
  accountId: string,
  id: string,
  deletedAt: Date,
): Promise<{ applied: boolean }> {
  try {
    await modelFor(models, kind).updateOne(
      { _id: id, deletedAt: null },
      { $set: { accountId, deletedAt, syncedAt: new Date() } },
      { upsert: true },
    );
    return { applied: true };
  } catch (err) {
    if (isDuplicateKey(err)) return { applied: false };
    throw err;
  }
}
