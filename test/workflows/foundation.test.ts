import type mongoose from 'mongoose';
import type { Client, Connection } from '@temporalio/client';
import { createModels, type Models } from '../../src/db/models';
import { eventWorkflowId, SEARCH_ATTRIBUTES, type JobberEvent } from '../../workflows/definitions';
import type { jobberEventWorkflow } from '../../workflows';
import { connectMongo, connectTemporal } from '../helpers/env';
import { startWorker, type RunningWorker } from '../helpers/worker';
import { buildDeps } from '../helpers/deps';
import { TypedSearchAttributes } from '@temporalio/common';

describe('a workflow with activities on the real Temporal server and MongoDB wire-protocol server', () => {
  let mongo: mongoose.Connection;
  let models: Models;
  let temporal: { client: Client; connection: Connection };
  let worker: RunningWorker;

  beforeAll(async () => {
    mongo = await connectMongo('foundation');
    models = await createModels(mongo);
    temporal = await connectTemporal();
    // Jobber and Slack point nowhere: these events never call them.
    worker = await startWorker(buildDeps({ models }), 'foundation');
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.connection.close();
    await mongo?.dropDatabase();
    await mongo?.close();
  });

  it('records an event of a topic we do not sync and returns the outcome', async () => {
    const event: JobberEvent = {
      topic: 'TIMESHEET_CREATE',
      accountId: 'Z2lkOi8vSm9iYmVyL0FjY291bnQvNw==',
      itemId: 'Z2lkOi8vSm9iYmVyL1Zpc2l0Lzk=',
      occurredAt: '2025-03-01T10:00:00.000Z',
    };
    const workflowId = eventWorkflowId(event);
    expect(workflowId).toBe('jobber-event/7/TIMESHEET_CREATE/9/2025-03-01T10:00:00.000Z');
    const result = await temporal.client.workflow.execute<typeof jobberEventWorkflow>('jobberEventWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId,
      args: [{ event }],
      typedSearchAttributes: new TypedSearchAttributes([{ key: SEARCH_ATTRIBUTES.topic, value: event.topic }]),
    });
    expect(result).toEqual({ status: 'recorded', reason: 'topic not synced' });
    const stored = await models.Event.findById(workflowId).lean();
    expect(stored).toMatchObject({ topic: 'TIMESHEET_CREATE', status: 'recorded', reason: 'topic not synced' });
    const description = await temporal.client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.topic)).toBe('TIMESHEET_CREATE');
  });

  it('records but does not process an event for an account we do not hold', async () => {
    const event: JobberEvent = { topic: 'CLIENT_UPDATE', accountId: 'unknown-account', itemId: 'c1', occurredAt: '2025-03-01T10:00:00.000Z' };
    const result = await temporal.client.workflow.execute<typeof jobberEventWorkflow>('jobberEventWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: eventWorkflowId(event),
      args: [{ event }],
    });
    expect(result).toEqual({ status: 'recorded', reason: 'account unknown' });
    expect(await models.Client.countDocuments()).toBe(0);
  });
});
