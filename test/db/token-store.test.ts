import type mongoose from 'mongoose';
import { TokenCipher } from '../../src/crypto/tokens';
import { createModels, type Models } from '../../src/db/models';
import { StaleTokenVersionError, TokenStore } from '../../src/accounts/token-store';
import { loadConfig } from '../../src/config';
import { createTokenCipher } from '../../src/services';
import { connectMongo } from '../helpers/env';

const OLD = Buffer.alloc(32, 1);
const NEW = Buffer.alloc(32, 2);

describe('token store on a real MongoDB wire-protocol server', () => {
  let connection: mongoose.Connection;
  let models: Models;

  beforeAll(async () => {
    connection = await connectMongo('tokens');
    models = await createModels(connection);
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('stores tokens sealed, bound to their account, and never in plaintext', async () => {
    const store = new TokenStore(models, new TokenCipher(OLD));
    await store.connect({ id: 'acct-1', name: 'A' }, { accessToken: 'access-secret-1', refreshToken: 'refresh-secret-1' });
    const raw = JSON.stringify(await models.Connection.findById('acct-1').lean());
    expect(raw).not.toContain('secret-1');
    expect(await store.read('acct-1')).toMatchObject({ accessToken: 'access-secret-1', refreshToken: 'refresh-secret-1', version: 1 });
    // A ciphertext copied onto another account does not open there.
    const doc = await models.Connection.findById('acct-1').lean();
    await models.Connection.create({ _id: 'acct-2', status: 'connected', accessToken: doc!.accessToken, refreshToken: doc!.refreshToken, tokenVersion: 1 });
    await expect(store.read('acct-2')).rejects.toThrow();
  });

  it('rotates with a compare-and-swap on the version', async () => {
    const store = new TokenStore(models, new TokenCipher(OLD));
    expect(await store.rotate('acct-1', 1, { accessToken: 'a2', refreshToken: 'r2' })).toBe(2);
    await expect(store.rotate('acct-1', 1, { accessToken: 'stale', refreshToken: 'stale' })).rejects.toBeInstanceOf(StaleTokenVersionError);
    expect((await store.read('acct-1')).refreshToken).toBe('r2');
  });

  it('reads tokens sealed with a previous key and re-seals them with the current one at the next rotation', async () => {
    const config = loadConfig({
      MONGO_URL: 'mongodb://x/y',
      JOBBER_CLIENT_ID: 'i',
      JOBBER_CLIENT_SECRET: 's',
      SLACK_BOT_TOKEN: 'b',
      SLACK_SIGNING_SECRET: 's',
      SLACK_ALERT_CHANNEL: 'C',
      SESSION_SECRET: 'x'.repeat(32),
      TOKEN_ENCRYPTION_KEY: NEW.toString('base64'),
      TOKEN_ENCRYPTION_PREVIOUS_KEYS: `${OLD.toString('hex')}, ${Buffer.alloc(32, 9).toString('base64')}`,
    });
    const store = new TokenStore(models, createTokenCipher(config));
    expect((await store.read('acct-1')).refreshToken).toBe('r2');
    await store.rotate('acct-1', 2, { accessToken: 'a3', refreshToken: 'r3' });
    const doc = await models.Connection.findById('acct-1').lean();
    expect(doc?.refreshToken?.keyId).toBe(TokenCipher.keyId(NEW));
    // Once everything is re-sealed the old key can go.
    expect((await new TokenStore(models, new TokenCipher(NEW)).read('acct-1')).refreshToken).toBe('r3');
    expect(() => loadConfig({ ...process.env, TOKEN_ENCRYPTION_PREVIOUS_KEYS: 'short' })).toThrow(/TOKEN_ENCRYPTION_PREVIOUS_KEYS: every key must be 32 bytes/);
  });
});
