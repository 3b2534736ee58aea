import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const VERSION = '2025-04-16';

export interface GqlResponse {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
    extensions?: {
      cost: {
        requestedQueryCost: number;
        actualQueryCost: number;
        throttleStatus: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number };
      };
      versioning: { version: string };
    };
    message?: string;
    reason?: string;
  };
}

/** One GraphQL call the way the service makes it. */
export async function gql(
  apiUrl: string,
  token: string | undefined,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = { 'X-JOBBER-GRAPHQL-VERSION': VERSION },
): Promise<GqlResponse> {
  const response = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('json');
  return { status: response.status, headers: response.headers, body: json && text ? JSON.parse(text) : {} };
}

/** The admin API, JSON in and out. */
export async function admin<T = unknown>(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A token request; `body` is the JSON answer, or empty when the answer is not JSON (a gateway's page). */
export async function tokenRequest(
  apiUrl: string,
  params: Record<string, string>,
): Promise<{ status: number; body: Record<string, string>; text: string; headers: Headers }> {
  const response = await fetch(`${apiUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('application/json');
  return { status: response.status, body: (json ? JSON.parse(text) : {}) as Record<string, string>, text, headers: response.headers };
}

export interface ReceivedWebhook {
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  /** Date.now() when the body had arrived. */
  at: number;
}

/** An answer the receiver gives: a status, optionally with headers (such as Retry-After). */
export type ReceiverAnswer = number | { status: number; headers?: Record<string, string> };

/** A webhook receiver that keeps raw bodies and answers with the statuses it is told (then 200). */
export async function startReceiver() {
  const received: ReceivedWebhook[] = [];
  const statuses: ReceiverAnswer[] = [];
  let waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks), at: Date.now() });
      const answer = statuses.shift() ?? 200;
      res.statusCode = typeof answer === 'number' ? answer : answer.status;
      for (const [name, value] of Object.entries(typeof answer === 'number' ? {} : (answer.headers ?? {}))) res.setHeader(name, value);
      res.end();
      const pending = waiters;
      waiters = [];
      pending.forEach((w) => w());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/jobber`;
  return {
    url,
    received,
    /** Answer the next requests with these statuses. */
    respondWith: (...answers: ReceiverAnswer[]) => statuses.push(...answers),
    async waitFor(count: number): Promise<ReceivedWebhook[]> {
      while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A clock tests move by hand. */
export function manualClock(start = '2025-01-15T12:00:00.000Z') {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
  };
}
