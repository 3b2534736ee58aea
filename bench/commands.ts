/**
 * `/jobber` answer times on the backfill data set: BENCH_COMMAND_CLIENTS clients (375 by default)
 * each with a property, a request, a quote, a job, a visit, an invoice and a payment (8 records
 * per client: 3,000), for the asked account and as many for another account in the same
 * collections, on FerretDB as the tests and `npm run local` run it. Each subcommand runs
 * BENCH_COMMAND_RUNS times (20) through runCommand, as the Slack route calls it; prints the median
 * and the slowest answer against Slack's 3 s, and FerretDB's explain of one list query.
 *
 *   npx tsx bench/commands.ts
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectDatabase } from '../src/db/models';
import { upsertRecords } from '../src/db/records';
import { startStack } from '../src/dev/stack';
import { createLogger } from '../src/logger';
import { runCommand } from '../src/slack/commands';
import { requestsQuery } from '../src/slack/commands/requests';

const CLIENTS = Number(process.env.BENCH_COMMAND_CLIENTS || 375);
const RUNS = Number(process.env.BENCH_COMMAND_RUNS || 20);
const NOW = new Date();
const day = (n: number) => new Date(NOW.getTime() + n * 86_400_000).toISOString();

async function seed(models: Parameters<typeof upsertRecords>[0], accountId: string) {
  const tag = accountId.slice(-1);
  const fetchedAt = new Date();
  const batch = <T>(n: number, make: (i: number) => T) => Array.from({ length: n }, (_, i) => make(i));
  const client = (i: number) => ({ id: `c${tag}-${i}`, name: `Client ${i}` });
  await upsertRecords(
    models,
    'client',
    accountId,
    batch(CLIENTS, (i) => ({
      id: `c${tag}-${i}`,
      firstName: `First${i}`,
      lastName: `Last${i % 97}`,
      companyName: null,
      isCompany: false,
      isArchived: false,
      isLead: false,
      emails: [{ address: `c${i}@example.com`, primary: true }],
      phones: [],
      billingAddress: null,
      jobberWebUri: `https://x/c/${i}`,
      createdAt: day(-200),
      updatedAt: day(-200),
    })),
    fetchedAt,
  );
  await upsertRecords(
    models,
    'property',
    accountId,
    batch(CLIENTS, (i) => ({
      id: `p${tag}-${i}`,
      street: `${i} Main St`,
      city: 'Springfield',
      province: 'ON',
      postalCode: '',
      country: 'CA',
      isBillingAddress: true,
      client: client(i),
      jobberWebUri: `https://x/p/${i}`,
    })),
    fetchedAt,
  );
  await upsertRecords(
    models,
    'request',
    accountId,
    batch(CLIENTS, (i) => ({
      id: `r${tag}-${i}`,
      title: `Request ${i}`,
      requestStatus: ['new', 'converted', 'archived', 'assessment_completed'][i % 4]!,
      contactName: null,
      companyName: null,
      email: null,
      phone: null,
      source: 'online_booking',
      client: client(i),
      jobberWebUri: `https://x/r/${i}`,
      createdAt: day(-(i % 90)),
      updatedAt: day(-(i % 90)),
    })),
    fetchedAt,
  );
  await upsertRecords(
    models,
    'quote',
    accountId,
    batch(CLIENTS, (i) => ({
      id: `q${tag}-${i}`,
      quoteNumber: String(i),
      quoteStatus: ['draft', 'awaiting_response', 'approved', 'converted', 'changes_requested'][i % 5]!,
      title: `Quote ${i}`,
      amounts: { subtotal: 100 + i, total: 100 + i },
      client: client(i),
      request: null,
      property: null,
      jobs: { nodes: [] },
      sentAt: day(-(i % 60)),
      transitionedAt: day(-(i % 60)),
      jobberWebUri: `https://x/q/${i}`,
      createdAt: day(-(i % 60)),
      updatedAt: day(-(i % 60)),
    })),
    fetchedAt,
  );
  await upsertRecords(
    models,
    'job',
    accountId,
    batch(CLIENTS, (i) => ({
      id: `j${tag}-${i}`,
      jobNumber: i,
      title: `Job ${i}`,
      jobStatus: 'active',
      total: 100 + i,
      startAt: day((i % 30) - 15),
      endAt: null,
      completedAt: null,
      client: client(i),
      jobberWebUri: `https://x/j/${i}`,
      createdAt: day(-(i % 90)),
      updatedAt: day(-(i % 90)),
    })),
    fetchedAt,
  );
  await upsertRecords(
    models,
    'visit',
    accountId,
    batch(CLIENTS, (i) => ({
      id: `v${tag}-${i}`,
      title: `Visit ${i}`,
      visitStatus: 'UPCOMING',
      startAt: day((i % 30) - 15),
      endAt: null,
      completedAt: null,
      isComplete: false,
      job: { id: `j${tag}-${i}`, jobNumber: i },
      client: client(i),
      invoice: null,
      property: { id: `p${tag}-${i}` },
      createdAt: day(-30),
    })),
    fetchedAt,
  );
  await upsertRecords(
    models,
    'invoice',
    accountId,
    batch(CLIENTS, (i) => ({
      id: `i${tag}-${i}`,
      invoiceNumber: String(i),
      invoiceStatus: ['awaiting_payment', 'paid', 'past_due'][i % 3]!,
      subject: `Invoice ${i}`,
      issuedDate: day(-40),
      dueDate: day((i % 40) - 20),
      receivedDate: null,
      amounts: { total: 100 + i, subtotal: 100 + i, invoiceBalance: i % 3 === 1 ? 0 : 100 + i, paymentsTotal: 0 },
      client: client(i),
      jobs: { nodes: [{ id: `j${tag}-${i}` }] },
      jobberWebUri: `https://x/i/${i}`,
      createdAt: day(-40),
      updatedAt: day(-40),
    })),
    fetchedAt,
  );
  await upsertRecords(
    models,
    'payment',
    accountId,
    batch(CLIENTS, (i) => ({
      __typename: 'CashPaymentRecord',
      id: `pay${tag}-${i}`,
      amount: 50 + i,
      entryDate: day(-(i % 90)),
      paymentType: null,
      adjustmentType: 'PAYMENT',
      details: null,
      client: client(i),
      invoice: { id: `i${tag}-${i}`, invoiceNumber: String(i) },
    })),
    fetchedAt,
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  // MONGO_URL: a running server; else the dev stack (FerretDB, and the Temporal dev server it starts beside).
  const stack = process.env.MONGO_URL ? undefined : await startStack({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'bench-commands-')), log: () => undefined });
  const mongoUrl = process.env.MONGO_URL || stack!.mongoUrl;
  const { connection, models } = await connectDatabase(mongoUrl);
  try {
    const asked = 'bench-account-a';
    await seed(models, asked);
    await seed(models, 'bench-account-b');
    const deps = {
      models,
      control: { syncNow: async () => undefined },
      logger: createLogger({ name: 'bench', level: 'silent' }),
      now: () => NOW,
      accountsOfWorkspace: async () => [asked],
    };
    const commands = [
      'requests',
      'requests all',
      'quotes',
      'quotes approved',
      'visits',
      'visits tomorrow',
      'visits week',
      'payments',
      'client last1',
      'jobs',
      'invoices',
    ];
    const rows: string[] = [];
    for (const text of commands) {
      const times: number[] = [];
      let answer = '';
      for (let r = 0; r < RUNS; r++) {
        const t0 = performance.now();
        answer = (await runCommand(deps, { teamId: 'T0BENCH', userId: 'U0BENCH', command: '/jobber', text })).text;
        times.push(performance.now() - t0);
      }
      rows.push(
        `| \`/jobber ${text}\` | ${median(times).toFixed(0)} ms | ${Math.max(...times).toFixed(0)} ms | ${(Math.max(...times) / 3000).toFixed(3)} | ${answer.split('\n')[0]} |`,
      );
    }
    const q = requestsQuery([asked], 'new');
    const explain = await connection.db!.command({ explain: { find: 'requests', filter: q.filter, sort: q.sort }, verbosity: 'queryPlanner' });
    const keep = Object.fromEntries(Object.entries(explain).filter(([k]) => /pushdown|queryPlanner/i.test(k)));
    process.stdout.write(
      [
        `### /jobber on the backfill data set (${CLIENTS * 8} records of the asked account, as many of another; ${RUNS} runs each)`,
        '',
        '| command | median | slowest | slowest / 3 s | answer |',
        '| --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `FerretDB's explain of \`requests new\`: \`${JSON.stringify(keep)}\``,
        '',
      ].join('\n'),
    );
  } finally {
    await connection.dropDatabase();
    await connection.close();
    await stack?.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
