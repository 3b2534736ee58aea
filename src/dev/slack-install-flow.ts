/**
 * Walks "Add to Slack" as a browser would, for a signed-in Manage App session: GET /slack/install
 * on the ingress, Slack's (the stand-in's) consent page allowed for `teamId`, then the callback
 * with the state cookie. The local run and the tests use it; it speaks HTTP only.
 */
export async function followSlackInstallFlow(
  ingressUrl: string,
  sessionCookies: string,
  teamId: string,
): Promise<{ status: number; location?: string; cookies: string }> {
  const jar = new Map<string, string>(
    sessionCookies
      .split('; ')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as [string, string]),
  );
  const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const onIngress = async (url: string) => {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: header() } });
    for (const raw of res.headers.getSetCookie()) {
      const [pair] = raw.split(';');
      const eq = pair!.indexOf('=');
      if (pair!.slice(eq + 1) === '' || /expires=Thu, 01 Jan 1970/i.test(raw)) jar.delete(pair!.slice(0, eq));
      else jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  };
  const start = await onIngress(`${ingressUrl}/slack/install`);
  const authorize = start.headers.get('location');
  if (start.status !== 302 || !authorize) return { status: start.status, cookies: header() };
  const consent = new URL(authorize);
  const allowed = await fetch(consent.origin + consent.pathname, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...Object.fromEntries(consent.searchParams), team: teamId, decision: 'allow' }).toString(),
  });
  const back = allowed.headers.get('location');
  if (!back) return { status: allowed.status, cookies: header() };
  const done = await onIngress(back);
  return { status: done.status, location: done.headers.get('location') ?? undefined, cookies: header() };
}
