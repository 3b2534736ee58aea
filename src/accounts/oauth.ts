import type { TokenPair } from './token-store';

export type OAuthErrorKind = 'invalid_grant' | 'invalid_client' | 'network' | 'server';

export class OAuthError extends Error {
  constructor(readonly kind: OAuthErrorKind, message: string, readonly status?: number) {
    super(message);
    this.name = 'OAuthError';
  }

  /** A dead grant (used, revoked, disconnected) will never work again; the rest may. */
  get permanent(): boolean {
    return this.kind === 'invalid_grant' || this.kind === 'invalid_client';
  }
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
    try {
      res = await fetch(`${this.options.apiUrl}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: new URLSearchParams({ client_id: this.options.clientId, client_secret: this.options.clientSecret, ...params }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new OAuthError('network', `Jobber's token endpoint did not answer: ${(err as Error).message}`);
    }
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: classified by status below
    }
    if (res.ok && typeof body.access_token === 'string' && typeof body.refresh_token === 'string') {
      return { accessToken: body.access_token, refreshToken: body.refresh_token };
    }
    const detail = String(body.message ?? body.error_description ?? body.error ?? `HTTP ${res.status}`);
    if (res.status >= 500 || res.ok) throw new OAuthError('server', `Jobber's token endpoint failed: ${detail}`, res.status);
    if (body.error === 'invalid_client') throw new OAuthError('invalid_client', `Jobber rejected the app credentials: ${detail}`, res.status);
    throw new OAuthError('invalid_grant', `Jobber rejected the grant: ${detail}`, res.status);
  }
}
