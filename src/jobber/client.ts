import { ClientError, GraphQLClient } from 'graphql-request';

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface QueryCost {
  requestedQueryCost: number;
  actualQueryCost: number;
  throttleStatus: ThrottleStatus;
}

export type JobberErrorKind =
  | 'network' // no answer, timeout, connection refused
  | 'server' // HTTP 5xx or a body that is not GraphQL
  | 'rate_limited' // HTTP 429: request count limit
  | 'throttled' // query cost bucket empty (THROTTLED)
  | 'too_expensive' // the query costs more than the whole bucket: it can never run as is
  | 'unauthorized' // HTTP 401: token expired or invalid
  | 'disconnected' // the user disconnected the app: the token must be deleted
  | 'invalid_query' // GraphQL validation errors: retrying cannot help
  | 'graphql'; // other errors in the GraphQL answer

/** A classified failure of one Jobber request; `retryAfterMs` is set when the wait is known. */
export class JobberApiError extends Error {
  constructor(
    readonly kind: JobberErrorKind,
    message: string,
    readonly details: { status?: number; retryAfterMs?: number; cost?: QueryCost } = {},
  ) {
    super(message);
    this.name = 'JobberApiError';
  }
}

const DISCONNECTED = /disconnected this app/i;

/** How long until the bucket holds `cost` points again. */
export function throttleDelayMs(cost: number, status: ThrottleStatus): number {
  const deficit = cost - status.currentlyAvailable;
  if (deficit <= 0 || status.restoreRate <= 0) return 0;
  return Math.ceil((deficit / status.restoreRate) * 1000);
}

/**
 * Paces requests per account from the last throttleStatus Jobber reported, so a burst for one
 * account waits for its bucket to refill instead of tripping THROTTLED again and again. It is
 * per process: several workers each keep their own view, and THROTTLED remains the backstop.
 */
