import { createHash } from 'node:crypto';
import type { TokenPair } from './token-store';

/**
 * How the token endpoint refused. Only `invalid_grant` is about the token itself; `invalid_client`
 * is about the app's credentials; the rest (429, 408, 5xx, a proxy's 403/404, no answer) say
 * nothing about the token, which Jobber has not consumed.
 */
export type OAuthErrorKind = 'invalid_grant' | 'invalid_client' | 'rate_limited' | 'unavailable';

export class OAuthError extends Error {
  constructor(
    readonly kind: OAuthErrorKind,
    message: string,
    readonly status?: number,
    /** From Retry-After (429, 503). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'OAuthError';
  }

  /** Only a dead grant (used, revoked, disconnected) will never work again. */
  get permanent(): boolean {
    return this.kind === 'invalid_grant';
  }
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface OAuthOptions {
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  timeoutMs?: number;
}

/** Jobber's OAuth 2 endpoints: authorize URL, code exchange and refresh (which rotates). */
export class JobberOAuth {
  constructor(private readonly options: OAuthOptions) {}

  /**
   * Names the app credentials in use without revealing the secret: the client id and a short
   * hash of the secret. A new secret (the fix of a bad deploy) gives a new name.
   */
  get credentialsId(): string {
    const hash = createHash('sha256').update(`jobber-client-secret:${this.options.clientSecret}`).digest('hex').slice(0, 12);
    return `${this.options.clientId}/${hash}`;
  }

  authorizeUrl(state?: string): string {
    const url = new URL(`${this.options.apiUrl}/oauth/authorize`);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.options.clientId);
    url.searchParams.set('redirect_uri', this.options.redirectUri);
    if (state) url.searchParams.set('state', state);
    return url.toString();
  }

  exchangeCode(code: string): Promise<TokenPair> {
    return this.token({ grant_type: 'authorization_code', code, redirect_uri: this.options.redirectUri });
  }

  /** Spends the refresh token: after this call only the returned pair is valid. */
  refresh(refreshToken: string): Promise<TokenPair> {
    return this.token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  private async token(params: Record<string, string>): Promise<TokenPair> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.options.apiUrl}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: new URLSearchParams({ client_id: this.options.clientId, client_secret: this.options.clientSecret, ...params }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      text = await res.text();
    } catch (err) {
      // A reset or a timeout, before or during the answer: Jobber may or may not have rotated.
      throw new OAuthError('unavailable', `Jobber's token endpoint did not answer: ${(err as Error).message}`);
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON (a proxy's page): classified by status below
    }
    if (res.ok && typeof body.access_token === 'string' && typeof body.refresh_token === 'string') {
      return { accessToken: body.access_token, refreshToken: body.refresh_token };
    }
    const detail = String(body.message ?? body.error_description ?? body.error ?? `HTTP ${res.status}`);
    // Only Jobber's own OAuth error codes on a 4xx speak about the grant or the client; a proxy
    // in front of Jobber answers 403/404/429 without them.
    if (res.status >= 400 && res.status < 500 && body.error === 'invalid_grant') {
      throw new OAuthError('invalid_grant', `Jobber rejected the grant: ${detail}`, res.status);
    }
    if (res.status >= 400 && res.status < 500 && body.error === 'invalid_client') {
      throw new OAuthError('invalid_client', `Jobber rejected the app credentials: ${detail}`, res.status);
    }
    const wait = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after')) : undefined;
    if (res.status === 429) throw new OAuthError('rate_limited', `Jobber's token endpoint rate limited us: ${detail}`, res.status, wait);
    throw new OAuthError('unavailable', `Jobber's token endpoint failed (HTTP ${res.status}): ${detail}`, res.status, wait);
  }
}
