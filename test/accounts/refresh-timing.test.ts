import { DEFAULT_TOKEN_LIFETIME_MS, refreshDueAt } from '../../workflows/refresh-timing';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { refreshGrants, startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

const FIVE_MINUTES = 5 * 60_000;

describe('refresh-ahead scales with the token lifetime', () => {
  const at = (ms: number) => new Date(ms).toISOString();
  const t0 = Date.parse('2026-12-01T10:00:00Z');

  it('refreshes a 60-minute token 5 minutes ahead, a 150-second one at half its life', () => {
    expect(refreshDueAt({ issuedAt: at(t0), expiresAt: at(t0 + 60 * 60_000) }, FIVE_MINUTES, t0)).toBe(t0 + 55 * 60_000);
    expect(refreshDueAt({ issuedAt: at(t0), expiresAt: at(t0 + 150_000) }, FIVE_MINUTES, t0)).toBe(t0 + 75_000);
  });

  it("gives a token without exp Jobber's 60 minutes, not a refresh every second", () => {
    expect(DEFAULT_TOKEN_LIFETIME_MS).toBe(60 * 60_000);
    expect(refreshDueAt({ issuedAt: at(t0) }, FIVE_MINUTES, t0 + 1000)).toBe(t0 + 55 * 60_000);
    expect(refreshDueAt({}, FIVE_MINUTES, t0)).toBe(t0 + 55 * 60_000);
  });

  it('refreshes an already expired token at once, but never again within half a lifetime of its own refresh', () => {
    expect(refreshDueAt({ issuedAt: at(t0 - 7200_000), expiresAt: at(t0 - 3600_000) }, FIVE_MINUTES, t0)).toBeLessThanOrEqual(t0);
    // Jobber's clock a minute behind ours: a fresh 150-second token would look nearly expired.
    const skewed = { issuedAt: at(t0 - 60_000), expiresAt: at(t0 + 90_000), lastRefreshAt: at(t0) };
    expect(refreshDueAt(skewed, FIVE_MINUTES, t0)).toBe(t0 + 75_000);
  });

  describe('with short-lived access tokens (sandbox over HTTP, real Temporal)', () => {
    const TTL_SECONDS = 12;
    let p: Pipeline;

    beforeAll(async () => {
      // The default 5-minute margin is longer than the whole lifetime.
      p = await startPipeline('refresh-timing', { sandbox: { accessTokenTtlSeconds: TTL_SECONDS } });
    });
    afterAll(async () => {
      await p?.close();
    });

    it('refreshes about once per lifetime, never in a storm, and keeps the account usable', async () => {
      const account = p.jobber.sandbox.store.createAccount({ name: 'Short Lived Co' });
      await followConnectFlow(p.ingressUrl, account.id);
      await waitFor(async () => ((await p.control.state(account.id))?.backfill === 'done' ? true : undefined), 120_000);
      const lifetimeMs = TTL_SECONDS * 1000;
      const windowMs = 3 * lifetimeMs;
      const before = refreshGrants(p, account.id).length;
      await new Promise((r) => setTimeout(r, windowMs));
      const grants = refreshGrants(p, account.id).slice(before);
      expect(grants.every((g) => g.outcome === 'accepted')).toBe(true);
      // Due at half the lifetime at the soonest: at most one per half lifetime in the window (plus
      // one already due at its start). It kept refreshing: never a whole lifetime without one.
      expect(grants.length).toBeLessThanOrEqual(windowMs / (lifetimeMs / 2) + 1);
      expect(grants.length).toBeGreaterThanOrEqual(windowMs / lifetimeMs - 1);
      const { webhookIds } = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(account.id, { firstName: 'Fresh' }));
      expect(await p.outcomes(webhookIds)).toEqual([expect.objectContaining({ status: 'synced' })]);
    }, 180_000);
  });
});
