/** Jobber's access tokens live 60 minutes: the lifetime assumed for a token that names none. */
export const DEFAULT_TOKEN_LIFETIME_MS = 60 * 60_000;

/**
 * When the account workflow refreshes an access token with no caller: `refreshAheadMs` before it
 * expires, but never more than half its lifetime ahead, so a token shorter-lived than the margin
 * is refreshed about once per lifetime instead of always being due. The lifetime is `exp - iat`
 * (or `exp` minus when we got it); a token without `exp` lives Jobber's 60 minutes. As clocks may
 * disagree with Jobber's, it is never due again within half a lifetime of our last refresh.
 */
export function refreshDueAt(token: { issuedAt?: string; expiresAt?: string; lastRefreshAt?: string }, refreshAheadMs: number, now: number): number {
  const issued = token.issuedAt ? Date.parse(token.issuedAt) : now;
  const expires = token.expiresAt ? Date.parse(token.expiresAt) : issued + DEFAULT_TOKEN_LIFETIME_MS;
  const lifetime = expires - issued;
  const due = expires - Math.min(refreshAheadMs, lifetime / 2);
  return token.lastRefreshAt && lifetime > 0 ? Math.max(due, Date.parse(token.lastRefreshAt) + lifetime / 2) : due;
}
