import { parseJobberWebhook, signJobberBody, verifyJobberSignature, WebhookPayloadError } from '../../src/ingress/jobber-webhook';

const secret = 'sandbox-client-secret';
const body =
  '{"data":{"webHookEvent":{"topic":"CLIENT_CREATE","appId":"a1","accountId":"Z2lkOi8vSm9iYmVyL0FjY291bnQvMjQ4NjkzNA==","itemId":"Z2lkOi8vSm9iYmVyL0NsaWVudC8x","occurredAt":"2021-08-12T16:31:36-06:00"}}}';

describe('Jobber webhook signature', () => {
  it('matches a signature computed independently (openssl dgst -sha256 -hmac ... | base64)', () => {
    // Pinned: printf '%s' "$body" | openssl dgst -sha256 -hmac sandbox-client-secret -binary | base64
    expect(signJobberBody(body, secret)).toBe('ybVsJRG9aF8TcW/X8y7WzKjxcJEP/XLWrdUag4Rny04=');
  });

  it('accepts the right signature and rejects wrong, missing, malformed and wrong-length ones', () => {
    const raw = Buffer.from(body);
    const good = signJobberBody(raw, secret);
    expect(verifyJobberSignature(raw, good, secret)).toBeUndefined();
    expect(verifyJobberSignature(raw, undefined, secret)).toBe('missing');
    expect(verifyJobberSignature(raw, 'not base64!', secret)).toBe('malformed');
    expect(verifyJobberSignature(raw, Buffer.alloc(16).toString('base64'), secret)).toBe('malformed');
    expect(verifyJobberSignature(raw, signJobberBody(raw, 'other-secret'), secret)).toBe('mismatch');
    expect(verifyJobberSignature(Buffer.from(body.replace('CREATE', 'UPDATE')), good, secret)).toBe('mismatch');
  });

  it('hashes the raw bytes: re-serialised JSON with other whitespace does not verify', () => {
    const reencoded = Buffer.from(JSON.stringify(JSON.parse(body), null, 2));
    expect(verifyJobberSignature(reencoded, signJobberBody(body, secret), secret)).toBe('mismatch');
  });
});

describe('Jobber webhook payload', () => {
  it('reads JSON with either spelling of the timestamp and normalises it to UTC', () => {
    const event = parseJobberWebhook(Buffer.from(body), 'application/json; charset=utf-8');
    expect(event).toEqual({
      topic: 'CLIENT_CREATE',
      appId: 'a1',
      accountId: 'Z2lkOi8vSm9iYmVyL0FjY291bnQvMjQ4NjkzNA==',
      itemId: 'Z2lkOi8vSm9iYmVyL0NsaWVudC8x',
      occurredAt: '2021-08-12T22:31:36.000Z',
    });
    const legacy = parseJobberWebhook(Buffer.from(body.replace('occurredAt', 'occuredAt')), 'application/json');
    expect(legacy.occurredAt).toBe(event.occurredAt);
  });

  it('reads form-encoded bodies, nested or flat', () => {
    const nested = new URLSearchParams({
      'data[webHookEvent][topic]': 'JOB_UPDATE',
      'data[webHookEvent][accountId]': 'QQ==',
      'data[webHookEvent][itemId]': 'Qg==',
      'data[webHookEvent][occuredAt]': '2024-05-01T10:00:00Z',
    }).toString();
    expect(parseJobberWebhook(Buffer.from(nested), 'application/x-www-form-urlencoded')).toMatchObject({ topic: 'JOB_UPDATE', itemId: 'Qg==' });
    const flat = 'topic=JOB_UPDATE&accountId=QQ%3D%3D&itemId=Qg%3D%3D&occurredAt=2024-05-01T10%3A00%3A00Z';
    expect(parseJobberWebhook(Buffer.from(flat), 'application/x-www-form-urlencoded')).toMatchObject({ accountId: 'QQ==' });
  });

  it.each([
    ['not json', 'application/json', /not valid JSON/],
    ['{"data":{}}', 'application/json', /no data.webHookEvent/],
    ['{"data":{"webHookEvent":{"topic":"CLIENT_CREATE","accountId":"A","itemId":"B"}}}', 'application/json', /occuredAt is missing/],
    [
      '{"data":{"webHookEvent":{"topic":"client create","accountId":"A","itemId":"B","occurredAt":"2024-01-01T00:00:00Z"}}}',
      'application/json',
      /topic is not valid/,
    ],
    ['{"data":{"webHookEvent":{"topic":"X","accountId":"A","itemId":"B","occurredAt":"yesterday"}}}', 'application/json', /occurredAt is not valid/],
    ['<xml/>', 'text/xml', /unsupported content type/],
  ])('rejects %s with a reason', (payload, type, reason) => {
    expect(() => parseJobberWebhook(Buffer.from(payload), type)).toThrow(WebhookPayloadError);
    expect(() => parseJobberWebhook(Buffer.from(payload), type)).toThrow(reason);
  });
});
