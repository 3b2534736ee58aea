/**
 * Walks a business's whole pipeline against a running `npm run local`: creates a Jobber sandbox
 * account, connects it through the ingress's real OAuth redirects and adds its Slack workspace,
 * then in the sandbox: a request comes in, a quote is sent and approved, the job is created, its
 * visit is completed, the invoice is issued, a payment is received and the invoice is paid. After
 * each step it waits (bounded) until the record is in the service's copy (the Manage App page's
 * counts, or `/jobber` for a visit's completion) and the step's alert is in the workspace's
 * channel (the Slack stand-in's admin API), and says so; it fails with what is missing otherwise.
 */
import { followConnectFlow } from '../dev/connect-flow';
import { followSlackInstallFlow } from '../dev/slack-install-flow';
import { LOCAL_SLACK_SIGNING_SECRET } from '../dev/stack';
import { signSlackRequest } from '../slack/verify';

const ingress = process.env.DEMO_INGRESS_URL || `http://localhost:${process.env.PORT || 3000}`;
const admin = process.env.DEMO_SANDBOX_ADMIN_URL || `http://127.0.0.1:${process.env.JOBBER_SANDBOX_PORT || 4010}/admin`;
const slackAdmin = process.env.DEMO_SLACK_ADMIN_URL || `http://127.0.0.1:${process.env.SLACK_STANDIN_PORT || 4020}/admin`;
const ui = process.env.DEMO_TEMPORAL_UI_URL || `http://localhost:${process.env.LOCAL_TEMPORAL_UI_PORT || 8233}`;
const signingSecret = process.env.SLACK_SIGNING_SECRET || LOCAL_SLACK_SIGNING_SECRET;
/** How long one step may take to land before the demo gives up. */
const STEP_TIMEOUT_MS = Number(process.env.DEMO_STEP_TIMEOUT_SECONDS || 60) * 1000;
const TEAM = 'T0DEMO';
const CHANNEL = 'C0DEMOALR';

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, headers: { 'Content-Type': 'application/json', ...init?.headers } });
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const post = <T>(url: string, body: unknown) => json<T>(url, { method: 'POST', body: JSON.stringify(body) });
const patch = <T>(url: string, body: unknown) => json<T>(url, { method: 'PATCH', body: JSON.stringify(body) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => console.warn(line);

/** Polls `probe` until it returns a value, at most STEP_TIMEOUT_MS; then fails saying what was missing and what was seen. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, seen: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const last = await seen().catch((err: Error) => `could not read it: ${err.message}`);
      throw new Error(
        `${what} did not happen within ${STEP_TIMEOUT_MS / 1000} s (DEMO_STEP_TIMEOUT_SECONDS). Last seen: ${last}. ` +
          `Is npm run local running, and does its output show errors? The account's workflows: ${ui}`,
      );
    }
    await sleep(250);
  }
}

interface SlackMessage {
  team: string;
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown[];
}

async function main() {
  const started = Date.now();
  const { id: accountId, name } = await post<{ id: string; name: string }>(`${admin}/accounts`, {
    name: `Demo Lawn Care ${new Date().toISOString().slice(11, 19)}`,
  });
  say(`created sandbox account ${name} (${accountId}); connecting through ${ingress}/auth/jobber`);
  const connected = await followConnectFlow(ingress, accountId);
  if (connected.status !== 302 || connected.location !== '/manage') throw new Error(`connect failed with ${connected.status}: ${connected.body}`);
  // Add to Slack for the demo workspace of `npm run local`, through the real redirects, and pick #alerts.
  const slack = await followSlackInstallFlow(ingress, connected.cookies, TEAM);
  if (slack.location !== '/manage') throw new Error(`Add to Slack failed with ${slack.status}`);
  const cookie = slack.cookies;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${ingress}/manage`, { headers: { cookie } })).text())?.[1];
  const picked = await fetch(`${ingress}/slack/channel`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: csrf ?? '', channel: CHANNEL }).toString(),
  });
  if (picked.status !== 302) throw new Error(`picking the Slack channel failed with ${picked.status}`);
  say(`added the Slack workspace "Demo Lawn Care Slack" (${TEAM}); alerts go to its #alerts`);

  /** The Manage App page's record counts, e.g. { client: 1, request: 1 } (keyed by the singular label). */
  const counts = async (): Promise<{ text: string; of: Map<string, number> }> => {
    const page = await (await fetch(`${ingress}/manage`, { headers: { cookie } })).text();
    const text = /<dd id="counts">([^<]*)<\/dd>/.exec(page)?.[1] ?? '';
    const of = new Map<string, number>();
    for (const part of text.replace(/ \(initial sync running\)$/, '').split(' · ')) {
      const m = /^(\d+) (.+)$/.exec(part.trim());
      if (m)
        of.set(
          m[2]!.replace(/(ies|s)$/, (x) => (x === 'ies' ? 'y' : '')),
          Number(m[1]),
        );
    }
    return { text: text || '(no counts on the page)', of };
  };
  const messages = async () =>
    (await json<{ messages: SlackMessage[] }>(`${slackAdmin}/messages`)).messages.filter((m) => m.team === TEAM && m.channel === CHANNEL);
  /** The alert whose Acknowledge button carries this key (`<fact>/<record id>`). */
  const alertFor = async (key: string) => (await messages()).find((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${key}"`));
  /** `/jobber <text>` as the demo workspace asks it, signed as Slack signs. */
  const ask = async (text: string): Promise<string> => {
    const body = new URLSearchParams({ team_id: TEAM, user_id: 'U0DEMO', user_name: 'demo', channel_id: CHANNEL, command: '/jobber', text }).toString();
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await fetch(`${ingress}/slack/commands`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature': signSlackRequest(body, timestamp, signingSecret),
      },
      body,
    });
    if (!res.ok) throw new Error(`/jobber ${text} answered ${res.status}`);
    return ((await res.json()) as { text: string }).text;
  };

  /** One step: do it, then wait until the record is counted and its alert (if any) is posted. */
  const step = async (what: string, land: { count?: [label: string, n: number]; alert?: string; check?: [command: string, shows: RegExp] }) => {
    const t0 = Date.now();
    const landed: string[] = [];
    if (land.count) {
      const [label, n] = land.count;
      await until(
        `${what}: ${n} ${label} on the Manage App page`,
        async () => ((await counts()).of.get(label) === n ? true : undefined),
        async () => (await counts()).text,
      );
      landed.push('stored');
    }
    if (land.check) {
      const [command, shows] = land.check;
      await until(
        `${what}: /jobber ${command} showing it`,
        async () => (shows.test(await ask(command)) ? true : undefined),
        () => ask(command),
      );
      landed.push(`/jobber ${command} shows it`);
    }
    if (land.alert) {
      const key = land.alert;
      const alert = await until(
        `${what}: the alert ${key} in #alerts`,
        () => alertFor(key),
        async () => `${(await messages()).length} message(s) in #alerts: ${(await messages()).map((m) => JSON.stringify(m.text.slice(0, 60))).join(', ')}`,
      );
      landed.push(`alert posted: "${alert.text}"`);
    }
    say(`- ${what}: ${landed.join('; ') || 'sent'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  };

  say('walking the pipeline: request → quote (sent, approved) → job → visit completed → invoice → payment → invoice paid');
  const { client } = await post<{ client: { id: string } }>(`${admin}/accounts/${accountId}/clients`, {
    firstName: 'Ada',
    lastName: 'Lovelace',
    companyName: 'Analytical Gardens',
    isCompany: true,
    emails: [{ address: 'ada@example.com', primary: true }],
  });
  await step('client Ada Lovelace (Analytical Gardens)', { count: ['client', 1] });
  const { property } = await post<{ property: { id: string } }>(`${admin}/accounts/${accountId}/properties`, {
    clientId: client.id,
    street1: '12 Engine Row',
    city: 'London',
    country: 'UK',
  });
  await step('property 12 Engine Row, London', { count: ['property', 1] });

  const { request } = await post<{ request: { id: string } }>(`${admin}/accounts/${accountId}/requests`, { clientId: client.id, title: 'Spring cleanup' });
  await step('request "Spring cleanup" came in', { count: ['request', 1], alert: `request-created/${request.id}` });

  const { quote } = await post<{ quote: { id: string } }>(`${admin}/accounts/${accountId}/quotes`, {
    clientId: client.id,
    requestId: request.id,
    propertyId: property.id,
    title: 'Spring cleanup',
    amounts: { subtotal: 450 },
  });
  await step('quote #1 drafted from the request', { count: ['quote', 1] });
  await patch(`${admin}/quotes/${quote.id}`, { quoteStatus: 'awaiting_response' });
  await step('quote #1 sent', { check: ['quotes pending', /Quote #1 Spring cleanup/] });
  await patch(`${admin}/quotes/${quote.id}`, { quoteStatus: 'approved' });
  await step('quote #1 approved by the client', { alert: `quote-approved/${quote.id}` });

  const { job } = await post<{ job: { id: string } }>(`${admin}/accounts/${accountId}/jobs`, { clientId: client.id, title: 'Spring cleanup', total: 450 });
  await patch(`${admin}/quotes/${quote.id}`, { jobIds: [job.id] });
  await step('job #1 created from the quote', { count: ['job', 1], alert: `job-created/${job.id}` });

  // An hour from now: within `/jobber visits week` whatever the time of day.
  const startAt = new Date(Date.now() + 3_600_000);
  const { visit } = await post<{ visit: { id: string } }>(`${admin}/accounts/${accountId}/visits`, {
    jobId: job.id,
    propertyId: property.id,
    startAt: startAt.toISOString(),
    endAt: new Date(startAt.getTime() + 2 * 3_600_000).toISOString(),
  });
  await step('visit scheduled at the property', { count: ['visit', 1] });
  await patch(`${admin}/visits/${visit.id}`, { completedAt: new Date(startAt.getTime() + 3_600_000).toISOString() });
  await step('visit completed', { check: ['visits week', /Spring cleanup \(job #1\) — .* — completed/] });

  const { invoice } = await post<{ invoice: { id: string } }>(`${admin}/accounts/${accountId}/invoices`, {
    clientId: client.id,
    jobIds: [job.id],
    subject: 'Spring cleanup',
    amounts: { subtotal: 450 },
  });
  await step('invoice #1 issued for the job', { count: ['invoice', 1] });
  const { payment } = await post<{ payment: { id: string } }>(`${admin}/accounts/${accountId}/payments`, {
    invoiceId: invoice.id,
    amount: 450,
    paymentType: 'CREDIT_CARD',
  });
  await step('payment of $450.00 received', { count: ['payment', 1], alert: `payment-received/${payment.id}` });
  await patch(`${admin}/invoices/${invoice.id}`, { invoiceStatus: 'paid' });
  await step('invoice #1 paid in full', { alert: `invoice-paid/${invoice.id}` });

  const alerts = await messages();
  const query = encodeURIComponent(`JobberAccountId="${accountId}"`);
  say(`walked the pipeline in ${((Date.now() - started) / 1000).toFixed(1)} s: ${(await counts()).text}; ${alerts.length} alerts in #alerts of ${TEAM}.
  Workflows in the Web UI: ${ui}/namespaces/default/workflows?query=${query}
  Manage App page:         ${ingress}/manage
  Slack messages:          ${slackAdmin}/messages`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
