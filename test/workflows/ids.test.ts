import { accountWorkflowId, eventWorkflowId, readableId } from '../../workflows/definitions';
import { encodeGlobalId } from '../../src/jobber/ids';

describe('workflow ids', () => {
  it('reads Jobber EncodedIds the same way Node does, without Buffer or atob', () => {
    for (const id of [1, 42, 2486934, 99999999999]) {
      expect(readableId(encodeGlobalId('Account', id))).toBe(String(id));
    }
    expect(readableId('Z2lkOi8vSm9iYmVyL0FjY291bnQvMjQ4NjkzNA==')).toBe('2486934');
    expect(readableId('not/an=id')).toBe('not/an=id');
    expect(readableId(Buffer.from('gid://Other/Thing/1').toString('base64'))).toBe(Buffer.from('gid://Other/Thing/1').toString('base64'));
  });

  it('builds readable, deterministic ids from the natural key', () => {
    const event = { topic: 'INVOICE_UPDATE', accountId: encodeGlobalId('Account', 7), itemId: encodeGlobalId('Invoice', 9), occurredAt: '2025-01-01T00:00:00.000Z' };
    expect(eventWorkflowId(event)).toBe('jobber-event/7/INVOICE_UPDATE/9/2025-01-01T00:00:00.000Z');
    expect(eventWorkflowId({ ...event })).toBe(eventWorkflowId(event));
    expect(accountWorkflowId(event.accountId)).toBe('jobber-account/7');
  });
});
