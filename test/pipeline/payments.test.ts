import { expectPostedOnce, startPipeline, type Pipeline } from '../helpers/pipeline';

/**
 * Payments: PAYMENT_CREATE / UPDATE / DESTROY, fetched as Jobber's paymentRecord (an interface,
 * one type per method). No updatedAt: copies are ordered by when their fetch started.
 */
describe('payments: webhook → workflow → stored payment with its invoice and client, tombstones', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;

  beforeAll(async () => {
    p = await startPipeline('payments');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });

  const invoiceOf = (firstName: string) => {
    const client = store().createClient(account, { firstName, lastName: 'Payer' }, { webhook: false });
    const invoice = store().createInvoice(account, { clientId: client.id, amounts: { subtotal: 300 } }, { webhook: false });
    return { client, invoice };
  };

  it('stores a payment with its links to the invoice and the client, and its changes', async () => {
    const { client, invoice } = invoiceOf('Lena');
    // The invoice synced first, so the payment's alert can link to it (a payment has no page of its own).
    await p.outcomes(capture(() => store().updateInvoice(invoice.id, { subject: 'Lawn care' })).webhookIds);
    const created = capture(() => store().createPayment(account, { invoiceId: invoice.id, amount: 120.5, paymentType: 'CHEQUE', details: 'cheque 311' }));
    expect(await p.outcomes(created.webhookIds)).toEqual([
      expect.objectContaining({ status: 'synced', kind: 'payment', applied: true, alerts: ['payment-received'] }),
    ]);
    // Payment received is on by default: amount, method, invoice and client, posted once.
    const alert = expectPostedOnce(p, 'Payment received: $120.50', invoice.jobberWebUri);
    for (const part of ['cheque', `#${invoice.invoiceNumber}`, 'Lena Payer']) expect(alert.text).toContain(part);
    expect(await p.models.Payment.findById(created.result.id).lean()).toMatchObject({
      accountId: account,
      recordType: 'CheckPaymentRecord',
      amount: 120.5,
      paymentType: 'CHEQUE',
      adjustmentType: 'PAYMENT',
      details: 'cheque 311',
      entryDate: new Date(created.result.entryDate),
      invoiceId: invoice.id,
      invoiceNumber: invoice.invoiceNumber,
      clientId: client.id,
      clientName: 'Lena Payer',
    });
    const updated = capture(() => store().updatePayment(created.result.id, { amount: 150 }));
    expect(await p.outcomes(updated.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'payment', applied: true })]);
    expect((await p.models.Payment.findById(created.result.id).lean())?.amount).toBe(150);
  });

  it('tombstones on PAYMENT_DESTROY, and a late PAYMENT_UPDATE does not bring it back', async () => {
    const { invoice } = invoiceOf('Temp');
    const created = capture(() => store().createPayment(account, { invoiceId: invoice.id, amount: 10, details: 'gone soon' }));
    await p.outcomes(created.webhookIds);
    const late = capture(() => store().updatePayment(created.result.id, { details: 'late' }, { delivery: { hold: true } }));
    const destroyed = capture(() => store().deletePayment(created.result.id));
    expect(await p.outcomes(destroyed.webhookIds)).toEqual([expect.objectContaining({ status: 'deleted', kind: 'payment', applied: true })]);
    await p.jobber.sandbox.webhooks.release(late.webhookIds);
    expect(await p.outcomes(late.webhookIds)).toEqual([{ status: 'gone', kind: 'payment' }]);
    const stored = await p.models.Payment.findById(created.result.id).lean();
    expect(stored?.deletedAt).toBeInstanceOf(Date);
    expect(stored?.details).toBe('gone soon');
  });
});
