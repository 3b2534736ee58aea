import { connectDatabase } from '../../src/db/models';
import { testMongoUrl } from '../helpers/env';

/**
 * MONGO_WRITE_CONCERN reaches every write: the connection waits for a majority by default (what a
 * replica set needs to keep a write through a failover), and the test's server (FerretDB, one
 * node, as `npm run local` runs it) takes majority writes and counts them acknowledged.
 */
describe('MongoDB write concern', () => {
  it.each([
    ['majority (the default)', undefined, 'majority'],
    ['a member count', 1, 1],
  ] as const)('writes with w = %s, acknowledged by the server', async (_name, writeConcern, expected) => {
    const { connection, models } = await connectDatabase(testMongoUrl('wc'), writeConcern === undefined ? {} : { writeConcern });
    try {
      expect(connection.getClient().options.writeConcern?.w).toBe(expected);
      const events = connection.collection('write_concern_probe');
      const result = await events.updateOne({ _id: 'probe' as never }, { $set: { n: 1 } }, { upsert: true });
      expect(result.acknowledged).toBe(true);
      expect(result.upsertedCount).toBe(1);
      await models.Connection.create({ _id: 'acct-wc', status: 'connected' });
      expect(await models.Connection.findById('acct-wc').lean()).toMatchObject({ status: 'connected' });
    } finally {
      await connection.dropDatabase();
      await connection.close();
    }
  });
});
