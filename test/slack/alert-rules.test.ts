import { MockActivityEnvironment } from '@temporalio/testing';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { createActivities } from '../../activities';
import { ALERT_FACTS, defaultAlertRules, parseAlertRulesForm, readAlertRules, saveAlertRules } from '../../src/slack/alert-rules';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

const alertKeyOf = (m: { metadata?: { event_payload: Record<string, unknown> } }) => m.metadata?.event_payload.alert_key;

describe('alert rules: the form, as the server reads it', () => {
  it('turns on what is checked, off what is not, and keeps a channel id per fact', () => {
    const parsed = parseAlertRulesForm({
      csrf: 't',
      on: ['job-created', 'payment-received'],
      'channel:payment-received': ' C0MONEY01 ',
      'channel:job-created': '',
    });
    expect(parsed).toEqual({ ok: true, rules: expect.any(Object) });
    if (!parsed.ok) return;
    expect(
      Object.entries(parsed.rules)
        .filter(([, r]) => r.on)
        .map(([f]) => f),
    ).toEqual(['job-created', 'payment-received']);
    expect(parsed.rules['payment-received']).toEqual({ on: true, channel: 'C0MONEY01' });
    expect(parsed.rules['job-created']).toEqual({ on: true });
    // One checked box arrives as a string, none at all as no field.
    expect(parseAlertRulesForm({ on: 'invoice-paid' })).toMatchObject({ ok: true, rules: { 'invoice-paid': { on: true }, 'job-created': { on: false } } });
    expect(parseAlertRulesForm({ csrf: 't' })).toMatchObject({ ok: true, rules: { 'invoice-paid': { on: false } } });
  });

  it('refuses unknown facts, unknown fields and channel names or malformed ids, saying which', () => {
    const errorsOf = (body: Record<string, unknown>) => {
      const parsed = parseAlertRulesForm(body);
      return parsed.ok ? [] : parsed.errors;
    };
    expect(errorsOf({ on: ['job-created', 'job-deleted'] })).toEqual([expect.stringContaining('unknown fact "job-deleted"')]);
    expect(errorsOf({ 'channel:job-deleted': 'C0MONEY01' })).toEqual([expect.stringContaining('unknown fact "job-deleted"')]);
    expect(errorsOf({ colour: 'red' })).toEqual(['unknown field "colour"']);
    expect(errorsOf({ 'channel:invoice-paid': '#accounting' })).toEqual([
      expect.stringContaining('Invoice paid in full: "#accounting" is not a Slack channel id'),
    ]);
    expect(errorsOf({ 'channel:invoice-paid': 'c0money01' })).toHaveLength(1);
    expect(errorsOf({ 'channel:invoice-paid': ['C0MONEY01', 'C0MONEY02'] })).toEqual(['Invoice paid in full: give one channel id']);
  });

  it('defaults to new request, quote approved, new job, payment received and invoice paid', () => {
    const on = Object.entries(defaultAlertRules())
      .filter(([, r]) => r.on)
      .map(([f]) => f);
    expect(on).toEqual(['request-created', 'quote-approved', 'job-created', 'payment-received', 'invoice-paid']);
    expect(Object.keys(defaultAlertRules())).toEqual([...ALERT_FACTS]);
  });
});

