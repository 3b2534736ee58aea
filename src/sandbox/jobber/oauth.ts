import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { SandboxClock } from './clock';
import type { JobberStore } from './store';

/** Authorization codes live 10 minutes (the usual OAuth value; Jobber does not document it). */
export const CODE_TTL_MS = 10 * 60_000;

export const INVALID_REFRESH_TOKEN_MESSAGE = 'The provided refresh token is not valid';
export const DISCONNECTED_MESSAGE = 'User has disconnected this app from their account. Please delete this token';
const INVALID_CODE_MESSAGE =
  'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.';

/** A short, non-reversible name for a token, safe for logs and the admin API. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** A refusal from the token endpoint: HTTP status and JSON body. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string; message: string },
  ) {
    super(body.message);
    this.name = 'OAuthError';
  }
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_at?: string;
}

export interface OAuthLogEntry {
  at: string;
  event: 'token' | 'disconnect' | 'roll_secret' | 'expire_access_tokens';
  grantType?: string;
  accountId?: string;
  outcome?: 'accepted' | 'rejected' | 'injected';
  error?: string;
  /** Fingerprint (tokenFingerprint) of the refresh token presented. */
  refreshToken?: string;
  /** Fingerprint of the refresh token issued. */
  issuedRefreshToken?: string;
  detail?: string;
}

export type AccessCheck = { ok: true; accountId: number; userId: number } | { ok: false; reason: 'missing' | 'invalid' | 'expired' | 'disconnected' };

export interface ConnectionState {
  status: 'never' | 'connected' | 'disconnected';
  connectedAt?: string;
  disconnectedAt?: string;
}

interface CodeRecord {
  accountId: number;
  userId: number;
  clientId: string;
  redirectUri: string;
  expiresAt: number;
}

interface RefreshRecord {
  accountId: number;
  userId: number;
  status: 'active' | 'used' | 'revoked';
}

interface AccessRecord {
  accountId: number;
  userId: number;
  status: 'active' | 'expired' | 'revoked';
}

export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  appId: string;
  accessTokenTtlSeconds: number;
  jwtSecret: string;
}

/**
 * The sandbox's OAuth server state: codes, access tokens (HS256 JWTs with `exp`, numeric
 * `account_id`, `app_id`) and opaque rotating refresh tokens. Token values are never stored:
 * refresh tokens by hash, access tokens by `jti`.
 */
export class OAuthService {
  private secret: string;
  private readonly key: Uint8Array;
  private readonly codes = new Map<string, CodeRecord>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();
  private readonly accessTokens = new Map<string, AccessRecord>();
  private readonly connections = new Map<number, ConnectionState>();
  readonly log: OAuthLogEntry[] = [];

  constructor(
    private readonly config: OAuthConfig,
    private readonly clock: SandboxClock,
    private readonly store: JobberStore,
  ) {
    this.secret = config.clientSecret;
    this.key = new TextEncoder().encode(config.jwtSecret);
  }

  get clientId(): string {
    return this.config.clientId;
  }

  get clientSecret(): string {
    return this.secret;
  }

  get appId(): string {
    return this.config.appId;
  }

  /** Forgets codes, tokens, connections and the log; restores the configured client secret. */
  reset(): void {
    this.secret = this.config.clientSecret;
    this.codes.clear();
    this.refreshTokens.clear();
    this.accessTokens.clear();
    this.connections.clear();
    this.log.length = 0;
  }

  connection(accountId: number): ConnectionState {
    return this.connections.get(accountId) ?? { status: 'never' };
  }

