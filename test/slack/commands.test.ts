import { tombstoneRecord } from '../../src/db/records';
import { linkWorkspace, unlinkWorkspace } from '../../src/db/slack-links';
import { AccountControl } from '../../src/workflow-client/account-control';
import { SLACK_PATHS } from '../../src/ingress/slack-routes';
import { escapeRegex } from '../../src/slack/commands/clients';
import { dayBounds } from '../../src/slack/commands/jobs';
import { uniqueTaskQueue } from '../helpers/env';
import { commandBody, seedClient, seedInvoice, seedJob, slackPost, startSlackEnv, visible, type SlackEnv } from './helpers';

// Fixed clock: Wednesday 2025-05-14 15:00 UTC.
const NOW = new Date('2025-05-14T15:00:00Z');
const now = () => NOW;

const GREEN = 'acct-green'; // linked to TEAM
const BROKEN = 'acct-broken'; // linked to TEAM
const OTHER = 'acct-other'; // linked to OTHER_TEAM only: TEAM must never see it
const MANY = 'acct-many'; // linked to MANY_TEAM: for the list cap
const TEAM = 'T0GREEN';
const OTHER_TEAM = 'T0OTHER';
const MANY_TEAM = 'T0MANY';
const UNLINKED_TEAM = 'T0NOBODY';

