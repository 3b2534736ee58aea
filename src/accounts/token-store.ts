import { TokenCipher } from '../crypto/tokens';
import type { Models } from '../db/models';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

export class AccountNotConnectedError extends Error {
  constructor(readonly accountId: string, readonly status: string) {
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

  /** Stores a fresh connection (OAuth callback): any earlier tokens and status are replaced. */
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
   * a connection made after that instant is left alone: a late APP_DISCONNECT must not undo a
   * reconnect. With `expectedVersion`, only that live generation of tokens is purged.
   */
  async purge(
    accountId: string,
    status: 'disconnected' | 'broken',
    reason: string,
    options: { connectedBefore?: Date; expectedVersion?: number; now?: Date } = {},
  ): Promise<boolean> {
    const filter: Record<string, unknown> = { _id: accountId };
    if (options.connectedBefore) filter.$or = [{ connectedAt: null }, { connectedAt: { $lt: options.connectedBefore } }];
    // Only a live connection at that version may become broken: never overwrite a disconnect.
    if (options.expectedVersion !== undefined) Object.assign(filter, { status: 'connected', tokenVersion: options.expectedVersion });
    const now = options.now ?? new Date();
    const result = await this.models.Connection.updateOne(
      filter,
      {
        $set: { status, statusReason: reason, disconnectedAt: now },
        $unset: { accessToken: 1, refreshToken: 1, accessTokenExpiresAt: 1, refreshStartedAt: 1 },
        $inc: { tokenVersion: 1 },
      },
    );
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
