import request from 'supertest';
import { Client, Connection } from '@temporalio/client';
import { connectMongo, connectTemporal, runsOf, uniqueTaskQueue } from '../helpers/env';
import { sign, testApp, webhookBody } from '../helpers/ingress';
import { eventWorkflowId, recordWorkflowId, SEARCH_ATTRIBUTES, type JobberEvent } from '../../workflows/definitions';
import { defaultPayloadConverter } from '@temporalio/common';
import type mongoose from 'mongoose';
import { createModels, type Models } from '../../src/db/models';
import { malformedWebhookKeeper, MAX_KEPT_BODY_BYTES } from '../../src/ingress/dead-letters';
import { listDeadLetters, replayDeadLetter } from '../../src/ops/operations';

let n = 0;
const freshEvent = (topic = 'CLIENT_UPDATE') => ({
  topic,
  accountId: 'Z2lkOi8vSm9iYmVyL0FjY291bnQvMQ==',
  itemId: Buffer.from(`gid://Jobber/Client/${Date.now()}${n++}`).toString('base64'),
  occurredAt: '2025-05-01T12:00:00-06:00',
});

describe('POST /webhooks/jobber against the real Temporal server', () => {
  let temporal: Awaited<ReturnType<typeof connectTemporal>>;
  // No worker polls this queue: started workflows wait there, which is all the ingress promises.
  const taskQueue = uniqueTaskQueue('ingress');

  beforeAll(async () => {
    temporal = await connectTemporal();
  });
  afterAll(async () => {
    await temporal.connection.close();
  });
  /** The `jobberEvent` signals in a workflow's history, decoded. */
  const signalsOf = async (workflowId: string) =>
    ((await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a?.signalName === 'jobberEvent')
      .map((a) => defaultPayloadConverter.fromPayload(a!.input!.payloads![0]!));

  it("hands a record's event to that record's workflow (signal-with-start) and answers 202 with the event's natural key", async () => {
    const { app } = testApp(temporal.client, taskQueue);
    const event = freshEvent();
    const body = webhookBody(event);
    const res = await request(app.callback())
      .post('/webhooks/jobber')
      .set('Content-Type', 'application/json')
      .set('X-Jobber-Hmac-SHA256', sign(body))
      .send(body);
    expect(res.status).toBe(202);
    const eventId = eventWorkflowId({ ...event, occurredAt: '2025-05-01T18:00:00.000Z' });
    const workflowId = recordWorkflowId(event.accountId, 'client', event.itemId);
    expect(res.body).toEqual({ status: 'accepted', eventId, workflowId });
    const handle = temporal.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.taskQueue).toBe(taskQueue);
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.itemId)).toBe(event.itemId);
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.accountId)).toBe(event.accountId);
    // Temporal has the event before the answer: the signal is in the record workflow's history.
    expect(await signalsOf(workflowId)).toEqual([{ event: expect.objectContaining({ ...event, occurredAt: '2025-05-01T18:00:00.000Z' }) }]);
  });

  it('hands a resent record event to the same record workflow run, which takes its natural key once (2xx every time)', async () => {
    const { app, metrics } = testApp(temporal.client, taskQueue);
    const event = freshEvent('JOB_CREATE');
    const body = webhookBody(event);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(body)).send(body);
      statuses.push(res.status);
    }
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    const workflowId = recordWorkflowId(event.accountId, 'job', event.itemId);
    expect(await runsOf(temporal.client, workflowId)).toHaveLength(1);
    // Five copies of one natural key: the workflow takes it once (test/pipeline/events.test.ts: one fetch, one alert).
    const signals = await signalsOf(workflowId);
    expect(signals).toHaveLength(5);
    expect(new Set(signals.map((s) => eventWorkflowId((s as { event: JobberEvent }).event))).size).toBe(1);
    expect(await metrics.registry.getSingleMetricAsString('jobber_webhooks_total')).toMatch(/outcome="accepted"} 5/);
  });

  it('treats a resent webhook of a topic with its own event workflow as a no-op that still gets 2xx: five sends, one workflow', async () => {
    const { app, metrics } = testApp(temporal.client, taskQueue);
    const event = freshEvent('PAYOUT_CREATE'); // not synced: an event workflow records it
    const body = webhookBody(event);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(body)).send(body);
      statuses.push(res.status);
    }
    expect(statuses).toEqual([202, 200, 200, 200, 200]);
    const workflowId = eventWorkflowId({ ...event, occurredAt: new Date(event.occurredAt).toISOString() });
    const { status } = await temporal.client.workflow.getHandle(workflowId).describe();
    expect(status.name).toBe('RUNNING');
    // The duplicates did not start a second run.
    expect(await runsOf(temporal.client, workflowId)).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('jobber_webhooks_total')).toMatch(/outcome="duplicate"} 4/);
  });

  it('maps both timestamp spellings and both encodings of one event to the same workflow', async () => {
    const { app } = testApp(temporal.client, taskQueue);
    const event = freshEvent('INVOICE_UPDATE');
    const json = webhookBody(event, 'occuredAt');
    const form = new URLSearchParams({
      'data[webHookEvent][topic]': event.topic,
      'data[webHookEvent][accountId]': event.accountId,
      'data[webHookEvent][itemId]': event.itemId,
      'data[webHookEvent][occurredAt]': '2025-05-01T18:00:00Z',
    }).toString();
    const first = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(json)).send(json);
    const second = await request(app.callback()).post('/webhooks/jobber').type('form').set('X-Jobber-Hmac-SHA256', sign(form)).send(form);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.eventId).toBe(first.body.eventId);
    expect(second.body.workflowId).toBe(first.body.workflowId);
  });

  it.each([
    ['missing', undefined, 'signature_missing'],
    ['wrong', sign('something else'), 'signature_mismatch'],
    ['malformed', '%%%', 'signature_malformed'],
    ['wrong length', Buffer.alloc(20).toString('base64'), 'signature_malformed'],
  ])('rejects a %s signature with 401, starts nothing and does not log the body', async (_name, signature, outcome) => {
    const { app, lines, metrics } = testApp(temporal.client, taskQueue);
    const event = freshEvent();
    const body = webhookBody(event);
    const req = request(app.callback()).post('/webhooks/jobber').type('json');
    if (signature) req.set('X-Jobber-Hmac-SHA256', signature);
    const res = await req.send(body);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid signature', requestId: expect.any(String) });
    expect(await metrics.registry.getSingleMetricAsString('jobber_webhooks_total')).toMatch(new RegExp(`outcome="${outcome}"} 1`));
    const workflowId = eventWorkflowId({ ...event, occurredAt: new Date(event.occurredAt).toISOString() });
    await expect(temporal.client.workflow.getHandle(workflowId).describe()).rejects.toThrow(/not found/i);
    const logged = lines.join('\n');
    expect(logged).toMatch(/bad signature/);
    expect(logged).not.toContain(event.itemId);
  });

  describe('a signed but malformed payload', () => {
    let mongo: mongoose.Connection;
    let models: Models;
    beforeAll(async () => {
      mongo = await connectMongo('malformed');
      models = await createModels(mongo);
    });
    afterAll(async () => {
      await mongo?.dropDatabase();
      await mongo?.close();
    });
    const post = (app: ReturnType<typeof testApp>['app'], body: string, type = 'json') =>
      request(app.callback()).post('/webhooks/jobber').type(type).set('X-Jobber-Hmac-SHA256', sign(body)).send(body);

    it('is acknowledged, kept as a dead letter an operator sees, and counted', async () => {
      const { app, metrics, lines } = testApp(temporal.client, taskQueue, { keepMalformedWebhook: malformedWebhookKeeper(models) });
      const body = JSON.stringify({ data: { webHookEvent: { topic: 'CLIENT_UPDATE', accountId: 'A' } } });
      const res = await post(app, body);
      // Jobber signed it: an error answer would count against the app's webhooks.
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'dead-lettered', reason: 'itemId is missing' });
      const open = await listDeadLetters(models);
      expect(open).toEqual([
        expect.objectContaining({
          _id: res.body.deadLetter,
          status: 'open',
          errorType: 'MalformedWebhook',
          error: 'malformed webhook: itemId is missing',
          webhook: { contentType: 'application/json', body, bytes: Buffer.byteLength(body), truncated: false },
        }),
      ]);
      // Jobber resends it: still one dead letter.
      expect((await post(app, body)).status).toBe(202);
      expect(await models.DeadLetter.countDocuments({ errorType: 'MalformedWebhook' })).toBe(1);
      expect(await metrics.registry.getSingleMetricAsString('jobber_webhooks_total')).toMatch(/outcome="malformed"} 2/);
      expect(lines.join('\n')).toMatch(/kept as a dead letter/);
      // Not JSON at all, and a body type Jobber does not send: kept too.
      expect((await post(app, '{"data": {', 'json')).body).toMatchObject({ status: 'dead-lettered', reason: 'body is not valid JSON' });
      expect((await post(app, 'topic=CLIENT_UPDATE', 'text')).status).toBe(202);
      expect(await models.DeadLetter.countDocuments({ errorType: 'MalformedWebhook' })).toBe(3);
      await models.DeadLetter.deleteMany({});
    });

    it('keeps at most a capped body, and a replay says why it cannot run', async () => {
      const { app } = testApp(temporal.client, taskQueue, { keepMalformedWebhook: malformedWebhookKeeper(models) });
      const body = JSON.stringify({ data: { webHookEvent: { topic: 'CLIENT_UPDATE', padding: 'x'.repeat(5000) } } });
      const res = await post(app, body);
      expect(res.status).toBe(202);
      const letter = await models.DeadLetter.findById(res.body.deadLetter).lean();
      expect(letter?.webhook).toMatchObject({ bytes: Buffer.byteLength(body), truncated: true });
      expect(Buffer.byteLength(letter!.webhook!.body!)).toBe(MAX_KEPT_BODY_BYTES);
      const ops = { models, client: temporal.client, taskQueue, control: undefined as never };
      await expect(replayDeadLetter(ops, res.body.deadLetter)).rejects.toThrow(/cannot be replayed/);

      const missing = JSON.stringify({ data: { webHookEvent: { topic: 'CLIENT_UPDATE', accountId: 'A' } } });
      const kept = (await post(app, missing)).body.deadLetter;
      await expect(replayDeadLetter(ops, kept)).rejects.toThrow(/still malformed: itemId is missing/);
      expect((await models.DeadLetter.findById(kept).lean())?.status).toBe('open');
      await models.DeadLetter.deleteMany({});
    });

    it('is replayed into its record workflow once the parser reads it (as after a fix), and the letter resolves', async () => {
      const event = freshEvent();
      const body = webhookBody(event);
      // Kept as a malformed webhook would be; today's parser reads this body.
      const id = await malformedWebhookKeeper(models)({ rawBody: Buffer.from(body), contentType: 'application/json', reason: 'occurredAt is not valid' });
      const ops = { models, client: temporal.client, taskQueue, control: undefined as never };
      const eventId = eventWorkflowId({ ...event, occurredAt: new Date(event.occurredAt).toISOString() });
      const workflowId = recordWorkflowId(event.accountId, 'client', event.itemId);
      expect(await replayDeadLetter(ops, id)).toMatchObject({ workflowId, status: 'replaying' });
      expect((await temporal.client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
      expect(await models.DeadLetter.findById(id).lean()).toMatchObject({ status: 'resolved', replayedAs: eventId });
      expect(await replayDeadLetter(ops, id)).toMatchObject({ status: 'already resolved' });
    });

    it('is answered 503 when it cannot be kept, so Jobber sends it again', async () => {
      const { app, metrics } = testApp(temporal.client, taskQueue, {
        keepMalformedWebhook: async () => {
          throw new Error('MongoDB unavailable');
        },
      });
      const body = JSON.stringify({ data: { webHookEvent: { topic: 'CLIENT_UPDATE' } } });
      const res = await post(app, body);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(await metrics.registry.getSingleMetricAsString('jobber_webhooks_total')).toMatch(/outcome="malformed_unrecorded"} 1/);
    });
  });

  it('caps the body size with 413', async () => {
    const { app, metrics } = testApp(temporal.client, taskQueue, { webhookBodyLimit: '1kb' });
    const body = JSON.stringify({ data: { webHookEvent: { ...freshEvent(), padding: 'x'.repeat(4096) } } });
    const res = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(body)).send(body);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'webhook body too large', requestId: expect.any(String) });
    expect(await metrics.registry.getSingleMetricAsString('jobber_webhooks_total')).toMatch(/outcome="too_large"} 1/);
  });

  it('acknowledges an unknown topic (the workflow records it)', async () => {
    const { app } = testApp(temporal.client, taskQueue);
    const body = webhookBody(freshEvent('MARKETING_ITEM_UPDATE'));
    const res = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(body)).send(body);
    expect(res.status).toBe(202);
  });

  it('answers 503 with Retry-After when Temporal cannot be reached, so Jobber retries', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 300 });
    const unreachable = new Client({ connection });
    const { app, lines } = testApp(unreachable, taskQueue, { temporalDeadlineMs: 500 });
    const body = webhookBody(freshEvent());
    const res = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(body)).send(body);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toEqual({ error: 'temporarily unavailable, retry later' });
    expect(lines.join('\n')).toMatch(/Temporal unavailable/);
  });

  it('serves /healthz and reports readiness per dependency on /readyz', async () => {
    const { app } = testApp(temporal.client, taskQueue, {
      readiness: {
        temporal: async () => {
          await temporal.client.connection.workflowService.getSystemInfo({});
        },
        mongodb: async () => {
          throw new Error('connection refused');
        },
      },
    });
    expect((await request(app.callback()).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(app.callback()).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ temporal: 'ok', mongodb: 'unavailable: connection refused' });
  });
});
