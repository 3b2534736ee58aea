import { tombstoneRecord } from '../../src/db/records';
import { linkWorkspace } from '../../src/db/slack-links';
import { SLACK_PATHS } from '../../src/ingress/slack-routes';
import type { JobberVisitRecord } from '../../src/records/types/visit';
import {
  commandBody,
  seedClient,
  seedInvoice,
  seedPayment,
  seedProperty,
  seedQuote,
  seedRequest,
  seedVisit,
  slackPost,
  startSlackEnv,
  visible,
  type SlackEnv,
} from './helpers';

/**
 * `/jobber requests|quotes|visits|payments` and what `client <name>` says of a client's open
 * requests, quotes and upcoming visits (issue 11, point 4), answered from what MongoDB holds.
 */

// Fixed clock: Wednesday 2025-05-14 15:00 UTC.
const NOW = new Date('2025-05-14T15:00:00Z');
const now = () => NOW;

const GREEN = 'acct-green'; // linked to TEAM only
const OTHER = 'acct-other'; // linked to OTHER_TEAM only: TEAM must never see it
const TEAM = 'T0GREEN';
const OTHER_TEAM = 'T0OTHER';

const bullets = (text: string) => text.split('\n').filter((l) => l.startsWith('• '));
const heads = (text: string) => bullets(text).map((l) => l.split(' — ')[0]!.replace('• ', ''));

