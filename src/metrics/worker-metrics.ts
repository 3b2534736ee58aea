import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter } from '@temporalio/common';

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
  /** The process's memory, under the names the ingress's prom-client uses for its own. */
  readonly heapUsed: MetricGauge;
  readonly residentMemory: MetricGauge;

  constructor(meter: MetricMeter) {
    this.jobberRequests = meter.createCounter('jobber_requests', 'requests', 'Jobber GraphQL requests by operation and outcome');
    this.jobberQueryCost = meter.createHistogram('jobber_query_cost', 'int', 'points', 'Actual query cost Jobber reported');
    this.jobberThrottleWaitMs = meter.createHistogram('jobber_throttle_wait', 'int', 'ms', 'Time spent waiting for the cost bucket before a request');
    this.slackPosts = meter.createCounter('slack_alerts', 'alerts', 'Slack alerts by outcome (sent, duplicate)');
    this.deadLetters = meter.createCounter('dead_letters', 'events', 'Events that failed for good, by error type');
    this.heapUsed = meter.createGauge(
      'nodejs_heap_size_used_bytes',
      'int',
      'bytes',
      "V8 heap in use by the worker process (workflow threads' isolates not included)",
    );
    this.residentMemory = meter.createGauge('process_resident_memory_bytes', 'int', 'bytes', 'Resident memory of the worker process');
  }

  /**
   * Reads the process's memory into its gauges now and every `everyMs` (the SDK exports only what
   * is set). Returns the stop; the timer never keeps the process alive.
   */
  sampleProcess(everyMs = 10_000): () => void {
    const sample = () => {
      const { heapUsed, rss } = process.memoryUsage();
      this.heapUsed.set(heapUsed);
      this.residentMemory.set(rss);
    };
    sample();
    const timer = setInterval(sample, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
