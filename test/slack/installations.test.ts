import type mongoose from 'mongoose';
import { TokenCipher } from '../../src/crypto/tokens';
import { createModels, type Models } from '../../src/db/models';
import { startSlackStandIn, type StartedSlackStandIn } from '../../src/sandbox/slack';
import { InstallationStore, SlackOAuth, type SlackInstallations } from '../../src/slack/installations';
import { connectMongo } from '../helpers/env';

const REDIRECT = 'https://jobber-sync.example/slack/oauth/callback';
const OLD_KEY = Buffer.alloc(32, 3);
const NEW_KEY = Buffer.alloc(32, 4);

/** The installation store on FerretDB against the stand-in: sealing, key rotation, token rotation. */
describe('Slack installations: bot tokens at rest', () => {
  let mongo: mongoose.Connection;
  let models: Models;
  let slack: StartedSlackStandIn;
  let oauth: SlackOAuth;

  beforeAll(async () => {
    mongo = await connectMongo('slack-installations');
    models = await createModels(mongo);
    slack = await startSlackStandIn({ app: { redirectUrls: [REDIRECT], tokenRotation: true } });
    slack.standIn.addTeam({ id: 'T0ROTA', name: 'Rotation Gardens' });
    oauth = new SlackOAuth({ clientId: slack.standIn.slackApp.clientId, clientSecret: slack.standIn.slackApp.clientSecret }, slack.url, REDIRECT);
  });
  afterAll(async () => {
    await slack.close();
    await mongo.dropDatabase();
    await mongo.close();
  });

  /**
   * The store alone, as the installation workflow's activities use it (this process is the one
   * writer here; the workflow that makes it so is tested in installation-writer.test.ts).
   */
  const storeWith = (cipher: TokenCipher): SlackInstallations => new InstallationStore(models, cipher, slack.url, oauth).asWriterReader();

  const grant = async () => {
    const code = slack.standIn.workspaces.issueCode({
      clientId: oauth.credentials.clientId,
      redirectUri: REDIRECT,
      teamId: 'T0ROTA',
      scopes: ['chat:write'],
      userId: 'U0X',
    });
    return oauth.exchangeCode(code);
  };

  it('seals the tokens bound to account and workspace; after a key rotation they still open and are re-sealed with the new key', async () => {
    const g = await grant();
    const before = storeWith(new TokenCipher(OLD_KEY));
    await before.install('acct-rot', g);
    const raw = await models.SlackInstallation.findById('acct-rot').lean();
    expect(JSON.stringify(raw)).not.toContain(g.accessToken);
    expect(JSON.stringify(raw)).not.toContain(g.refreshToken!);
    expect(raw!.botToken!.keyId).toBe(TokenCipher.keyId(OLD_KEY));

    // A copy under another account does not open (the ciphertext is bound to its account).
    await models.SlackInstallation.create({ ...raw, _id: 'acct-thief' });
    await expect(before.botToken((await before.get('acct-thief'))!)).rejects.toThrow();

    const after = storeWith(new TokenCipher(NEW_KEY, [OLD_KEY]));
    expect(await after.botToken((await after.get('acct-rot'))!)).toBe(g.accessToken);
    expect((await models.SlackInstallation.findById('acct-rot').lean())!.botToken!.keyId).toBe(TokenCipher.keyId(NEW_KEY));
    expect(await after.botToken((await after.get('acct-rot'))!)).toBe(g.accessToken);
  });

  it('refreshes a rotating token before it expires, and keeps the new pair sealed', async () => {
    const store = storeWith(new TokenCipher(NEW_KEY));
    const g = await grant();
    await store.install('acct-exp', g);
    await models.SlackInstallation.updateOne({ _id: 'acct-exp' }, { $set: { tokenExpiresAt: new Date(Date.now() + 60_000) } });
    const token = await store.botToken((await store.get('acct-exp'))!);
    expect(token).not.toBe(g.accessToken);
    const client = await store.clientOf((await store.get('acct-exp'))!);
    expect((await client!.auth.test()).team_id).toBe('T0ROTA');
    const raw = await models.SlackInstallation.findById('acct-exp').lean();
    expect(raw!.tokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 11 * 3600_000);
    expect(JSON.stringify(raw)).not.toContain(token!);
  });

  it('refreshes a rotating token once when several alerts need it at the same moment, and every one of them gets a working token', async () => {
    const store = storeWith(new TokenCipher(NEW_KEY));
    await store.install('acct-burst', await grant());
    await models.SlackInstallation.updateOne({ _id: 'acct-burst' }, { $set: { tokenExpiresAt: new Date(Date.now() + 60_000) } });
    const inst = (await store.get('acct-burst'))!;
    // A refresh token works once (as with Jobber): a second refresh with the same one is refused.
    const tokens = await Promise.all([store.botToken(inst), store.botToken(inst), store.botToken(inst)]);
    expect(new Set(tokens).size).toBe(1);
    const client = await store.clientOf((await store.get('acct-burst'))!);
    expect((await client!.auth.test()).team_id).toBe('T0ROTA');
  });

  it('two installs racing for one account leave exactly one installation, of one of the two workspaces', async () => {
    slack.standIn.addTeam({ id: 'T0RACEA', name: 'Race A' });
    slack.standIn.addTeam({ id: 'T0RACEB', name: 'Race B' });
    const store = storeWith(new TokenCipher(NEW_KEY));
    const codeFor = (teamId: string) =>
      oauth.exchangeCode(
        slack.standIn.workspaces.issueCode({ clientId: oauth.credentials.clientId, redirectUri: REDIRECT, teamId, scopes: ['chat:write'], userId: 'U0X' }),
      );
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([codeFor('T0RACEA'), codeFor('T0RACEB')]);
      await Promise.all([store.install(`acct-race-${round}`, a), store.install(`acct-race-${round}`, b)]);
      const docs = await models.SlackInstallation.find({ _id: `acct-race-${round}` }).lean();
      expect(docs).toHaveLength(1);
      // Whole: the token opens and belongs to the workspace the document names.
      const client = await store.clientOf((await store.get(`acct-race-${round}`))!);
      expect((await client!.auth.test()).team_id).toBe(docs[0]!.teamId);
    }
  });
});
