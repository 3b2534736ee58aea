import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { OpenTelemetrySinks, SerializableSpan } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import type { WorkflowInfo } from '@temporalio/workflow';
import { scrubAttributes, type Tracing } from './tracing';

/* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */

/** The client's interceptors: a StartWorkflow/SignalWorkflow span whose context travels in the headers. None when tracing is off. */
export function workflowClientInterceptors(tracing: Tracing | undefined): WorkflowClientInterceptor[] {
  if (!tracing) return [];
  const { OpenTelemetryWorkflowClientInterceptor } =
    require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry');
  return [new OpenTelemetryWorkflowClientInterceptor()];
}

/** The activities' interceptors: a RunActivity span in the trace of the workflow that scheduled it. None when tracing is off. */
export function activityInterceptors(tracing: Tracing | undefined): NonNullable<WorkerInterceptors['activity']> {
  if (!tracing) return [];
  const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } =
    require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry');
  return [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })];
}

/**
 * The sink through which the bundle's workflow interceptors hand over their spans
 * (src/telemetry/workflow-interceptors.ts). Every worker registers it, also a replaying one:
 * the interceptors are in every bundle, and a call to an unregistered sink is logged as an error.
 * Tracing off, the spans are dropped.
 */
export function workflowTracingSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter: {
      export: {
        fn: tracing ? (info, spans) => spans.forEach((span) => tracing.spanProcessor.onEnd(workflowSpan(span, info, tracing))) : () => undefined,
      },
    },
  };
}

/**
 * A span from the sandbox, as the SDK of this process exports it. The interceptors package makes
 * them with OpenTelemetry 1.x (parentSpanId, instrumentationLibrary) and its own
 * makeWorkflowExporter merges the whole WorkflowInfo into the attributes; this process runs 2.x,
 * so the span is rebuilt here, with the workflow's ids and type only.
 */
function workflowSpan(span: SerializableSpan, info: WorkflowInfo, tracing: Tracing): ReadableSpan {
  const { traceState: _traceState, ...context } = span.spanContext;
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => context,
    parentSpanContext: span.parentSpanId ? { traceId: context.traceId, spanId: span.parentSpanId, traceFlags: context.traceFlags, isRemote: false } : undefined,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: {
      ...scrubAttributes(span.attributes),
      temporalWorkflowId: info.workflowId,
      run_id: info.runId,
      temporalWorkflowType: info.workflowType,
      temporalTaskQueue: info.taskQueue,
    },
    links: span.links,
    events: span.events,
    duration: span.duration,
    ended: span.ended,
    resource: tracing.resource,
    instrumentationScope: span.instrumentationLibrary,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}