export class CostPacer {
  private readonly state = new Map<string, { status: ThrottleStatus; at: number; reserved: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Milliseconds to wait before spending `cost` points, reserving them for the caller. */
  reserve(accountId: string, cost: number): number {
    const s = this.state.get(accountId);
    if (!s) return 0;
    const elapsed = (this.now() - s.at) / 1000;
    const available = Math.min(s.status.maximumAvailable, s.status.currentlyAvailable + elapsed * s.status.restoreRate) - s.reserved;
    s.reserved += cost;
    return throttleDelayMs(cost, { ...s.status, currentlyAvailable: available });
  }

  release(accountId: string, cost: number): void {
    const s = this.state.get(accountId);
    if (s) s.reserved = Math.max(0, s.reserved - cost);
  }

  observe(accountId: string, status: ThrottleStatus): void {
    const reserved = this.state.get(accountId)?.reserved ?? 0;
    this.state.set(accountId, { status, at: this.now(), reserved });
  }
}

export interface JobberGraphQLOptions {
  /** Base URL, e.g. https://api.getjobber.com/api; GraphQL is at `${apiUrl}/graphql`. */
  apiUrl: string;
  version: string;
  timeoutMs?: number;
  pacer?: CostPacer;
  /** Told about every answer: for metrics. */
  onResponse?: (info: { operation: string; status: number; cost?: QueryCost; error?: JobberErrorKind }) => void;
  /** Told how long a request waited for the cost bucket: for metrics. */
  onPacingWait?: (ms: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

interface GraphQLBody {
  errors?: { message: string; extensions?: { code?: string } }[];
  extensions?: { cost?: QueryCost };
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Turns whatever a request threw into a JobberApiError saying what can be done about it. */
export function classifyError(err: unknown): JobberApiError {
  if (err instanceof JobberApiError) return err;
  if (err instanceof ClientError) {
    const { status } = err.response;
    const body = err.response as unknown as GraphQLBody & { body?: string; message?: string; error?: string };
    const cost = body.extensions?.cost;
    const text = [body.body, body.message, body.error, ...(body.errors ?? []).map((e) => e.message)].filter(Boolean).join('; ');
    if (status === 401 || status === 403) {
      return new JobberApiError(DISCONNECTED.test(text) ? 'disconnected' : 'unauthorized', `Jobber answered ${status}: ${text || 'unauthorized'}`, { status });
    }
    if (status === 429) {
      return new JobberApiError('rate_limited', 'Jobber request limit reached (HTTP 429)', { status, retryAfterMs: retryAfterMs(err.response.headers) });
    }
    if (status >= 500) return new JobberApiError('server', `Jobber answered HTTP ${status}`, { status });
    const errors = body.errors ?? [];
    if (errors.some((e) => e.extensions?.code === 'THROTTLED')) {
      if (cost && cost.requestedQueryCost > cost.throttleStatus.maximumAvailable) {
        return new JobberApiError(
          'too_expensive',
          `query costs ${cost.requestedQueryCost} points, more than the ${cost.throttleStatus.maximumAvailable} the bucket holds`,
          { status, cost },
        );
      }
      return new JobberApiError('throttled', 'Jobber query cost throttled', {
        status,
        cost,
        retryAfterMs: cost ? Math.max(1000, throttleDelayMs(cost.requestedQueryCost, cost.throttleStatus)) : undefined,
      });
    }
    if (errors.some((e) => DISCONNECTED.test(e.message))) return new JobberApiError('disconnected', errors[0]!.message, { status });
    if (status >= 400) return new JobberApiError('invalid_query', `Jobber rejected the request (HTTP ${status}): ${text}`, { status });
    const validation = errors.some(
      (e) => /field|argument|variable|fragment|syntax|cannot query/i.test(e.message) || e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED',
    );
    return new JobberApiError(validation ? 'invalid_query' : 'graphql', `Jobber GraphQL error: ${text}`, { status, cost });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new JobberApiError('network', `Jobber did not answer in time: ${message}`);
  }
  if (err instanceof SyntaxError || /invalid json|unexpected token|content-type/i.test(message)) {
    return new JobberApiError('server', `Jobber sent an answer that is not GraphQL: ${message}`);
  }
  return new JobberApiError('network', `Could not reach Jobber: ${message}`);
}

const operationName = (document: string): string => /(?:query|mutation)\s+(\w+)/.exec(document)?.[1] ?? 'anonymous';

/** Jobber's GraphQL API through graphql-request: version header, cost tracking, pacing, errors classified. */
export class JobberGraphQL {
  private readonly url: string;
  private readonly pacer: CostPacer;
  /** The last requested cost per operation, with the page size (`first`) it was for. */
  private readonly expectedCost = new Map<string, { cost: number; first?: number }>();
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: JobberGraphQLOptions) {
    this.url = `${options.apiUrl.replace(/\/$/, '')}/graphql`;
    this.pacer = options.pacer ?? new CostPacer();
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async request<T>(
    auth: { accountId: string; accessToken: string },
    document: string,
    variables?: Record<string, unknown>,
  ): Promise<{ data: T; cost?: QueryCost }> {
    const operation = operationName(document);
    // A page's cost grows with `first`: a backfill that grows its pages must reserve for the new size.
    const first = typeof variables?.first === 'number' ? variables.first : undefined;
    const last = this.expectedCost.get(operation);
    const expected = !last ? 50 : last.first && first ? Math.ceil((last.cost * first) / last.first) : last.cost;
    const wait = this.pacer.reserve(auth.accountId, expected);
    try {
      if (wait > 0) {
        this.options.onPacingWait?.(wait);
        await this.sleep(wait);
      }
      const client = new GraphQLClient(this.url, {
        headers: {
          Authorization: `Bearer ${auth.accessToken}`,
          'X-JOBBER-GRAPHQL-VERSION': this.options.version,
        },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
        // Each document holds one operation, which names itself: the body needs no operationName,
        // and leaving it out spares graphql-request a parse of the document on every request.
        excludeOperationName: true,
      });
      try {
        const result = await client.rawRequest<T>(document, variables);
        const cost = (result.extensions as GraphQLBody['extensions'])?.cost;
        if (cost) {
          this.pacer.observe(auth.accountId, cost.throttleStatus);
          this.expectedCost.set(operation, { cost: cost.requestedQueryCost, first });
        }
        this.options.onResponse?.({ operation, status: result.status, cost });
        return { data: result.data, cost };
      } catch (err) {
        const classified = classifyError(err);
        if (classified.details.cost) {
          this.pacer.observe(auth.accountId, classified.details.cost.throttleStatus);
          this.expectedCost.set(operation, { cost: classified.details.cost.requestedQueryCost, first });
        }
        this.options.onResponse?.({ operation, status: classified.details.status ?? 0, cost: classified.details.cost, error: classified.kind });
        throw classified;
      }
    } finally {
      this.pacer.release(auth.accountId, expected);
    }
  }
}
