import { randomUUID } from 'node:crypto';
import { TokenCipher } from '../crypto/tokens';
import type { Models } from '../db/models';
import { startOfSecond, type ConnectionStatus } from '../../workflows/definitions';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

export class AccountNotConnectedError extends Error {
  constructor(
    readonly accountId: string,
    readonly status: string,
  ) {
    super(`Jobber account ${accountId} is ${status}`);
    this.name = 'AccountNotConnectedError';
  }
}

export class StaleTokenVersionError extends Error {
  constructor(accountId: string, expected: number) {
    super(`tokens of account ${accountId} changed since version ${expected}`);
    this.name = 'StaleTokenVersionError';
  }
}

/** A numeric-date claim of a Jobber access token (a JWT whose signature only Jobber can check). */
function accessTokenTime(accessToken: string, claim: 'exp' | 'iat'): Date | undefined {
  const payload = accessToken.split('.')[1];
  if (!payload) return undefined;
  try {
    const value = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>)[claim];
    return typeof value === 'number' ? new Date(value * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** The `exp` of a Jobber access token. */
export const accessTokenExpiry = (accessToken: string): Date | undefined => accessTokenTime(accessToken, 'exp');

/** The `iat` of a Jobber access token. */
export const accessTokenIssuedAt = (accessToken: string): Date | undefined => accessTokenTime(accessToken, 'iat');

/**
 * Tokens at rest, sealed with AES-256-GCM and bound to their account. Every write is a
 * compare-and-swap on tokenVersion, so a writer holding an old view can never overwrite a newer pair.
 */
export class TokenStore {
  constructor(
    private readonly models: Models,
    private readonly cipher: TokenCipher,
  ) {}

  /**
   * Seeds a connection directly, for tests and the bench where no account workflow runs. The
   * service itself never calls it: the OAuth callback stores a grant (storeGrant) and the account
   * workflow, the only writer of the connection document, adopts it (adopt).
   */
  async connect(account: { id: string; name: string; userId?: string }, tokens: TokenPair, now = new Date()): Promise<number> {
    const doc = await this.models.Connection.findOneAndUpdate(
      { _id: account.id },
      {
        $set: {
          name: account.name,
          userId: account.userId,
          status: 'connected',
          connectedAt: now,
          ...this.sealed(account.id, tokens),
        },
        $unset: { statusReason: 1, disconnectedAt: 1, refreshStartedAt: 1 },
        $inc: { tokenVersion: 1 },
      },
      { upsert: true, returnDocument: 'after' },
    ).lean();
    return doc!.tokenVersion;
  }

  /**
   * Keeps a grant the OAuth callback received, in a document of its own: the connection document
   * has one writer, the account workflow, which adopts the grant by its id.
   */
  async storeGrant(account: { id: string; name: string; userId?: string }, tokens: TokenPair, receivedAt = new Date()): Promise<string> {
    const grant = await this.models.Grant.create({
      _id: randomUUID(),
      accountId: account.id,
      name: account.name,
      userId: account.userId,
      receivedAt,
      ...this.sealed(account.id, tokens),
    });
    return grant._id;
  }

  /** Forgets a grant nobody will adopt (its workflow could not be told). */
  async dropGrant(grantId: string): Promise<void> {
    await this.models.Grant.deleteOne({ _id: grantId });
  }

  /** Whether the connection now is the one made from this grant. */
  async adopted(accountId: string, grantId: string): Promise<boolean> {
    return Boolean(await this.models.Connection.exists({ _id: accountId, grantId }));
  }

  /**
   * Makes a stored grant the account's connection (the account workflow's activity): a
   * compare-and-swap on the version read, so no write in between is lost. Idempotent: a retry
   * after the save finds the grant adopted. A grant older than the connection is dropped.
   */
  async adopt(accountId: string, grantId: string): Promise<{ adopted: boolean }> {
    const [grant, current] = await Promise.all([
      this.models.Grant.findById(grantId).lean(),
      this.models.Connection.findById(accountId, { grantId: 1, connectedAt: 1, tokenVersion: 1 }).lean(),
    ]);
    if (!grant || grant.accountId !== accountId || current?.grantId === grantId) {
      if (grant && current?.grantId === grantId) await this.dropGrant(grantId);
      return { adopted: false };
    }
    if (current?.connectedAt && current.connectedAt > grant.receivedAt) {
      await this.dropGrant(grantId); // a newer connect was adopted first
      return { adopted: false };
    }
    const connection = {
      name: grant.name,
      userId: grant.userId,
      status: 'connected' as const,
      connectedAt: grant.receivedAt,
      grantId,
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      accessTokenExpiresAt: grant.accessTokenExpiresAt,
    };
    if (!current) {
      // A duplicate key (someone created it meanwhile) fails the activity, which retries.
      await this.models.Connection.create({ _id: accountId, ...connection, tokenVersion: 1 });
    } else {
      const saved = await this.models.Connection.findOneAndUpdate(
        { _id: accountId, tokenVersion: current.tokenVersion },
        { $set: connection, $unset: { statusReason: 1, disconnectedAt: 1, refreshStartedAt: 1 }, $inc: { tokenVersion: 1 } },
      ).lean();
      if (!saved) throw new StaleTokenVersionError(accountId, current.tokenVersion);
    }
    await this.dropGrant(grantId);
    return { adopted: true };
  }

  async read(accountId: string): Promise<TokenPair & { version: number; expiresAt?: Date }> {
    const doc = await this.models.Connection.findById(accountId).lean();
    if (!doc) throw new AccountNotConnectedError(accountId, 'unknown');
    if (doc.status !== 'connected' || !doc.accessToken || !doc.refreshToken) {
      throw new AccountNotConnectedError(accountId, doc.status);
    }
    return {
      accessToken: this.cipher.open(doc.accessToken as never, accountId),
      refreshToken: this.cipher.open(doc.refreshToken as never, accountId),
      version: doc.tokenVersion,
      expiresAt: doc.accessTokenExpiresAt ?? undefined,
    };
  }

  /** Notes that a refresh of version `version` is about to be sent; false if the version moved on. */
  async markRefreshStarted(accountId: string, version: number, now = new Date()): Promise<{ marked: boolean; interrupted?: Date }> {
    const before = await this.models.Connection.findOneAndUpdate(
      { _id: accountId, tokenVersion: version, status: 'connected' },
      { $set: { refreshStartedAt: now } },
      { returnDocument: 'before' },
    ).lean();
    return { marked: Boolean(before), interrupted: before?.refreshStartedAt ?? undefined };
  }

  /** Clears the marker of version `version` after an answer that shows Jobber did not spend the token. */
  async clearRefreshStarted(accountId: string, version: number): Promise<void> {
    await this.models.Connection.updateOne({ _id: accountId, tokenVersion: version, status: 'connected' }, { $unset: { refreshStartedAt: 1 } });
  }

  /** Saves a rotated pair only if nobody wrote since `expectedVersion`; returns the new version. */
  async rotate(accountId: string, expectedVersion: number, tokens: TokenPair): Promise<number> {
    const doc = await this.models.Connection.findOneAndUpdate(
      { _id: accountId, tokenVersion: expectedVersion, status: 'connected' },
      { $set: this.sealed(accountId, tokens), $unset: { refreshStartedAt: 1 }, $inc: { tokenVersion: 1 } },
      { returnDocument: 'after' },
    ).lean();
    if (!doc) throw new StaleTokenVersionError(accountId, expectedVersion);
    return doc.tokenVersion;
  }

  /**
   * Forgets the tokens (disconnect or a dead refresh token). Idempotent. With `connectedBefore`,
   * a connection made after that instant, or one already disconnected, is left alone: a late APP_DISCONNECT must not undo a
   * reconnect. With `expectedVersion`, only that live generation of tokens is purged. With
   * `connectedAt`, only the connection made at that instant (whatever its refreshes since).
   */
  async purge(
    accountId: string,
    status: Exclude<ConnectionStatus, 'connected'>,
    reason: string,
    options: { connectedBefore?: Date; expectedVersion?: number; connectedAt?: Date; now?: Date } = {},
  ): Promise<boolean> {
    const filter: Record<string, unknown> = { _id: accountId };
    if (options.connectedAt) filter.connectedAt = options.connectedAt;
    if (options.connectedBefore) {
      // Jobber stamps whole seconds: a disconnect stamped S happened within [S, S + 1 s). A live
      // connection made in that second may be a reconnect after it, so it is left alone; one that
      // is no longer live (its refresh token was refused) holds nothing a reconnect could lose.
      const endOfSecond = new Date(startOfSecond(options.connectedBefore) + 1000);
      filter.$or = [
        { connectedAt: null },
        { connectedAt: { $lt: options.connectedBefore } },
        { status: { $ne: 'connected' }, connectedAt: { $lt: endOfSecond } },
      ];
      // A webhook's disconnect of an account already disconnected keeps the first reason and time.
      filter.status = { $ne: 'disconnected' };
    }
    // Only a live connection at that version may become broken: never overwrite a disconnect.
    if (options.expectedVersion !== undefined) Object.assign(filter, { status: 'connected', tokenVersion: options.expectedVersion });
    const now = options.now ?? new Date();
    const result = await this.models.Connection.updateOne(filter, {
      $set: { status, statusReason: reason, disconnectedAt: now },
      $unset: { accessToken: 1, refreshToken: 1, accessTokenExpiresAt: 1, refreshStartedAt: 1 },
      $inc: { tokenVersion: 1 },
    });
    return result.matchedCount > 0;
  }

  private sealed(accountId: string, tokens: TokenPair) {
    return {
      accessToken: this.cipher.seal(tokens.accessToken, accountId),
      refreshToken: this.cipher.seal(tokens.refreshToken, accountId),
      accessTokenExpiresAt: accessTokenExpiry(tokens.accessToken),
      // Its lifetime schedules the next refresh; without `iat`, the time we got it.
      accessTokenIssuedAt: accessTokenIssuedAt(tokens.accessToken) ?? new Date(),
    };
  }
}
