import type { GraphQLSchema } from 'graphql';
import type { Logger } from '../../logger';
import type { SandboxClock } from './clock';
import type { CostBuckets, RequestLimiter } from './cost';
import type { FaultList } from './faults';
import type { DeliveryOptions } from './inputs';
import type { OAuthService } from './oauth';
import type { JobberStore } from './store';
import type { WebhookSender } from './webhooks';

/** One GraphQL request as the sandbox saw it (GET /admin/requests). */
export interface GraphQLRequestRecord {
  id: number;
  at: string;
  accountId: string | null;
  operationName: string | null;
  /** HTTP status of the answer. */
  status: number;
  outcome: 'ok' | 'errors' | 'throttled' | 'unauthorized' | 'disconnected' | 'rate_limited' | 'bad_request' | 'fault' | 'dropped';
  requestedQueryCost: number | null;
  actualQueryCost: number | null;
  version: string | null;
  variables?: Record<string, unknown>;
  errors?: string[];
}

/** What the sandbox's routes share. */
export interface SandboxDeps {
  store: JobberStore;
  oauth: OAuthService;
  webhooks: WebhookSender;
  faults: FaultList;
  clock: SandboxClock;
  logger: Logger;
  schema: GraphQLSchema;
  buckets: CostBuckets;
  limiter: RequestLimiter;
  requests: GraphQLRequestRecord[];
  application: { id: number; name: string; author: string };
  redirectUris?: string[];
  /** Revokes the account's tokens and sends APP_DISCONNECT; returns the webhook ids. */
  disconnect(accountId: number, detail: string, delivery?: DeliveryOptions): string[];
}
