import http from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import {
  execute,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLFormattedError,
} from 'graphql';
import { queryCost, type CostInput } from './cost';
import type { GraphQLRequestRecord, SandboxDeps } from './deps';
import { sleep } from './http';
import { DISCONNECTED_MESSAGE } from './oauth';
import type { GraphQLContext } from './resolvers';

/** The request log keeps this many entries (oldest dropped) so a long local run stays small. */
const MAX_LOGGED_REQUESTS = 10_000;

interface Body {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

function tryParse(query: string): { document?: DocumentNode; error?: GraphQLError } {
  try {
    return { document: parse(query) };
  } catch (err) {
    return { error: err instanceof GraphQLError ? err : new GraphQLError(String(err)) };
  }
}

function soleOperationName(document: DocumentNode | undefined): string | null {
  const ops = document?.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION) ?? [];
  return ops.length === 1 && ops[0]!.kind === Kind.OPERATION_DEFINITION ? (ops[0]!.name?.value ?? null) : null;
}

/** POST /api/graphql: version header, bearer JWT, request limit, cost throttle, then execution. */
export function registerGraphQLRoute(router: Router, deps: SandboxDeps): void {
  router.post('/api/graphql', async (ctx) => {
    const entry: GraphQLRequestRecord = {
      id: 0,
      at: deps.clock.now().toISOString(),
      accountId: null,
      operationName: null,
      status: 200,
      outcome: 'ok',
      requestedQueryCost: null,
      actualQueryCost: null,
      version: ctx.get('x-jobber-graphql-version') || null,
    };
    try {
      await handle(ctx, deps, entry);
    } finally {
      entry.status = ctx.respond === false ? 0 : ctx.status;
      entry.id = (deps.requests.at(-1)?.id ?? 0) + 1;
      deps.requests.push(entry);
      if (deps.requests.length > MAX_LOGGED_REQUESTS) deps.requests.shift();
    }
  });
}

function reply(ctx: Koa.Context, entry: GraphQLRequestRecord, status: number, outcome: GraphQLRequestRecord['outcome'], body: unknown): void {
  ctx.status = status;
  ctx.body = body;
  entry.outcome = outcome;
}

