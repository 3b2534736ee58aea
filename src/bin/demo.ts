/**
 * Shows the whole flow against a running `npm run local`: creates a Jobber sandbox account,
 * connects it through the ingress's real OAuth redirects, then creates a client, a job and a paid
 * invoice in the sandbox, whose signed webhooks start workflows you can watch in the Web UI.
 */
import { followConnectFlow } from '../dev/connect-flow';
import { followSlackInstallFlow } from '../dev/slack-install-flow';

const ingress = process.env.DEMO_INGRESS_URL || `http://localhost:${process.env.PORT || 3000}`;
const admin = process.env.DEMO_SANDBOX_ADMIN_URL || `http://127.0.0.1:${process.env.JOBBER_SANDBOX_PORT || 4010}/admin`;
const ui = process.env.DEMO_TEMPORAL_UI_URL || `http://localhost:${process.env.LOCAL_TEMPORAL_UI_PORT || 8233}`;

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, headers: { 'Content-Type': 'application/json', ...init?.headers } });
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const post = <T>(url: string, body: unknown) => json<T>(url, { method: 'POST', body: JSON.stringify(body) });

async function main() {
  const { id: accountId, name } = await post<{ id: string; name: string }>(`${admin}/accounts`, {
    name: `Demo Lawn Care ${new Date().toISOString().slice(11, 19)}`,
  });
  console.warn(`created sandbox account ${name} (${accountId}); connecting through ${ingress}/auth/jobber`);
  const connected = await followConnectFlow(ingress, accountId);
  if (connected.status !== 302 || connected.location !== '/manage') throw new Error(`connect failed with ${connected.status}: ${connected.body}`);
  // Add to Slack for the demo workspace of `npm run local`, through the real redirects, and pick #alerts.
  const slack = await followSlackInstallFlow(ingress, connected.cookies, 'T0DEMO');
  if (slack.location !== '/manage') throw new Error(`Add to Slack failed with ${slack.status}`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${ingress}/manage`, { headers: { cookie: slack.cookies } })).text())?.[1];
  const picked = await fetch(`${ingress}/slack/channel`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: slack.cookies, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: csrf ?? '', channel: 'C0DEMOALR' }).toString(),
  });
  if (picked.status !== 302) throw new Error(`picking the Slack channel failed with ${picked.status}`);
  console.warn('added the Slack workspace "Demo Lawn Care Slack" (T0DEMO); alerts go to its #alerts');
  const { client } = await post<{ client: { id: string } }>(`${admin}/accounts/${accountId}/clients`, {
    firstName: 'Ada',
    lastName: 'Lovelace',
    companyName: 'Analytical Gardens',
  });
  const { job } = await post<{ job: { id: string } }>(`${admin}/accounts/${accountId}/jobs`, { clientId: client.id, title: 'Spring cleanup', total: 450 });
  const { invoice } = await post<{ invoice: { id: string } }>(`${admin}/accounts/${accountId}/invoices`, {
    clientId: client.id,
    jobIds: [job.id],
    subject: 'Spring cleanup',
    amounts: { subtotal: 450, total: 450 },
  });
  await json(`${admin}/invoices/${invoice.id}`, { method: 'PATCH', body: JSON.stringify({ invoiceStatus: 'paid' }) });
  const query = encodeURIComponent(`JobberAccountId="${accountId}"`);
  console.warn(`sent webhooks for a client, a job and a paid invoice.
  Workflows in the Web UI: ${ui}/namespaces/default/workflows?query=${query}
  Manage App page:         ${ingress}/manage
  Slack messages:          ${admin.replace(/:\d+\/admin$/, `:${process.env.SLACK_STANDIN_PORT || 4020}/admin`)}/messages`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
