import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of the ingress, served at /metrics. */
export class IngressMetrics {
  readonly registry = new Registry();
  private readonly webhooks = new Counter({
    name: 'jobber_webhooks_total',
    help: 'Jobber webhooks received, by outcome (accepted, duplicate, signature_*, malformed (kept as a dead letter), malformed_unrecorded, malformed_rejected, too_large, unreadable, temporal_unavailable)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly ackLatency = new Histogram({
    name: 'jobber_webhook_ack_seconds',
    help: 'Time from receiving a Jobber webhook to answering it',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  observeWebhook(outcome: string, seconds: number): void {
    this.webhooks.inc({ outcome });
    this.ackLatency.observe({ outcome }, seconds);
  }
}