  /** A single-use code bound to the client and redirect URI. */
  createCode(accountId: number, clientId: string, redirectUri: string): string {
    const account = this.store.accountByNumber(accountId);
    if (!account) throw new Error(`unknown account ${accountId}`);
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, {
      accountId,
      userId: account.ownerUserId,
      clientId,
      redirectUri,
      expiresAt: this.clock.nowMs() + CODE_TTL_MS,
    });
    return code;
  }

  /** The token endpoint: `authorization_code` and `refresh_token` grants. */
  async grant(params: Record<string, string | undefined>): Promise<TokenResponse> {
    const grantType = params.grant_type;
    if (params.client_id !== this.config.clientId || params.client_secret !== this.secret) {
      return this.reject(grantType, 401, 'invalid_client', 'Client authentication failed', params.refresh_token);
    }
    if (grantType === 'authorization_code') {
      const code = params.code ? this.codes.get(params.code) : undefined;
      // Single use: the code is gone whatever happens next.
      if (params.code) this.codes.delete(params.code);
      if (!code || code.expiresAt <= this.clock.nowMs() || code.clientId !== params.client_id || code.redirectUri !== params.redirect_uri) {
        return this.reject(grantType, 400, 'invalid_grant', INVALID_CODE_MESSAGE);
      }
      if (!this.store.accountByNumber(code.accountId)) return this.reject(grantType, 400, 'invalid_grant', INVALID_CODE_MESSAGE);
      this.connections.set(code.accountId, { status: 'connected', connectedAt: this.clock.now().toISOString() });
      const tokens = await this.issue(code.accountId, code.userId);
      this.record({
        event: 'token',
        grantType,
        accountId: this.store.enc('Account', code.accountId),
        outcome: 'accepted',
        issuedRefreshToken: tokenFingerprint(tokens.refresh_token),
      });
      return { access_token: tokens.access_token, refresh_token: tokens.refresh_token };
    }
    if (grantType === 'refresh_token') {
      const presented = params.refresh_token ?? '';
      const record = this.refreshTokens.get(hashToken(presented));
      // Checked and rotated synchronously: of two racing refreshes with one token, exactly one wins.
      if (!record || record.status !== 'active' || !this.store.accountByNumber(record.accountId)) {
        return this.reject(grantType, 401, 'invalid_grant', INVALID_REFRESH_TOKEN_MESSAGE, presented, record?.accountId, record?.status);
      }
      record.status = 'used';
      const tokens = await this.issue(record.accountId, record.userId);
      this.record({
        event: 'token',
        grantType,
        accountId: this.store.enc('Account', record.accountId),
        outcome: 'accepted',
        refreshToken: tokenFingerprint(presented),
        issuedRefreshToken: tokenFingerprint(tokens.refresh_token),
      });
      return tokens;
    }
    return this.reject(grantType, 400, 'unsupported_grant_type', `The authorization grant type is not supported by the authorization server.`);
  }

  /** The account a refresh token was issued for (whatever its state); undefined when unknown. */
  refreshTokenAccount(refreshToken: string): number | undefined {
    return this.refreshTokens.get(hashToken(refreshToken))?.accountId;
  }

  /** Logs a request answered by an injected fault, so tests see when each attempt came. */
  recordInjected(params: Record<string, string | undefined>, detail: string): void {
    const record = params.refresh_token ? this.refreshTokens.get(hashToken(params.refresh_token)) : undefined;
    this.record({
      event: 'token',
      grantType: params.grant_type,
      accountId: record ? this.store.enc('Account', record.accountId) : undefined,
      outcome: 'injected',
      refreshToken: params.refresh_token ? tokenFingerprint(params.refresh_token) : undefined,
      detail,
    });
  }

  /**
   * Jobber's own refusal, injected. Kept true: after `invalid_grant` the presented refresh token
   * is dead, as it would be on Jobber.
   */
  refusal(error: 'invalid_client' | 'invalid_grant', refreshToken?: string): { status: number; body: { error: string; message: string } } {
    if (error === 'invalid_client') return { status: 401, body: { error, message: 'Client authentication failed' } };
    const record = refreshToken ? this.refreshTokens.get(hashToken(refreshToken)) : undefined;
    if (record?.status === 'active') record.status = 'revoked';
    return { status: 401, body: { error, message: INVALID_REFRESH_TOKEN_MESSAGE } };
  }

  /** Tokens for a connected account without the browser dance (tests, admin API). */
  async connect(accountId: number): Promise<TokenResponse> {
    const account = this.store.accountByNumber(accountId);
    if (!account) throw new Error(`unknown account ${accountId}`);
    this.connections.set(accountId, { status: 'connected', connectedAt: this.clock.now().toISOString() });
    const tokens = await this.issue(accountId, account.ownerUserId);
    this.record({
      event: 'token',
      grantType: 'sandbox_connect',
      accountId: this.store.enc('Account', accountId),
      outcome: 'accepted',
      issuedRefreshToken: tokenFingerprint(tokens.refresh_token),
    });
    return { access_token: tokens.access_token, refresh_token: tokens.refresh_token };
  }

  async verifyAccessToken(authorization: string | undefined): Promise<AccessCheck> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) return { ok: false, reason: 'missing' };
    let jti: string | undefined;
    try {
      const { payload } = await jwtVerify(match[1]!, this.key, { algorithms: ['HS256'], currentDate: this.clock.now() });
      jti = payload.jti;
    } catch (err) {
      return { ok: false, reason: err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid' };
    }
    const record = jti ? this.accessTokens.get(jti) : undefined;
    if (!record || !this.store.accountByNumber(record.accountId)) return { ok: false, reason: 'invalid' };
    if (record.status === 'revoked') return { ok: false, reason: 'disconnected' };
    if (record.status === 'expired') return { ok: false, reason: 'expired' };
    return { ok: true, accountId: record.accountId, userId: record.userId };
  }

  /** Invalidates every token of the account for this app and marks it disconnected. */
  disconnect(accountId: number, detail: string): void {
    for (const record of [...this.refreshTokens.values(), ...this.accessTokens.values()]) {
      if (record.accountId === accountId) record.status = 'revoked';
    }
    this.connections.set(accountId, {
      ...this.connection(accountId),
      status: 'disconnected',
      disconnectedAt: this.clock.now().toISOString(),
    });
    this.record({ event: 'disconnect', accountId: this.store.enc('Account', accountId), detail });
  }

  /** Makes the account's current access tokens answer 401 (expired) from now on. */
  expireAccessTokens(accountId: number): number {
    let count = 0;
    for (const record of this.accessTokens.values()) {
      if (record.accountId === accountId && record.status === 'active') {
        record.status = 'expired';
        count += 1;
      }
    }
    this.record({ event: 'expire_access_tokens', accountId: this.store.enc('Account', accountId), detail: `${count} token(s)` });
    return count;
  }

  /** A new client secret; every refresh token dies, as Jobber documents. */
  rollSecret(newSecret?: string): string {
    this.secret = newSecret ?? `sandbox-secret-${randomBytes(12).toString('hex')}`;
    let count = 0;
    for (const record of this.refreshTokens.values()) {
      if (record.status === 'active') {
        record.status = 'revoked';
        count += 1;
      }
    }
    this.record({ event: 'roll_secret', detail: `${count} refresh token(s) revoked` });
    return this.secret;
  }

  private async issue(accountId: number, userId: number): Promise<Required<TokenResponse>> {
    const jti = randomUUID();
    const refreshToken = randomBytes(32).toString('base64url');
    // Registered before the await so no concurrent grant can observe a half-issued pair.
    this.accessTokens.set(jti, { accountId, userId, status: 'active' });
    this.refreshTokens.set(hashToken(refreshToken), { accountId, userId, status: 'active' });
    const iat = Math.floor(this.clock.nowMs() / 1000);
    const exp = iat + this.config.accessTokenTtlSeconds;
    const accessToken = await new SignJWT({ account_id: accountId, app_id: this.config.appId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.key);
    return { access_token: accessToken, refresh_token: refreshToken, expires_at: new Date(exp * 1000).toISOString() };
  }

  private reject(
    grantType: string | undefined,
    status: number,
    error: string,
    message: string,
    presentedRefreshToken?: string,
    accountId?: number,
    tokenStatus?: string,
  ): never {
    this.record({
      event: 'token',
      grantType,
      accountId: accountId !== undefined ? this.store.enc('Account', accountId) : undefined,
      outcome: 'rejected',
      error,
      refreshToken: presentedRefreshToken ? tokenFingerprint(presentedRefreshToken) : undefined,
      detail: tokenStatus ? `refresh token was ${tokenStatus}` : undefined,
    });
    throw new OAuthError(status, { error, message });
  }

  private record(entry: Omit<OAuthLogEntry, 'at'>): void {
    this.log.push({ at: this.clock.now().toISOString(), ...entry });
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
