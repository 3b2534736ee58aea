/**
 * Workflow interceptors of the bundle (scripts/bundle-workflows.ts, src/worker/bundle.ts): the
 * OpenTelemetry ones of @temporalio/interceptors-opentelemetry, on a random stream of their own.
 *
 * Runs in Temporal's workflow sandbox. The OpenTelemetry tracer makes its span ids with
 * Math.random(), which in a workflow is the deterministic stream that uuid4() also draws from
 * (the account workflow names its backfills with it): spans drawn from that stream would shift
 * every later uuid4(), and a history recorded without these interceptors would no longer replay.
 * Each call into them therefore runs on a named stream (getRandomStream) of its own; the `next`
 * they call is back on the workflow's own stream (the SDK restores it for interceptor chains).
 *
 * Always in the bundle, traced or not: whether a history replays must not depend on a worker's
 * settings. An untraced worker drops the spans in its no-op `exporter` sink (src/telemetry/temporal.ts).
 */
import { getRandomStream, type WorkflowInterceptors } from '@temporalio/workflow';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';

/** The stream's name: stable, since a history's replay draws from it by name. */
export const TRACING_RANDOM_STREAM = 'jobber-sync/opentelemetry';

/** Every method of `interceptor`, run on the tracing stream. */
function onTracingStream<T extends object>(interceptor: T): T {
  return new Proxy(interceptor, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => getRandomStream(TRACING_RANDOM_STREAM).with(() => value.apply(target, args));
    },
  });
}

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [onTracingStream(new OpenTelemetryInboundInterceptor())],
  outbound: [onTracingStream(new OpenTelemetryOutboundInterceptor())],
  internals: [onTracingStream(new OpenTelemetryInternalsInterceptor())],
});
