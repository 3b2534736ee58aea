import type mongoose from 'mongoose';
import { createModels, type Models } from '../../src/db/models';
import { tombstoneRecord, upsertRecord } from '../../src/db/records';
import type { JobberClientRecord } from '../../src/jobber/queries';
import { connectMongo } from '../helpers/env';

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

describe('records on a real MongoDB wire-protocol server', () => {
  let connection: mongoose.Connection;
  let models: Models;

  beforeAll(async () => {
    connection = await connectMongo('records');
    models = await createModels(connection);
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
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
});