async function handle(ctx: Koa.Context, deps: SandboxDeps, entry: GraphQLRequestRecord): Promise<void> {
  if (!ctx.is('application/json')) {
    return reply(ctx, entry, 415, 'bad_request', { message: 'Content-Type must be application/json' });
  }
  if (!entry.version) {
    return reply(ctx, entry, 400, 'bad_request', {
      message: 'Missing X-JOBBER-GRAPHQL-VERSION header: send the API version as YYYY-MM-DD, e.g. 2025-04-16',
    });
  }
  const body = (ctx.request.body ?? {}) as Body;
  if (typeof body !== 'object' || Array.isArray(body) || typeof body.query !== 'string') {
    return reply(ctx, entry, 400, 'bad_request', { message: 'Body must be a JSON object with a "query" string' });
  }
  const variables = body.variables && typeof body.variables === 'object' ? (body.variables as Record<string, unknown>) : {};
  const parsed = tryParse(body.query);
  entry.operationName = typeof body.operationName === 'string' ? body.operationName : soleOperationName(parsed.document);
  entry.variables = variables;

  const auth = await deps.oauth.verifyAccessToken(ctx.get('authorization') || undefined);
  if (!auth.ok) {
    if (auth.reason === 'disconnected') return reply(ctx, entry, 401, 'disconnected', { message: DISCONNECTED_MESSAGE });
    if (auth.reason === 'expired') {
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token", error_description="The access token expired"');
      return reply(ctx, entry, 401, 'unauthorized', { message: 'Unauthorized', reason: 'Access token expired' });
    }
    return reply(ctx, entry, 401, 'unauthorized', { message: 'Unauthorized' });
  }
  const accountId = deps.store.enc('Account', auth.accountId);
  entry.accountId = accountId;
  const key = `${accountId}:${deps.oauth.appId}`;
  const version = entry.version;
  const extensions = (requested: number, actual: number) => ({
    cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: deps.buckets.status(key) },
    versioning: { version },
  });

  const fault = deps.faults.take('graphql', { accountId, operationName: entry.operationName });
  if (fault?.delayMs) await sleep(fault.delayMs);
  if (fault?.drop) {
    entry.outcome = 'dropped';
    ctx.req.socket.destroy();
    ctx.respond = false;
    return;
  }
  if (fault?.status) {
    if (fault.status === 429) ctx.set('Retry-After', String(fault.retryAfterSeconds ?? 10));
    if (fault.status >= 502 && fault.status <= 504) {
      ctx.type = 'html';
      return reply(ctx, entry, fault.status, 'fault', `<html><body><h1>${fault.status} ${http.STATUS_CODES[fault.status]}</h1></body></html>`);
    }
    const message = fault.status === 401 ? 'Unauthorized' : (http.STATUS_CODES[fault.status] ?? 'Error');
    return reply(ctx, entry, fault.status, 'fault', { message });
  }

  const limit = deps.limiter.hit(key);
  if (!limit.allowed) {
    ctx.set('Retry-After', String(limit.retryAfterSeconds));
    return reply(ctx, entry, 429, 'rate_limited', { message: 'Too Many Requests' });
  }

  const errorsOnly = (errors: readonly GraphQLError[] | GraphQLFormattedError[]) => {
    entry.errors = errors.map((e) => e.message);
    entry.requestedQueryCost = 0;
    entry.actualQueryCost = 0;
    return reply(ctx, entry, 200, 'errors', { errors: errors.map((e) => (e instanceof GraphQLError ? e.toJSON() : e)), extensions: extensions(0, 0) });
  };
  if (!parsed.document) return errorsOnly([parsed.error!]);
  const document = parsed.document;
  const validationErrors = validate(deps.schema, document);
  if (validationErrors.length) return errorsOnly(validationErrors);
  const operationName = typeof body.operationName === 'string' ? body.operationName : undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation) {
    return errorsOnly([
      new GraphQLError(operationName ? `Unknown operation named "${operationName}".` : 'Must provide operation name if query contains multiple operations.'),
    ]);
  }
  const coerced = getVariableValues(deps.schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors) return errorsOnly(coerced.errors);

  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const costInput: CostInput = { schema: deps.schema, operation, fragments, variables: coerced.coerced };
  let requested: number;
  try {
    requested = queryCost(costInput);
  } catch (err) {
    return errorsOnly([err instanceof GraphQLError ? err : new GraphQLError(String(err))]);
  }
  entry.requestedQueryCost = requested;

  if (fault?.throttle || !deps.buckets.canAfford(key, requested)) {
    entry.actualQueryCost = 0;
    entry.errors = ['Throttled'];
    return reply(ctx, entry, 200, 'throttled', {
      errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }],
      extensions: extensions(requested, 0),
    });
  }

  const context: GraphQLContext = {
    store: deps.store,
    accountId: auth.accountId,
    userId: auth.userId,
    app: deps.application,
    disconnect: () => {
      deps.disconnect(auth.accountId, 'appDisconnect mutation');
    },
  };
  const result = await execute({ schema: deps.schema, document, operationName, variableValues: variables, contextValue: context });
  // Plain lists are priced at one item up front, so real counts could exceed the estimate: cap it.
  const actual = result.data ? Math.min(requested, queryCost(costInput, result.data)) : 0;
  deps.buckets.take(key, actual);
  entry.actualQueryCost = actual;
  if (result.errors?.length) entry.errors = result.errors.map((e) => e.message);
  const payload: Record<string, unknown> = {};
  if (result.errors?.length) payload.errors = result.errors.map((e) => e.toJSON());
  payload.data = result.data ?? null;
  payload.extensions = extensions(requested, actual);
  reply(ctx, entry, 200, result.errors?.length ? 'errors' : 'ok', payload);
}
