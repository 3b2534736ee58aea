/**
 * Walks the connect flow as a browser would: GET /auth/jobber on the ingress, Jobber's (sandbox's)
 * authorize step approved non-interactively for `accountId`, then the callback with the state
 * cookie. Returns the final answer and the cookies the ingress set.
 */
export async function followConnectFlow(
  ingressUrl: string,
  accountId: string,
  options: { approve?: boolean; startUrl?: string; tamper?: (url: URL) => void } = {},
): Promise<{ status: number; location?: string; cookies: string; body: string }> {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = options.startUrl ?? `${ingressUrl}/auth/jobber`;
  for (let hop = 0; hop < 8; hop++) {
    const onIngress = url.startsWith(ingressUrl);
    const res = await fetch(url, { redirect: 'manual', headers: onIngress && jar.size ? { cookie: cookieHeader() } : {} });
    if (onIngress) {
      for (const raw of res.headers.getSetCookie()) {
        const [pair] = raw.split(';');
        const eq = pair!.indexOf('=');
        const name = pair!.slice(0, eq);
        const value = pair!.slice(eq + 1);
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(raw)) jar.delete(name);
        else jar.set(name, value);
      }
    }
    const location = res.headers.get('location') ?? undefined;
    if (!location || (onIngress && !location.includes('/oauth/authorize') && !location.includes('/auth/jobber/callback'))) {
      return { status: res.status, location, cookies: cookieHeader(), body: await res.text() };
    }
    const next = new URL(location, url);
    if (next.pathname.endsWith('/oauth/authorize')) {
      if (options.approve === false) {
        // The user pressed Cancel: Jobber comes back with no parameters at all.
        const back = new URL(next.searchParams.get('redirect_uri')!);
        url = back.toString();
        continue;
      }
      next.searchParams.set('account_id', accountId);
      next.searchParams.set('auto_approve', '1');
    }
    options.tamper?.(next);
    url = next.toString();
  }
  throw new Error('too many redirects in the connect flow');
}