describe('/jobber over requests, quotes, visits and payments', () => {
  let env: SlackEnv;
  let app: ReturnType<SlackEnv['app']>;

  const ask = async (text: string, team = TEAM) => {
    const res = await slackPost(app.app, SLACK_PATHS.commands, commandBody(team, text), { now: NOW });
    expect(res.status).toBe(200);
    expect(res.body.response_type).toBe('ephemeral');
    return { text: res.body.text as string, shown: visible(res.body) };
  };

  beforeAll(async () => {
    env = await startSlackEnv('slack_commands_pipeline');
    app = env.app({ now });
    const { models } = env;
    await models.Connection.create([
      { _id: GREEN, name: 'Green Thumb Landscaping', status: 'connected' },
      { _id: OTHER, name: 'Someone Else Inc', status: 'connected' },
    ]);
    await linkWorkspace(models.SlackLink, TEAM, GREEN);
    await linkWorkspace(models.SlackLink, OTHER_TEAM, OTHER);
    const gone = new Date('2025-05-13T20:00:00Z');

    const jane = { id: 'c-jane', name: 'Jane Smith' };
    const sons = { id: 'c-sons', name: 'Smith & Sons <Roofing>' };
    await seedClient(models, GREEN, { id: 'c-jane', firstName: 'Jane', lastName: 'Smith', emails: [{ address: 'jane@example.com', primary: true }] });
    await seedClient(models, GREEN, { id: 'c-sons', firstName: 'Bob', lastName: 'Smith', companyName: 'Smith & Sons <Roofing>', isCompany: true });
    await seedClient(models, OTHER, { id: 'c-other', firstName: 'Jane', lastName: 'Elsewhere' });
    await seedProperty(models, GREEN, { id: 'p-elm', street: '1 Elm St', city: 'Calgary', client: jane });
    await seedProperty(models, OTHER, { id: 'p-other', street: '9 Secret Lane', city: 'Hidden', client: { id: 'c-other', name: 'Jane Elsewhere' } });

    // Requests
    await seedRequest(models, GREEN, {
      id: 'r-fence',
      title: 'Fence repair',
      client: jane,
      email: 'jane@example.com',
      phone: '555-0100',
      createdAt: '2025-05-10T08:00:00Z',
    });
    await seedRequest(models, GREEN, { id: 'r-gutter', title: 'Gutter clean <urgent> & soon', client: jane, createdAt: '2025-05-12T08:00:00Z' });
    await seedRequest(models, GREEN, { id: 'r-patio', title: 'Patio quote', requestStatus: 'converted', client: jane, createdAt: '2025-05-05T08:00:00Z' });
    await seedRequest(models, GREEN, {
      id: 'r-roof',
      title: 'Roof look',
      requestStatus: 'assessment_completed',
      client: sons,
      createdAt: '2025-05-03T08:00:00Z',
    });
    await seedRequest(models, GREEN, { id: 'r-gone', title: 'Deleted lead', client: jane, createdAt: '2025-05-13T08:00:00Z' });
    await tombstoneRecord(models, 'request', GREEN, 'r-gone', gone);
    await seedRequest(models, OTHER, {
      id: 'r-other',
      title: 'Secret lead',
      client: { id: 'c-other', name: 'Jane Elsewhere' },
      createdAt: '2025-05-13T09:00:00Z',
    });

    // Quotes
    const quote = (id: string, n: string, title: string, quoteStatus: string, total: number, at: string, client = jane) =>
      seedQuote(models, GREEN, {
        id,
        quoteNumber: n,
        title,
        quoteStatus,
        amounts: { total, subtotal: total },
        sentAt: at,
        transitionedAt: at,
        client,
        createdAt: at,
      });
    await quote('q-hedge', '1', 'Hedge plan', 'awaiting_response', 250, '2025-05-02T10:00:00Z');
    await quote('q-roof', '2', 'Roof & gutters', 'changes_requested', 1000, '2025-05-06T10:00:00Z');
    await quote('q-lawn', '3', 'Lawn', 'approved', 400, '2025-05-10T10:00:00Z');
    await quote('q-pool', '4', 'Pool', 'converted', 800, '2025-05-12T10:00:00Z');
    await quote('q-draft', '5', 'Draft thing', 'draft', 50, '2025-05-13T10:00:00Z');
    await quote('q-gone', '6', 'Withdrawn', 'awaiting_response', 999, '2025-05-01T10:00:00Z');
    await tombstoneRecord(models, 'quote', GREEN, 'q-gone', gone);
    await seedQuote(models, OTHER, {
      id: 'q-other',
      quoteNumber: '9',
      title: 'Secret quote',
      amounts: { total: 5000 },
      sentAt: '2025-05-01T00:00:00Z',
      client: { id: 'c-other', name: 'Jane Elsewhere' },
    });

    // Visits
    const visit = (id: string, title: string, startAt: string, extra: Partial<JobberVisitRecord> = {}) =>
      seedVisit(models, GREEN, { id, title, startAt, client: jane, job: { id: `j-${id}`, jobNumber: 11 }, ...extra });
    await visit('v-morning', 'Spring cleanup', '2025-05-14T09:00:00Z', { completedAt: '2025-05-14T10:00:00Z', isComplete: true, property: { id: 'p-elm' } });
    // Its property id is another account's: that address never shows here.
    await visit('v-afternoon', 'Hedge trimming', '2025-05-14T17:00:00Z', { job: { id: 'j-12', jobNumber: 12 }, property: { id: 'p-other' } });
    await visit('v-tomorrow', 'Mulch <beds>', '2025-05-15T10:00:00Z', { job: { id: 'j-13', jobNumber: 13 } });
    await visit('v-sunday', 'Weekly mow', '2025-05-18T10:00:00Z');
    await visit('v-nextweek', 'Out of range', '2025-05-21T09:00:00Z', { client: sons });
    await visit('v-yesterday', 'Yesterday visit', '2025-05-13T10:00:00Z');
    await visit('v-gone', 'Cancelled visit', '2025-05-14T12:00:00Z');
    await tombstoneRecord(models, 'visit', GREEN, 'v-gone', gone);
    await seedVisit(models, OTHER, {
      id: 'v-other',
      title: 'Secret visit',
      startAt: '2025-05-14T11:00:00Z',
      client: { id: 'c-other', name: 'Jane Elsewhere' },
    });

    // Payments
    await seedInvoice(models, GREEN, { id: 'i-102', invoiceNumber: '102', client: jane, amounts: { total: 200, paymentsTotal: 150, invoiceBalance: 50 } });
    const invoice = { id: 'i-102', invoiceNumber: '102' };
    await seedPayment(models, GREEN, { id: 'pay-cash', amount: 150, entryDate: '2025-05-12T00:00:00Z', client: jane, invoice });
    await seedPayment(models, GREEN, { id: 'pay-cheque', __typename: 'ChequePaymentRecord', amount: 400, entryDate: '2025-05-10T00:00:00Z', client: sons });
    await seedPayment(models, GREEN, { id: 'pay-old', amount: 75, entryDate: '2025-03-01T00:00:00Z', client: jane, paymentType: 'E_TRANSFER' });
    await seedPayment(models, GREEN, { id: 'pay-refund', amount: -20, adjustmentType: 'REFUND', entryDate: '2025-05-13T00:00:00Z', client: jane, invoice });
    await seedPayment(models, GREEN, { id: 'pay-gone', amount: 1234, entryDate: '2025-05-14T00:00:00Z', client: jane });
    await tombstoneRecord(models, 'payment', GREEN, 'pay-gone', gone);
    await seedPayment(models, OTHER, { id: 'pay-other', amount: 9999, entryDate: '2025-05-14T00:00:00Z', client: { id: 'c-other', name: 'Jane Elsewhere' } });
  });
  afterAll(() => env.close());

  const SECRETS = ['Secret', 'Someone Else', '9 Secret Lane', '$9,999.00', '$5,000.00', 'Elsewhere'];

  describe('requests', () => {
    it('new by default: only new ones, newest first, no tombstones, escaped for mrkdwn, linked to Jobber', async () => {
      const { text, shown } = await ask('requests');
      expect(text.split('\n')[0]).toBe('New requests:');
      expect(heads(text)).toEqual(['Gutter clean <urgent> & soon', 'Fence repair']);
      expect(bullets(text)[1]).toBe('• Fence repair — Jane Smith — received 2025-05-10 08:00 UTC — from online_booking — jane@example.com — 555-0100');
      expect(shown).toContain('<https://secure.getjobber.com/requests/r-gutter|Gutter clean &lt;urgent&gt; &amp; soon>');
      expect(shown).not.toContain('<urgent>');
      for (const hidden of ['Deleted lead', 'Patio quote', 'Roof look', ...SECRETS]) expect(text + shown).not.toContain(hidden);
      expect((await ask('requests NEW')).text).toBe(text);
    });

    it('all: every live request with its status, newest first', async () => {
      const { text } = await ask('requests all');
      expect(text.split('\n')[0]).toBe('Requests:');
      expect(heads(text)).toEqual(['Gutter clean <urgent> & soon', 'Fence repair', 'Patio quote', 'Roof look']);
      expect(bullets(text)[2]).toContain('Patio quote — Jane Smith — converted —');
      expect(bullets(text)[3]).toContain('Roof look — Smith & Sons <Roofing> — assessment completed —');
      for (const hidden of ['Deleted lead', ...SECRETS]) expect(text).not.toContain(hidden);
    });

    it('an unknown filter says which ones exist', async () => {
      expect((await ask('requests old')).text).toContain('Unknown requests filter "old": use new or all.');
    });
  });

  describe('quotes', () => {
    it('pending by default: awaiting response or changes requested, longest waiting first, with the sum', async () => {
      const { text, shown } = await ask('quotes');
      expect(text.split('\n')[0]).toBe('Quotes awaiting the client:');
      expect(bullets(text)).toEqual([
        '• Quote #1 Hedge plan — Jane Smith — $250.00 — awaiting response — sent 2025-05-02',
        '• Quote #2 Roof & gutters — Jane Smith — $1,000.00 — changes requested — sent 2025-05-06',
      ]);
      expect(text).toContain('$1,250.00 awaiting approval in all');
      expect(shown).toContain('<https://secure.getjobber.com/quotes/q-roof|Quote #2 Roof &amp; gutters>');
      for (const hidden of ['Withdrawn', 'Draft thing', 'Quote #3', 'Quote #4', ...SECRETS]) expect(text + shown).not.toContain(hidden);
    });

    it('approved: approved and converted ones, newest approval first, with the sum', async () => {
      const { text } = await ask('quotes Approved');
      expect(text.split('\n')[0]).toBe('Approved quotes:');
      expect(bullets(text)).toEqual([
        '• Quote #4 Pool — Jane Smith — $800.00 — approved, converted to a job 2025-05-12',
        '• Quote #3 Lawn — Jane Smith — $400.00 — approved 2025-05-10',
      ]);
      expect(text).toContain('$1,200.00 approved in all');
    });

    it('an unknown filter says which ones exist', async () => {
      expect((await ask('quotes draft')).text).toContain('Unknown quotes filter "draft": use pending or approved.');
    });
  });

  describe('visits', () => {
    it("today by default: the day's visits by start time, done or not, with their property's address", async () => {
      const { text, shown } = await ask('visits');
      expect(text.split('\n')[0]).toBe('Visits today:');
      expect(bullets(text)).toEqual([
        '• Spring cleanup (job #11) — Jane Smith — 2025-05-14 09:00 UTC — completed — 1 Elm St, Calgary',
        // Its property is another account's: no address.
        '• Hedge trimming (job #12) — Jane Smith — 2025-05-14 17:00 UTC — to do',
      ]);
      expect(shown).toContain(`<!date^${Date.parse('2025-05-14T17:00:00Z') / 1000}^{date_short_pretty} {time}|2025-05-14 17:00 UTC>`);
      for (const hidden of ['Cancelled visit', 'Yesterday visit', 'Mulch', ...SECRETS]) expect(text + shown).not.toContain(hidden);
    });

    it('tomorrow and the next 7 days', async () => {
      const tomorrow = await ask('visits tomorrow');
      expect(tomorrow.text.split('\n')[0]).toBe('Visits tomorrow:');
      expect(heads(tomorrow.text)).toEqual(['Mulch <beds> (job #13)']);
      expect(tomorrow.shown).toContain('Mulch &lt;beds&gt;');
      const week = await ask('visits week');
      expect(week.text.split('\n')[0]).toBe('Visits in the next 7 days:');
      expect(heads(week.text)).toEqual(['Spring cleanup (job #11)', 'Hedge trimming (job #12)', 'Mulch <beds> (job #13)', 'Weekly mow (job #11)']);
      for (const hidden of ['Out of range', 'Yesterday visit', 'Cancelled visit', ...SECRETS]) expect(week.text).not.toContain(hidden);
    });

    it("go by the business's day: at 21:00 UTC it is already the 15th in Tokyo", async () => {
      const at = new Date('2025-05-14T21:00:00Z');
      const tokyo = env.app({ now: () => at, timeZone: 'Asia/Tokyo' });
      const res = await slackPost(tokyo.app, SLACK_PATHS.commands, commandBody(TEAM, 'visits today'), { now: at });
      // Tokyo's 15th is 2025-05-14 15:00 UTC to 2025-05-15 15:00 UTC.
      expect(heads(res.body.text)).toEqual(['Hedge trimming (job #12)', 'Mulch <beds> (job #13)']);
    });

    it('an unknown filter says which ones exist', async () => {
      expect((await ask('visits yesterday')).text).toContain('Unknown visits filter "yesterday": use today, tomorrow or week.');
    });
  });

  describe('payments', () => {
    it('recent (the default and only filter): newest first, method and invoice, refunds said, the last 30 days summed', async () => {
      const { text, shown } = await ask('payments');
      expect(text.split('\n')[0]).toBe('Recent payments:');
      expect(bullets(text)).toEqual([
        '• -$20.00 (refund) — Jane Smith — 2025-05-13 — cash — Invoice #102',
        '• $150.00 — Jane Smith — 2025-05-12 — cash — Invoice #102',
        '• $400.00 — Smith & Sons <Roofing> — 2025-05-10 — cheque — no invoice',
        '• $75.00 — Jane Smith — 2025-03-01 — e transfer — no invoice',
      ]);
      // 150 + 400 - 20; the March payment is older than 30 days and the tombstoned one is gone.
      expect(text).toContain('$530.00 received in the last 30 days');
      expect(shown).toContain('<https://secure.getjobber.com/invoices/i-102|Invoice #102>');
      for (const hidden of ['$1,234.00', ...SECRETS]) expect(text + shown).not.toContain(hidden);
      expect((await ask('payments recent')).text).toBe(text);
    });

    it('an unknown filter says which ones exist', async () => {
      expect((await ask('payments all')).text).toContain('Unknown payments filter "all": use recent.');
    });
  });

  describe('client <name>', () => {
    it("lists each client's open requests and quotes and upcoming visits, capped, no tombstones", async () => {
      const { text, shown } = await ask('client smith');
      const jane = bullets(text).find((l) => l.startsWith('• Jane Smith'))!;
      expect(jane).toContain('Open requests: Fence repair (new); Gutter clean <urgent> & soon (new)');
      // Draft, awaiting, changes requested and approved are open; the converted one and the tombstone are not. Oldest first, three shown.
      expect(jane).toContain(
        'Open quotes: #1 Hedge plan ($250.00, awaiting response); #2 Roof & gutters ($1,000.00, changes requested); #3 Lawn ($400.00, approved) and 1 more',
      );
      // Still to come and not completed: the morning's is done, the tombstone gone.
      expect(jane).toContain(
        'Upcoming visits: Hedge trimming (job #12) 2025-05-14 17:00 UTC; Mulch <beds> (job #13) 2025-05-15 10:00 UTC; Weekly mow (job #11) 2025-05-18 10:00 UTC',
      );
      const sons = bullets(text).find((l) => l.startsWith('• Smith & Sons'))!;
      expect(sons).toContain('Open requests: Roof look (assessment completed)');
      expect(sons).toContain('Upcoming visits: Out of range (job #11) 2025-05-21 09:00 UTC');
      expect(sons).not.toContain('Open quotes');
      expect(shown).toContain('<https://secure.getjobber.com/requests/r-fence|Fence repair> (new)');
      expect(shown).toContain('Gutter clean &lt;urgent&gt; &amp; soon');
      for (const hidden of ['Deleted lead', 'Patio quote', 'Withdrawn', 'Pool', 'Cancelled visit', 'Yesterday visit', ...SECRETS]) {
        expect(text + shown).not.toContain(hidden);
      }
    });
  });

  describe('account isolation', () => {
    it.each(['requests all', 'quotes', 'quotes approved', 'visits week', 'payments', 'client jane'])(
      '"%s": the other workspace sees only its own account',
      async (command) => {
        const mine = await ask(command);
        const theirs = await ask(command, OTHER_TEAM);
        for (const hidden of SECRETS) expect(mine.text + mine.shown).not.toContain(hidden);
        for (const ours of ['Jane Smith', 'Smith & Sons', 'Hedge', 'Fence', '$150.00', '1 Elm St']) expect(theirs.text).not.toContain(ours);
      },
    );

    it('the other workspace gets its own records', async () => {
      expect(heads((await ask('requests', OTHER_TEAM)).text)).toEqual(['Secret lead']);
      expect(heads((await ask('quotes', OTHER_TEAM)).text)).toEqual(['Quote #9 Secret quote']);
      expect(heads((await ask('visits', OTHER_TEAM)).text)).toEqual(['Secret visit (job #1)']);
      expect(heads((await ask('payments', OTHER_TEAM)).text)).toEqual(['$9,999.00']);
      const client = await ask('client jane', OTHER_TEAM);
      expect(client.text).toContain('Jane Elsewhere');
      expect(client.text).toContain('Open requests: Secret lead (new)');
    });

    it('a workspace nobody linked sees none of it', async () => {
      for (const command of ['requests', 'quotes', 'visits week', 'payments']) {
        const { text } = await ask(command, 'T0NOBODY');
        expect(text).toContain('not linked to a Jobber account');
        for (const leak of ['Fence', 'Hedge', 'Secret', '$']) expect(text).not.toContain(leak);
      }
    });
  });

  it('help lists the new subcommands', async () => {
    const { shown } = await ask('help');
    for (const sub of ['requests [new|all]', 'quotes [pending|approved]', 'visits [today|tomorrow|week]', 'payments [recent]', 'client &lt;name&gt;']) {
      expect(shown).toContain(`/jobber ${sub}`);
    }
  });
});
