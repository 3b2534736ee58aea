import request from 'supertest';
import { Client, Connection } from '@temporalio/client';
import { connectTemporal, runsOf, uniqueTaskQueue } from '../helpers/env';
import { sign, testApp, webhookBody } from '../helpers/ingress';
import { eventWorkflowId, SEARCH_ATTRIBUTES } from '../../workflows/definitions';

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

  it('starts one workflow per event, keyed by the natural key, and answers 202', async () => {
    const { app } = testApp(temporal.client, taskQueue);
    const event = freshEvent();
    const body = webhookBody(event);
    const res = await request(app.callback())
      .post('/webhooks/jobber')
      .set('Content-Type', 'application/json')
      .set('X-Jobber-Hmac-SHA256', sign(body))
      .send(body);
    expect(res.status).toBe(202);
    const workflowId = eventWorkflowId({ ...event, occurredAt: '2025-05-01T18:00:00.000Z' });
    expect(res.body).toEqual({ status: 'accepted', workflowId });
    const description = await temporal.client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.taskQueue).toBe(taskQueue);
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.topic)).toBe('CLIENT_UPDATE');
    expect(description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.accountId)).toBe(event.accountId);
  });

  it('treats a resent webhook as a no-op that still gets 2xx: five sends, one workflow', async () => {
    const { app, metrics } = testApp(temporal.client, taskQueue);
    const event = freshEvent('JOB_CREATE');
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
    expect(second.status).toBe(200);
    expect(second.body.workflowId).toBe(first.body.workflowId);
  });

  it.each([
    ['missing', undefined],
    ['wrong', sign('something else')],
    ['malformed', '%%%'],
    ['wrong length', Buffer.alloc(20).toString('base64')],
  ])('rejects a %s signature with 401, starts nothing and does not log the body', async (_name, signature) => {
    const { app, lines } = testApp(temporal.client, taskQueue);
    const event = freshEvent();
    const body = webhookBody(event);
    const req = request(app.callback()).post('/webhooks/jobber').type('json');
    if (signature) req.set('X-Jobber-Hmac-SHA256', signature);
    const res = await req.send(body);
    expect(res.status).toBe(401);
    const workflowId = eventWorkflowId({ ...event, occurredAt: new Date(event.occurredAt).toISOString() });
    await expect(temporal.client.workflow.getHandle(workflowId).describe()).rejects.toThrow(/not found/i);
    const logged = lines.join('\n');
    expect(logged).toMatch(/bad signature/);
    expect(logged).not.toContain(event.itemId);
  });

  it('rejects a signed but malformed payload with 400 and a reason', async () => {
    const { app } = testApp(temporal.client, taskQueue);
    const body = JSON.stringify({ data: { webHookEvent: { topic: 'CLIENT_UPDATE', accountId: 'A' } } });
    const res = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(body)).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/itemId is missing/);
  });

  it('caps the body size with 413', async () => {
    const { app } = testApp(temporal.client, taskQueue, { webhookBodyLimit: '1kb' });
    const body = JSON.stringify({ data: { webHookEvent: { ...freshEvent(), padding: 'x'.repeat(4096) } } });
    const res = await request(app.callback()).post('/webhooks/jobber').type('json').set('X-Jobber-Hmac-SHA256', sign(body)).send(body);
    expect(res.status).toBe(413);
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
