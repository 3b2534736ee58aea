import { accountWorkflowId, eventWorkflowId } from '../../workflows/definitions';
import { encodeGlobalId, parseGlobalId, readableId } from '../../workflows/ids';

describe('workflow ids', () => {
  it('reads Jobber EncodedIds the same way Node does, without Buffer or atob', () => {
    for (const id of [1, 42, 2486934, 99999999999]) {
      expect(readableId(encodeGlobalId('Account', id))).toBe(String(id));
    }
    expect(readableId('Z2lkOi8vSm9iYmVyL0FjY291bnQvMjQ4NjkzNA==')).toBe('2486934');
    expect(readableId('not/an=id')).toBe('not/an=id');
    expect(readableId(Buffer.from('gid://Other/Thing/1').toString('base64'))).toBe(Buffer.from('gid://Other/Thing/1').toString('base64'));
  });

  it('encodes EncodedIds exactly as Node does, without Buffer, and reads them back', () => {
    for (const [type, id] of [
      ['Account', 1],
      ['Client', 42],
      ['Invoice', 2486934],
      ['Job', '99999999999'],
      ['Application', 12345],
    ] as const) {
      const encoded = encodeGlobalId(type, id);
      expect(encoded).toBe(Buffer.from(`gid://Jobber/${type}/${id}`, 'utf8').toString('base64'));
      expect(parseGlobalId(encoded)).toEqual({ type, id: String(id) });
    }
    // Other text too (every padding length, non-ASCII, a lone surrogate), byte for byte as Buffer writes it.
    for (const text of ['', 'a', 'ab', 'abc', 'Pelouse Été', '\u{1F33F}', '\ud800x']) {
      expect(encodeGlobalId(text, 7)).toBe(Buffer.from(`gid://Jobber/${text}/7`, 'utf8').toString('base64'));
    }
  });

  it('builds readable, deterministic ids from the natural key', () => {
    const event = {
      topic: 'INVOICE_UPDATE',
      accountId: encodeGlobalId('Account', 7),
      itemId: encodeGlobalId('Invoice', 9),
      occurredAt: '2025-01-01T00:00:00.000Z',
    };
    expect(eventWorkflowId(event)).toBe('jobber-event/7/INVOICE_UPDATE/9/2025-01-01T00:00:00.000Z');
    expect(eventWorkflowId({ ...event })).toBe(eventWorkflowId(event));
    expect(accountWorkflowId(event.accountId)).toBe('jobber-account/7');
  });
});
