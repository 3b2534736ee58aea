/**
 * The floor the service is measured against (bench/webhooks.ts): one workflow per webhook, one
 * activity that fetches the record and upserts it. Bundled on its own, for its own task queue, so
 * the product's workflow bundle stays as it is.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './activities';

const { fetchAndUpsert } = proxyActivities<BareActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function bareEventWorkflow(input: { accountId: string; itemId: string }): Promise<void> {
  await fetchAndUpsert(input);
}
