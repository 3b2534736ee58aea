import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { Connection, Client } from '@temporalio/client';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (its global setup starts the servers)`);
  return value;
}

export const testTemporalAddress = (): string => required('TEST_TEMPORAL_ADDRESS');
export const testWorkflowBundle = (): string => required('TEST_WORKFLOW_BUNDLE');

/** A fresh database on the shared wire-protocol server, so test files never see each other's data. */
export function testMongoUrl(prefix = 'test'): string {
  const url = new URL(required('TEST_MONGO_URL'));
  url.pathname = `/${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  return url.toString();
}

export async function connectMongo(prefix?: string): Promise<mongoose.Connection> {
  return mongoose.createConnection(testMongoUrl(prefix)).asPromise();
}

export async function connectTemporal(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: testTemporalAddress() });
  return { client: new Client({ connection }), connection };
}

export const uniqueTaskQueue = (name: string): string => `test-${name}-${randomUUID().slice(0, 8)}`;

/**
 * Every run Temporal holds under one workflow id (visibility lags a little, so it waits for the
 * first): how a test sees that duplicates started nothing new.
 */
export async function runsOf(client: Client, workflowId: string): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const runs: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(wf.runId);
    if (runs.length > 0 || Date.now() > deadline) return runs;
    await new Promise((r) => setTimeout(r, 100));
  }
}