/** The form over HTTP and the rules applied by the worker, with the sandbox, real Temporal and FerretDB. */
describe('alert rules per account (sandbox over HTTP, real Temporal, FerretDB)', () => {
  let p: Pipeline;
  let account: string;
  let cookies: string;
  const store = () => p.jobber.sandbox.store;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  /** The worker's activities, run as Temporal runs them (an activity context), outside any workflow. */
  const activities = () => {
    const env = new MockActivityEnvironment();
    const a = createActivities(p.deps);
    return {
      syncRecord: (input: Parameters<typeof a.syncRecord>[0]) => env.run(a.syncRecord, input),
      sendAlert: (input: Parameters<typeof a.sendAlert>[0]) => env.run(a.sendAlert, input),
    };
  };
  const client = () => capture(() => store().createClient(account, { companyName: 'Rules Client' }, { webhook: false })).result;
  const messagesFor = (key: string) => p.slack.standIn.state.messages.filter((m) => alertKeyOf(m) === key);

  beforeAll(async () => {
    p = await startPipeline('alert-rules');
    account = store().createAccount({ name: 'Rules Landscaping' }).id;
    const flow = await followConnectFlow(p.ingressUrl, account);
    expect(flow.location).toBe('/manage');
    cookies = flow.cookies;
  }, 60_000);
  afterAll(async () => {
    await p?.close();
  });

  const page = async () => (await fetch(`${p.ingressUrl}/manage`, { headers: { cookie: cookies } })).text();
  const csrf = async () => waitFor(async () => /name="csrf" value="([^"]+)"/.exec(await page())?.[1]);
  const post = async (fields: [string, string][], cookie = cookies) =>
    fetch(`${p.ingressUrl}/alert-rules`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  it('saves a valid form for the signed-in account only, and refuses the rest with nothing stored', async () => {
    const token = await csrf();
    // The page shows the defaults while nothing is saved.
    const html = await page();
    expect(html).toContain('value="job-created" checked');
    expect(html).toContain('value="visit-completed">');

    const bad = await post([
      ['csrf', token],
      ['on', 'job-created'],
      ['on', 'job-exploded'],
    ]);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('unknown fact &quot;job-exploded&quot;');
    const badChannel = await post([
      ['csrf', token],
      ['on', 'invoice-paid'],
      ['channel:invoice-paid', '#accounting'],
    ]);
    expect(badChannel.status).toBe(400);
    expect(await badChannel.text()).toContain('is not a Slack channel id');
    expect((await post([['on', 'job-created']])).status).toBe(403);
    expect(
      (
        await post([
          ['csrf', 'not-the-token'],
          ['on', 'job-created'],
        ])
      ).status,
    ).toBe(403);
    expect((await post([['csrf', token]], '')).status).toBe(401);
    expect(await p.models.AlertRules.countDocuments({})).toBe(0);

    const ok = await post([
      ['csrf', token],
      ['on', 'invoice-paid'],
      ['on', 'visit-completed'],
      ['channel:invoice-paid', 'C0MONEY01'],
    ]);
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toBe('/manage');
    const rules = await readAlertRules(p.models, account);
    expect(
      Object.entries(rules)
        .filter(([, r]) => r.on)
        .map(([f]) => f),
    ).toEqual(['visit-completed', 'invoice-paid']);
    expect(rules['invoice-paid'].channel).toBe('C0MONEY01');
    const after = await page();
    expect(after).toContain('value="visit-completed" checked');
    expect(after).not.toContain('value="job-created" checked');
    expect(after).toContain('name="channel:invoice-paid" value="C0MONEY01"');
    expect(await p.models.AlertRules.countDocuments({})).toBe(1);
  });

  it('gives a fact the account never saved a rule for (one added since) its default', async () => {
    const other = store().createAccount({ name: 'Saved Long Ago' }).id;
    await p.models.AlertRules.create({
      _id: other,
      facts: [
        { fact: 'job-created', on: false },
        { fact: 'invoice-paid', on: true, channel: 'C0MONEY01' },
      ],
    });
    const rules = await readAlertRules(p.models, other);
    expect(rules['job-created']).toEqual({ on: false });
    expect(rules['invoice-paid']).toEqual({ on: true, channel: 'C0MONEY01' });
    expect(rules['request-created']).toEqual({ on: true });
    expect(rules['job-closed']).toEqual({ on: false });
    await p.models.AlertRules.deleteOne({ _id: other });
  });

  it('posts a fact to its own channel, once, however many webhooks report it', async () => {
    await saveAlertRules(p.models, account, { ...defaultAlertRules(), 'invoice-paid': { on: true, channel: 'C0MONEY01' } });
    const { result: invoice } = capture(() =>
      store().createInvoice(account, { clientId: client().id, amounts: { subtotal: 80, total: 80 } }, { webhook: false }),
    );
    const paid = capture(() => store().updateInvoice(invoice.id, { invoiceStatus: 'paid', amounts: { paymentsTotal: 80 } }, { delivery: { duplicates: 2 } }));
    await p.outcomes(paid.webhookIds);
    const posted = messagesFor(`invoice-paid/${invoice.id}`);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.channel).toBe('C0MONEY01');
  });

  it('records a fact turned off as such, and does not post it late when its rule is turned back on', async () => {
    await saveAlertRules(p.models, account, { ...defaultAlertRules(), 'job-created': { on: false } });
    const { result: job, webhookIds } = capture(() =>
      store().createJob(account, { clientId: client().id, title: 'Quiet job' }, { delivery: { duplicates: 2 } }),
    );
    const outcomes = await p.outcomes(webhookIds);
    expect(outcomes[0]).toMatchObject({ status: 'synced', kind: 'job', alerts: [] });
    expect(messagesFor(`job-created/${job.id}`)).toHaveLength(0);
    expect(await p.models.Alert.findById(`job-created/${job.id}`).lean()).toMatchObject({
      status: 'off',
      accountId: account,
      reason: "job-created alerts are turned off in the account's alert rules",
    });

    // Turned back on: the same fact, sent again by the worker, stays as it was decided.
    await saveAlertRules(p.models, account, defaultAlertRules());
    const { sendAlert } = activities();
    expect(await sendAlert({ kind: 'job-created', accountId: account, itemId: job.id, owner: 'a-resend' })).toEqual({
      sent: false,
      reason: "job-created alerts are turned off in the account's alert rules",
    });
    expect(messagesFor(`job-created/${job.id}`)).toHaveLength(0);
  });

  it('finishes a send claimed while the rule was on, even if the rule is turned off before its retry', async () => {
    await saveAlertRules(p.models, account, defaultAlertRules());
    const { result: job } = capture(() => store().createJob(account, { clientId: client().id, title: 'Half sent' }, { webhook: false }));
    const { syncRecord, sendAlert } = activities();
    await syncRecord({ accountId: account, kind: 'job', itemId: job.id });
    // The first attempt claimed the alert and Slack took the post, but the answer was lost (a 503).
    p.slack.standIn.addFault({ method: 'chat.postMessage', applied: true, status: 503 });
    await expect(sendAlert({ kind: 'job-created', accountId: account, itemId: job.id, owner: 'wf-half' })).rejects.toThrow();
    expect(messagesFor(`job-created/${job.id}`)).toHaveLength(1);
    // Then the rule is turned off; the retry finds the post instead of leaving the claim pending.
    await saveAlertRules(p.models, account, { ...defaultAlertRules(), 'job-created': { on: false } });
    expect(await sendAlert({ kind: 'job-created', accountId: account, itemId: job.id, owner: 'wf-half' })).toMatchObject({
      sent: false,
      reason: 'found in channel history',
    });
    expect(await p.models.Alert.findById(`job-created/${job.id}`).lean()).toMatchObject({ status: 'sent' });
    expect(messagesFor(`job-created/${job.id}`)).toHaveLength(1);
  });
});
