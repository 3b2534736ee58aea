import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Resource } from '@opentelemetry/resources';
import type { Logger } from '../logger';

/** A running tracer: what the Temporal interceptors (temporal.ts) and the process's shutdown need. */
export interface Tracing {
  /** Where the workflows' spans go (they leave the sandbox through a sink): the same pipeline as the process's own. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Exports what is buffered and stops; spans ended after it are dropped. */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set (config.tracing), and does
 * nothing at all otherwise: no SDK, no instrumentation, not even its modules are loaded.
 *
 * Call it before anything loads the modules it instruments (http, koa, mongodb): the
 * instrumentations patch a module as it is required. The entry points (src/bin) call it first
 * and import the rest after.
 *
 * Spans go over OTLP/HTTP (JSON) to the endpoint; the exporter reads the usual OTEL_EXPORTER_OTLP_*
 * variables (headers, timeout) and OTEL_BSP_* tune the batching. What a span may carry is
 * narrowed on the way out (scrubbed): no query strings, no non-scalar attributes.
 */
export function startTracing(tracing: { endpoint: string } | undefined, options: { serviceName: string; logger: Logger }): Tracing | undefined {
  if (!tracing) return undefined;
  // Loaded only now: off, none of this is required.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  const { KoaInstrumentation, KoaLayerType } = require('@opentelemetry/instrumentation-koa') as typeof import('@opentelemetry/instrumentation-koa');
  const { MongoDBInstrumentation } = require('@opentelemetry/instrumentation-mongodb') as typeof import('@opentelemetry/instrumentation-mongodb');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME || options.serviceName }));
  const spanProcessor = new BatchSpanProcessor(new ScrubbingExporter(new OTLPTraceExporter({ url: tracesUrl(tracing.endpoint) })));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The global tracer, W3C trace context propagation and async context (AsyncLocalStorage).
  provider.register();
  const probes = new Set(['/healthz', '/readyz', '/metrics']);
  const uninstrument = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Incoming requests (the ingress) and outgoing ones through node:http (Slack's client, axios).
      // No header is recorded: Authorization never reaches a span.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => probes.has((req.url ?? '').split('?')[0]!) }),
      // fetch: the Jobber GraphQL client (graphql-request) and OAuth token requests.
      new UndiciInstrumentation(),
      // Routes as span names; the frame's own middleware would only add noise.
      new KoaInstrumentation({ ignoreLayersType: [KoaLayerType.MIDDLEWARE] }),
      // Commands with their values replaced by "?" (enhancedDatabaseReporting is off).
      new MongoDBInstrumentation({ enhancedDatabaseReporting: false }),
    ],
  });
  options.logger.info({ serviceName: options.serviceName }, 'tracing on (OTEL_EXPORTER_OTLP_ENDPOINT)');
  return {
    spanProcessor,
    resource,
    async shutdown() {
      uninstrument();
      await provider.shutdown();
    },
  };
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base: traces go to <base>/v1/traces, as the OTLP spec has it. */
function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/** Attributes that hold a URL or its query: the query is dropped (an OAuth callback's code and state). */
const URL_ATTRIBUTES = new Set(['url.full', 'http.url', 'http.target', 'url.query']);

function scrubValue(key: string, value: AttributeValue | undefined): AttributeValue | undefined {
  if (value === undefined || value === null) return undefined;
  if (key === 'url.query') return undefined;
  if (URL_ATTRIBUTES.has(key) && typeof value === 'string') return value.split('?')[0];
  const scalar = (v: unknown) => v === null || v === undefined || ['string', 'number', 'boolean'].includes(typeof v);
  if (Array.isArray(value)) return value.every(scalar) ? value : undefined;
  return scalar(value) ? value : undefined;
}

/** Only scalar attributes (and arrays of them), with URLs cut at the query. */
export function scrubAttributes(attributes: Attributes): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    const kept = scrubValue(key, value);
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}

/** Hands the exporter copies of the spans whose attributes are scrubbed (scrubAttributes). */
class ScrubbingExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: Parameters<SpanExporter['export']>[1]): void {
    this.inner.export(
      spans.map((span): ReadableSpan => {
        const context = span.spanContext();
        return {
          name: span.name,
          kind: span.kind,
          spanContext: () => context,
          parentSpanContext: span.parentSpanContext,
          startTime: span.startTime,
          endTime: span.endTime,
          status: span.status,
          attributes: scrubAttributes(span.attributes),
          links: span.links,
          events: span.events.map((event) => ({ ...event, attributes: event.attributes && scrubAttributes(event.attributes) })),
          duration: span.duration,
          ended: span.ended,
          resource: span.resource,
          instrumentationScope: span.instrumentationScope,
          droppedAttributesCount: span.droppedAttributesCount,
          droppedEventsCount: span.droppedEventsCount,
          droppedLinksCount: span.droppedLinksCount,
        };
      }),
      resultCallback,
    );
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
