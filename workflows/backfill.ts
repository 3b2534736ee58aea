import { continueAsNew, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BackfillInput } from './definitions';
import type { RecordKind } from './definitions';
import { summarized } from './summaries';

const { syncPage, recordKinds } = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 30 },
});

/** The kinds of runs that started before `backfill-kinds-from-registry`. */
const ORDER: RecordKind[] = ['client', 'job', 'invoice'];
const PAGES_PER_RUN = 200;

/**
 * Pages through an account's records of every type the registry holds (Relay cursors) into
 * MongoDB through the same ordered upsert as webhooks, never alerting. Its position (kind +
 * cursor) is its state: a retry or a continue-as-new resumes from the last page stored. With
 * `updatedSince` it reconciles.
 */
export async function backfillWorkflow(input: BackfillInput): Promise<{ records: number; pages: number }> {
  // Since this patch the kinds come from the registry (an activity: workflows do not import it),
  // asked once per backfill and carried across continue-as-new.
  const kinds = input.kinds ?? (patched('backfill-kinds-from-registry') ? await summarized(recordKinds, 'which record types to sync') : ORDER);
  let position = input.position ?? { kind: kinds[0]!, done: [] as RecordKind[] };
  // Page sizes are learned per kind: an invoice costs several times what a job does.
  let pageSize = input.pageSize;
  let records = 0;
  let pages = 0;

  while (position.kind) {
    const summary = `${position.kind}s page ${pages + 1}${input.updatedSince ? ` changed since ${input.updatedSince}` : ''}${pageSize ? `, ${pageSize} per page` : ''}`;
    const page = await summarized(syncPage, summary, {
      accountId: input.accountId,
      kind: position.kind,
      after: position.after,
      pageSize,
      updatedSince: input.updatedSince,
    });
    records += page.count;
    pages++;
    pageSize = page.nextPageSize;
    if (page.hasNextPage) {
      position = { ...position, after: page.endCursor };
    } else {
      const done = [...position.done, position.kind];
      const next = kinds.find((k) => !done.includes(k));
      if (!next) break;
      position = { kind: next, done };
      pageSize = undefined;
    }
    if (pages >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof backfillWorkflow>({ ...input, ...(kinds !== ORDER ? { kinds } : {}), position, pageSize });
    }
  }
  return { records, pages };
}
