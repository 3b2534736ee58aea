import type { MetricCounter, MetricHistogram, MetricMeter } from '@temporalio/common';

/**
 * The worker's own metrics, recorded through the Temporal runtime's meter so they are exported
 * on the same Prometheus endpoint as the SDK's (METRICS_PORT on the worker).
 */
export class WorkerMetrics {
  readonly jobberRequests: MetricCounter;
  readonly jobberQueryCost: MetricHistogram;
  readonly jobberThrottleWaitMs: MetricHistogram;
  readonly slackPosts: MetricCounter;
  readonly deadLetters: MetricCounter;

  constructor(meter: MetricMeter) {
    this.jobberRequests = meter.createCounter('jobber_requests', 'requests', 'Jobber GraphQL requests by operation and outcome');
    this.jobberQueryCost = meter.createHistogram('jobber_query_cost', 'int', 'points', 'Actual query cost Jobber reported');
    this.jobberThrottleWaitMs = meter.createHistogram('jobber_throttle_wait', 'int', 'ms', 'Time spent waiting for the cost bucket before a request');
    this.slackPosts = meter.createCounter('slack_alerts', 'alerts', 'Slack alerts by outcome (sent, duplicate)');
    this.deadLetters = meter.createCounter('dead_letters', 'events', 'Events that failed for good, by error type');
  }
}
