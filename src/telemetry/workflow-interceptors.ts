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
 * settings. But a workflow is traced only when its start carried a trace context (the
 * `_tracer-data` header, set by a traced ingress or parent): making spans costs each workflow task
 * about a fifth of the event pipeline's throughput (docs/BENCHMARKS.md), which an untraced
 * deployment must not pay. The header is in the history, so replay decides the same way. Until
 * the start is seen (the first activation's internals, a signal-with-start's signal) nothing is
 * traced.
 */
import { getRandomStream, type WorkflowInterceptors } from '@temporalio/workflow';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';

/** The stream's name: stable, since a history's replay draws from it by name. */
export const TRACING_RANDOM_STREAM = 'jobber-sync/opentelemetry';

/** Whether this workflow execution is traced: decided by its start's headers. */
interface Tracing {
  on: boolean;
}

/**
 * The methods of an interceptor class, run on the tracing stream while the execution is traced;
 * when it is not, each call goes straight to `next` (the last argument of every interceptor
 * method). The OpenTelemetry interceptor itself is made only once a traced call needs it.
 */
function onTracingStream<T extends object>(Interceptor: new () => T, tracing: Tracing): T {
  let instance: T | undefined;
  return new Proxy(Interceptor.prototype as T, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function' || key === 'constructor') return value;
      return (...args: unknown[]) => {
        if (!tracing.on) {
          const next = args[args.length - 1] as (...a: unknown[]) => unknown;
          return next(...args.slice(0, -1));
        }
        return getRandomStream(TRACING_RANDOM_STREAM).with(() => {
          instance ??= new Interceptor();
          return (Reflect.get(instance, key) as (...a: unknown[]) => unknown).apply(instance, args);
        });
      };
    },
  });
}

export const interceptors = (): WorkflowInterceptors => {
  const tracing: Tracing = { on: false };
  const inbound = onTracingStream(OpenTelemetryInboundInterceptor, tracing);
  return {
    inbound: [
      // Outermost: sees the start's headers before the tracing interceptor would.
      {
        execute(input, next) {
          tracing.on = input.headers[TRACE_HEADER] !== undefined;
          return next(input);
        },
      },
      inbound,
    ],
    outbound: [onTracingStream(OpenTelemetryOutboundInterceptor, tracing)],
    internals: [onTracingStream(OpenTelemetryInternalsInterceptor, tracing)],
  };
};