describe('/jobber slash command', () => {
  let env: SlackEnv;
  let app: ReturnType<SlackEnv['app']>;

  const ask = async (text: string, team = TEAM) => {
    const res = await slackPost(app.app, SLACK_PATHS.commands, commandBody(team, text), { now: NOW });
    expect(res.status).toBe(200);
    expect(res.body.response_type).toBe('ephemeral');
    expect(typeof res.body.text).toBe('string');
    return { text: res.body.text as string, shown: visible(res.body), body: res.body };
  };

  beforeAll(async () => {
    env = await startSlackEnv('slack_commands');
    app = env.app({ now });
    const { models } = env;

    await models.Connection.create([
      {
        _id: GREEN,
        name: 'Green Thumb Landscaping',
        status: 'connected',
        lastWebhookAt: new Date('2025-05-14T14:30:00Z'),
        lastSyncAt: new Date('2025-05-14T03:00:00Z'),
      },
      { _id: BROKEN, name: 'Broken Pipes Plumbing', status: 'broken', statusReason: 'Jobber refused the refresh token' },
      { _id: OTHER, name: 'Someone Else Inc', status: 'connected' },
      { _id: MANY, name: 'Many Jobs Ltd', status: 'connected' },
    ]);
    await linkWorkspace(env.models.SlackLink, TEAM, GREEN);
    await linkWorkspace(env.models.SlackLink, TEAM, BROKEN);
    await linkWorkspace(env.models.SlackLink, TEAM, GREEN); // idempotent
    await linkWorkspace(env.models.SlackLink, OTHER_TEAM, OTHER);
    await linkWorkspace(env.models.SlackLink, MANY_TEAM, MANY);

    // Clients
    await seedClient(models, GREEN, {
      id: 'c-jane',
      firstName: 'Jane',
      lastName: 'Smith',
      emails: [
        { address: 'old@example.com', primary: false },
        { address: 'jane@example.com', primary: true },
      ],
      phones: [{ number: '555-0100', primary: true }],
      billingAddress: { street: '1 Elm St', city: 'Calgary', province: 'AB', postalCode: 'T2P 1A1', country: 'CA' },
    });
    await seedClient(models, GREEN, { id: 'c-regex', companyName: '(a+)+ Landscaping', isCompany: true });
    await seedClient(models, GREEN, {
      id: 'c-sons',
      firstName: 'Bob',
      lastName: 'Smith',
      companyName: 'Smith & Sons <Roofing>',
      isCompany: true,
      isLead: true,
    });
    await seedClient(models, GREEN, { id: 'c-gone', firstName: 'Jane', lastName: 'Gone' });
    await tombstoneRecord(models, 'client', GREEN, 'c-gone', new Date('2025-05-02T00:00:00Z'));
    await seedClient(models, OTHER, { id: 'c-other', firstName: 'Jane', lastName: 'Elsewhere' });

    // Jobs
    const jane = { id: 'c-jane', name: 'Jane Smith' };
    await seedJob(models, GREEN, {
      id: 'j-today',
      jobNumber: 11,
      title: 'Spring cleanup',
      client: jane,
      total: 250,
      startAt: '2025-05-14T09:00:00Z',
      createdAt: '2025-05-01T00:00:00Z',
    });
    await seedJob(models, GREEN, {
      id: 'j-tomorrow',
      jobNumber: 12,
      title: 'Hedge trimming',
      client: jane,
      total: 120,
      startAt: '2025-05-15T10:00:00Z',
      createdAt: '2025-05-10T00:00:00Z',
    });
    await seedJob(models, GREEN, {
      id: 'j-gone',
      jobNumber: 13,
      title: 'Cancelled patio',
      client: jane,
      startAt: '2025-05-14T12:00:00Z',
      createdAt: '2025-05-12T00:00:00Z',
    });
    await tombstoneRecord(models, 'job', GREEN, 'j-gone', new Date('2025-05-13T00:00:00Z'));
    await seedJob(models, GREEN, {
      id: 'j-yesterday',
      jobNumber: 14,
      title: 'Lawn <mowing> & edging',
      client: { id: 'c-sons', name: 'Smith & Sons <Roofing>' },
      total: 80,
      startAt: '2025-05-13T10:00:00Z',
      createdAt: '2025-05-13T00:00:00Z',
    });
    await seedJob(models, BROKEN, { id: 'j-broken', jobNumber: 3, title: 'Fix leak', startAt: '2025-05-20T10:00:00Z', createdAt: '2025-05-05T00:00:00Z' });
    await seedJob(models, OTHER, { id: 'j-other', jobNumber: 99, title: 'Secret job', startAt: '2025-05-14T10:00:00Z', createdAt: '2025-05-14T00:00:00Z' });
    for (let n = 1; n <= 13; n++) {
      await seedJob(models, MANY, { id: `j-many-${n}`, jobNumber: n, title: `Weekly mow ${n}`, createdAt: `2025-05-${String(n).padStart(2, '0')}T00:00:00Z` });
    }

    // Invoices
    await seedInvoice(models, GREEN, {
      id: 'i-101',
      invoiceNumber: '101',
      client: jane,
      dueDate: '2025-05-30T00:00:00Z',
      amounts: { total: 100, invoiceBalance: 100 },
    });
    await seedInvoice(models, GREEN, {
      id: 'i-102',
      invoiceNumber: '102',
      client: jane,
      dueDate: '2025-05-01T00:00:00Z',
      amounts: { total: 200, invoiceBalance: 50, paymentsTotal: 150 },
    });
    await seedInvoice(models, GREEN, {
      id: 'i-103',
      invoiceNumber: '103',
      invoiceStatus: 'past_due',
      client: { id: 'c-sons', name: 'Smith & Sons <Roofing>' },
      dueDate: '2025-04-20T00:00:00Z',
      amounts: { total: 300, invoiceBalance: 300 },
    });
    await seedInvoice(models, GREEN, {
      id: 'i-104',
      invoiceNumber: '104',
      invoiceStatus: 'paid',
      client: jane,
      dueDate: '2025-05-10T00:00:00Z',
      receivedDate: '2025-05-12T00:00:00Z',
      amounts: { total: 400, paymentsTotal: 400 },
    });
    await seedInvoice(models, GREEN, { id: 'i-105', invoiceNumber: '105', invoiceStatus: 'draft', client: jane, amounts: { total: 75, invoiceBalance: 75 } });
    await seedInvoice(models, GREEN, {
      id: 'i-106',
      invoiceNumber: '106',
      invoiceStatus: 'past_due',
      client: jane,
      dueDate: '2025-04-01T00:00:00Z',
      amounts: { total: 999, invoiceBalance: 999 },
    });
    await tombstoneRecord(models, 'invoice', GREEN, 'i-106', new Date('2025-05-03T00:00:00Z'));
    await seedInvoice(models, OTHER, {
      id: 'i-201',
      invoiceNumber: '201',
      invoiceStatus: 'past_due',
      dueDate: '2025-04-01T00:00:00Z',
      amounts: { total: 5000, invoiceBalance: 5000 },
    });
  });
  afterAll(() => env.close());

  describe('a workspace nobody linked', () => {
    it.each(['status', 'help', 'jobs', 'client jane', 'sync', 'nonsense'])('answers "%s" with how an operator links it, and nothing else', async (text) => {
      const { text: plain, shown } = await ask(text, UNLINKED_TEAM);
      expect(plain).toContain('not linked to a Jobber account');
      expect(plain).toContain(`npm run ops -- slack link ${UNLINKED_TEAM} <accountId>`);
      expect(shown).toContain(`npm run ops -- slack link ${UNLINKED_TEAM} &lt;accountId&gt;`);
      for (const leak of ['Green Thumb', 'Jane', 'Spring cleanup', 'Invoice']) expect(shown).not.toContain(leak);
      expect(app.syncs).toEqual([]);
    });

    it('sees nothing again once unlinked', async () => {
      await linkWorkspace(env.models.SlackLink, 'T0BRIEFLY', GREEN);
      expect((await ask('jobs', 'T0BRIEFLY')).shown).toContain('Spring cleanup');
      expect(await unlinkWorkspace(env.models.SlackLink, 'T0BRIEFLY', GREEN)).toBe(true);
      expect((await ask('jobs', 'T0BRIEFLY')).text).toContain('not linked');
    });
  });

  it('help lists every subcommand; unknown input gets the help too', async () => {
    for (const text of ['help', '', 'frobnicate the thing']) {
      const { shown } = await ask(text);
      for (const sub of ['status', 'jobs [recent|today|upcoming]', 'invoices [unpaid|overdue|paid]', 'client &lt;name&gt;', 'sync', 'help']) {
        expect(shown).toContain(`/jobber ${sub}`);
      }
    }
    expect((await ask('frobnicate')).text).toContain('Unknown command "frobnicate"');
  });

  it('status: each linked account with its state, reason, last webhook and last sync', async () => {
    const { text, shown } = await ask('status');
    expect(text).toContain('Green Thumb Landscaping: Connected; last webhook 2025-05-14 14:30 UTC; last sync 2025-05-14 03:00 UTC');
    expect(text).toContain('Broken Pipes Plumbing: Broken (Jobber refused the refresh token); last webhook never; last sync never');
    expect(shown).toContain('*Green Thumb Landscaping*');
    // Slack shows the time in each reader's zone; the UTC text is its fallback.
    expect(shown).toContain(`<!date^${Date.parse('2025-05-14T14:30:00Z') / 1000}^{date_short_pretty} {time}|2025-05-14 14:30 UTC>`);
    expect(shown).not.toContain('Someone Else');
  });

  it('jobs (recent by default): newest first, no tombstones, no other account, escaped for mrkdwn', async () => {
    const { text, shown } = await ask('jobs');
    const order = ['#14 Lawn <mowing> & edging', '#12 Hedge trimming', '#3 Fix leak', '#11 Spring cleanup'];
    expect(
      text
        .split('\n')
        .slice(1)
        .map((l) => l.split(' — ')[0]!.replace('• ', '')),
    ).toEqual(order);
    expect(shown).toContain('#14 Lawn &lt;mowing&gt; &amp; edging');
    expect(shown).not.toContain('<mowing>');
    expect(shown).toContain('Smith &amp; Sons &lt;Roofing&gt;');
    expect(text).toContain('$250.00');
    // Two accounts are linked: each line says which one.
    expect(text).toMatch(/#3 Fix leak .* — Broken Pipes Plumbing/);
    expect(shown).toContain('<https://secure.getjobber.com/work_orders/j-today|#11 Spring cleanup>');
    for (const hidden of ['Cancelled patio', 'Secret job']) expect(text + shown).not.toContain(hidden);
  });

  it('jobs today and upcoming go by start time', async () => {
    const today = await ask('jobs today');
    expect(today.text).toContain('Jobs starting today');
    expect(today.text).toContain('#11 Spring cleanup');
    for (const no of ['Hedge trimming', 'Lawn', 'Cancelled patio', 'Secret job', 'Fix leak']) expect(today.text).not.toContain(no);

    const upcoming = await ask('jobs UPCOMING');
    expect(
      upcoming.text
        .split('\n')
        .slice(1)
        .map((l) => l.split(' — ')[0]),
    ).toEqual(['• #12 Hedge trimming', '• #3 Fix leak']);

    // "Today" is the business's day: at 21:00 UTC it is already the 15th in Tokyo.
    const tokyo = env.app({ now: () => new Date('2025-05-14T21:00:00Z'), timeZone: 'Asia/Tokyo' });
    const res = await slackPost(tokyo.app, SLACK_PATHS.commands, commandBody(TEAM, 'jobs today'), { now: new Date('2025-05-14T21:00:00Z') });
    expect(res.body.text).toContain('#12 Hedge trimming');
    expect(res.body.text).not.toContain('Spring cleanup');
  });

  it('jobs caps the list at 10 and says how many more', async () => {
    const { text, body } = await ask('jobs', MANY_TEAM);
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(10);
    expect(text).toContain('• #13 Weekly mow 13');
    expect(text).not.toContain('Weekly mow 3 ');
    expect(text).toContain('and 3 more');
    expect(visible(body)).toContain('and 3 more');
    // One account: no account label on the lines.
    expect(text).not.toContain('Many Jobs Ltd');
  });

  it('an unknown jobs filter says which ones exist', async () => {
    expect((await ask('jobs tomorrow')).text).toContain('Unknown jobs filter "tomorrow": use recent, today or upcoming.');
  });

  it('invoices (unpaid by default): awaiting payment and past due, oldest due first, with the total owed', async () => {
    const { text, shown } = await ask('invoices');
    const lines = text.split('\n').filter((l) => l.startsWith('• '));
    expect(lines.map((l) => l.split(' — ')[0])).toEqual(['• Invoice #103', '• Invoice #102', '• Invoice #101']);
    expect(lines[0]).toContain('$300.00 owed of $300.00');
    expect(lines[0]).toContain('overdue');
    expect(lines[1]).toContain('$50.00 owed of $200.00 — due 2025-05-01 — overdue');
    expect(lines[2]).not.toContain('overdue');
    expect(text).toContain('$450.00 outstanding in all');
    expect(shown).toContain('Smith &amp; Sons &lt;Roofing&gt;');
    for (const hidden of ['#104', '#105', '#106', '#201']) expect(text).not.toContain(hidden);
  });

  it('invoices overdue: past due, or past the due date and still awaiting payment', async () => {
    const { text } = await ask('invoices overdue');
    expect(
      text
        .split('\n')
        .filter((l) => l.startsWith('• '))
        .map((l) => l.split(' — ')[0]),
    ).toEqual(['• Invoice #103', '• Invoice #102']);
    expect(text).toContain('$350.00 outstanding in all');
  });

  it('invoices paid', async () => {
    const { text } = await ask('invoices paid');
    expect(text).toContain('Invoice #104 — Jane Smith — paid $400.00 on 2025-05-12');
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(1);
  });

  it('client <name>: case-insensitive substring, contact details and counts, no tombstones or other accounts', async () => {
    const { text, shown } = await ask('client SMITH');
    const lines = text.split('\n').filter((l) => l.startsWith('• '));
    expect(lines).toHaveLength(2);
    const jane = lines.find((l) => l.startsWith('• Jane Smith'))!;
    expect(jane).toContain('jane@example.com — 555-0100 — 1 Elm St, Calgary, AB, T2P 1A1');
    // j-gone and i-106 are tombstoned; the draft counts.
    expect(jane).toContain('2 jobs · 4 invoices');
    const sons = lines.find((l) => l.startsWith('• Smith & Sons <Roofing> (Bob Smith) (lead)'))!;
    expect(sons).toContain('1 job · 1 invoice');
    expect(shown).toContain('Smith &amp; Sons &lt;Roofing&gt; (Bob Smith)');

    const janes = await ask('client jane');
    expect(janes.text).toContain('Jane Smith');
    for (const hidden of ['Jane Gone', 'Jane Elsewhere']) expect(janes.text).not.toContain(hidden);
  });

  it('client search treats regex metacharacters as text', async () => {
    const { text } = await ask('client (a+)+');
    const lines = text.split('\n').filter((l) => l.startsWith('• '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('(a+)+ Landscaping');
    for (const pattern of ['.*', '[', 'smith|jane', '\\']) {
      expect((await ask(`client ${pattern}`)).text).toContain('no client by that name');
    }
  });

  it('client search decodes what Slack escapes in the command text', async () => {
    // Slack sends "smith & sons <r" as "smith &amp; sons &lt;r".
    const { text } = await ask('client smith &amp; sons &lt;r');
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toEqual([expect.stringContaining('Smith & Sons <Roofing>')]);
  });

  it('client with no name asks for one', async () => {
    expect((await ask('client')).text).toContain('Name the client to look for');
  });

  it('sync: asks the account workflow of each connected account, says which were skipped and why', async () => {
    const before = app.syncs.length;
    const { text } = await ask('sync');
    expect(app.syncs.slice(before)).toEqual([GREEN]);
    expect(text).toContain('Green Thumb Landscaping: sync requested');
    expect(text).toContain('Broken Pipes Plumbing: not synced, it is broken (Jobber refused the refresh token). Reconnect it from the Manage App.');
  });

  it('sync through the real AccountControl says so when the account workflow is not running', async () => {
    const control = new AccountControl(env.temporal.client, uniqueTaskQueue('slack-sync'));
    const real = env.app({ now, control });
    const res = await slackPost(real.app, SLACK_PATHS.commands, commandBody(TEAM, 'sync'), { now: NOW });
    expect(res.status).toBe(200);
    expect(res.body.text).toContain('Green Thumb Landscaping: not synced, its sync workflow is not running.');
    expect(real.lines.join('\n')).toContain('could not signal the account workflow');
  });

  it('answers within its deadline with "try again" when the database is too slow', async () => {
    const slow = env.app({ now, commandDeadlineMs: 1, control: { syncNow: () => new Promise<void>(() => undefined) } });
    const res = await slackPost(slow.app, SLACK_PATHS.commands, commandBody(TEAM, 'sync'), { now: NOW });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ response_type: 'ephemeral', text: 'Jobber Sync is slow to answer right now. Try again in a moment.' });
  });
});

describe('command helpers', () => {
  it('escapeRegex makes every metacharacter literal', () => {
    const nasty = '(a+)+$ [x] {2} .* ^ | \\ ?';
    expect(new RegExp(escapeRegex(nasty)).test(`pre ${nasty} post`)).toBe(true);
    expect(new RegExp(escapeRegex('(a+)+')).test('aaaa')).toBe(false);
  });

  it('dayBounds follows the zone, DST included', () => {
    expect(dayBounds(new Date('2025-05-14T15:00:00Z'), 'UTC')).toEqual({ start: new Date('2025-05-14T00:00:00Z'), end: new Date('2025-05-15T00:00:00Z') });
    expect(dayBounds(new Date('2025-05-14T05:00:00Z'), 'America/Edmonton')).toEqual({
      start: new Date('2025-05-13T06:00:00Z'),
      end: new Date('2025-05-14T06:00:00Z'),
    });
    // 2025-03-09: clocks in Edmonton go forward, a 23-hour day.
    expect(dayBounds(new Date('2025-03-09T18:00:00Z'), 'America/Edmonton')).toEqual({
      start: new Date('2025-03-09T07:00:00Z'),
      end: new Date('2025-03-10T06:00:00Z'),
    });
  });
});
