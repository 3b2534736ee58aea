import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import type { ConnectionDoc, Models } from '../db/models';

/** The signed cookie that carries a Manage App session id. */
export const SESSION_COOKIE = 'jobber_account';

/** How long a Manage App sign-in lasts; signing in again is one click through Jobber's consent. */
export const SESSION_LIFETIME_MS = 12 * 3600_000;

const cookieOptions = { httpOnly: true, signed: true, sameSite: 'lax' as const, overwrite: true };

/** A valid session: its account, its form token and the connection it is bound to. */
export interface Session {
  accountId: string;
  csrf: string;
  connection: ConnectionDoc & { _id: string };
}

const hashOf = (id: string): string => createHash('sha256').update(id).digest('base64url');

/**
 * Server-side Manage App sessions. A session is valid until it expires, is ended (sign out,
 * disconnect), or its connection stops being the one it was made for: the connection must be
 * `connected`, and connected no later than the session was created. A disconnect therefore ends
 * every session of the account, and a reconnect (by anyone) does not bring them back.
 */
export class Sessions {
  constructor(
    private readonly models: Models,
    private readonly options: { lifetimeMs?: number; now?: () => Date } = {},
  ) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Signs this browser into `accountId`: call only after this sign-in's grant was received, so the session never predates its connectedAt. */
  async start(ctx: Context, accountId: string): Promise<void> {
    const id = randomBytes(32).toString('base64url');
    const createdAt = this.now();
    const expiresAt = new Date(createdAt.getTime() + (this.options.lifetimeMs ?? SESSION_LIFETIME_MS));
    // Where the store has no TTL index (FerretDB v1), expired sessions go here instead.
    await this.models.Session.deleteMany({ expiresAt: { $lte: createdAt } });
    await this.models.Session.create({ _id: hashOf(id), accountId, csrf: randomBytes(32).toString('base64url'), createdAt, expiresAt });
    ctx.cookies.set(SESSION_COOKIE, id, { ...cookieOptions, expires: expiresAt });
  }

  /** The request's valid session, or undefined when there is none. */
  async current(ctx: Context): Promise<Session | undefined> {
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (!id) return undefined;
    const session = await this.models.Session.findById(hashOf(id)).lean();
    if (!session) {
      this.clearCookie(ctx);
      return undefined;
    }
    const connection = await this.models.Connection.findById(session.accountId).lean();
    const ended =
      session.expiresAt <= this.now() ||
      // A connection made after the session (a reconnect, by anyone): never valid again.
      (connection?.connectedAt != null && session.createdAt < connection.connectedAt) ||
      // Disconnected (or broken) while the session lived.
      (connection != null && connection.status !== 'connected' && connection.disconnectedAt != null && connection.disconnectedAt >= session.createdAt);
    if (ended) {
      await this.models.Session.deleteOne({ _id: session._id });
      this.clearCookie(ctx);
      return undefined;
    }
    // Not connected yet: the account workflow has not written the connection of this very sign-in.
    // Refused for now, kept for when it has.
    if (connection?.status !== 'connected' || !connection.connectedAt) return undefined;
    return { accountId: session.accountId, csrf: session.csrf, connection: connection as Session['connection'] };
  }

  /** True when `token` is this session's form token (constant-time). */
  validCsrf(session: Session, token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const a = Buffer.from(token);
    const b = Buffer.from(session.csrf);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Sign out: this session is deleted and its cookie cleared. */
  async end(ctx: Context): Promise<void> {
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (id) await this.models.Session.deleteOne({ _id: hashOf(id) });
    this.clearCookie(ctx);
  }

  /** Disconnect: every session of the account is deleted (they are invalid from now on anyway). */
  async endAll(ctx: Context, accountId: string): Promise<void> {
    await this.models.Session.deleteMany({ accountId });
    this.clearCookie(ctx);
  }

  private clearCookie(ctx: Context): void {
    ctx.cookies.set(SESSION_COOKIE, null, cookieOptions);
  }
}
