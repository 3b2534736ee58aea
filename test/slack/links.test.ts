import type mongoose from 'mongoose';
import { createModels, type Models } from '../../src/db/models';
import { linkedAccounts, linkWorkspace, SlackLinkInputError, unlinkWorkspace } from '../../src/db/slack-links';
import { connectMongo } from '../helpers/env';

describe('slack_links on a real MongoDB wire-protocol server', () => {
  let connection: mongoose.Connection;
  let links: Models['SlackLink'];

  beforeAll(async () => {
    connection = await connectMongo('slack_links');
    links = (await createModels(connection)).SlackLink;
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('registers once per connection', async () => {
    expect((await createModels(connection)).SlackLink).toBe(links);
    expect(links.collection.collectionName).toBe('slack_links');
  });

  it('links a workspace to accounts idempotently, and records who and when', async () => {
    const at = new Date('2025-05-14T12:00:00Z');
    expect(await linkWorkspace(links, 'T0ONE', 'acct-a', { linkedBy: 'ops:alice', now: at })).toEqual({ teamId: 'T0ONE', accountIds: ['acct-a'] });
    expect(await linkWorkspace(links, 'T0ONE', 'acct-a')).toEqual({ teamId: 'T0ONE', accountIds: ['acct-a'] });
    expect(await linkWorkspace(links, 'T0ONE', 'acct-b', { linkedBy: 'ops:bob', now: at })).toEqual({ teamId: 'T0ONE', accountIds: ['acct-a', 'acct-b'] });
    expect(await links.findById('T0ONE').lean()).toEqual({ _id: 'T0ONE', accountIds: ['acct-a', 'acct-b'], linkedAt: at, linkedBy: 'ops:bob' });
    expect(await linkedAccounts(links, 'T0ONE')).toEqual(['acct-a', 'acct-b']);
    expect(await linkedAccounts(links, 'T0NOBODY')).toEqual([]);
  });

  it('unlinks one account, or the whole workspace', async () => {
    await linkWorkspace(links, 'T0TWO', 'acct-a');
    await linkWorkspace(links, 'T0TWO', 'acct-b');
    expect(await unlinkWorkspace(links, 'T0TWO', 'acct-a')).toBe(true);
    expect(await unlinkWorkspace(links, 'T0TWO', 'acct-a')).toBe(false);
    expect(await linkedAccounts(links, 'T0TWO')).toEqual(['acct-b']);
    expect(await unlinkWorkspace(links, 'T0TWO')).toBe(true);
    expect(await unlinkWorkspace(links, 'T0TWO')).toBe(false);
    expect(await linkedAccounts(links, 'T0TWO')).toEqual([]);
  });

  it('refuses what is not a team id or an account id (e.g. swapped arguments)', async () => {
    await expect(linkWorkspace(links, 'Z2lkOi8vSm9iYmVyL0FjY291bnQvMQ==', 'T0ONE ')).rejects.toThrow(SlackLinkInputError);
    await expect(linkWorkspace(links, 't0lower', 'acct-a')).rejects.toThrow('is not a Slack team id');
    await expect(linkWorkspace(links, 'T0ONE', 'has space')).rejects.toThrow('is not a Jobber account id');
    expect(await links.countDocuments({ _id: { $in: ['t0lower', 'Z2lkOi8vSm9iYmVyL0FjY291bnQvMQ=='] } })).toBe(0);
  });
});
