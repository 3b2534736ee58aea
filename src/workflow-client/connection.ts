import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import type { Config } from '../config';
import { temporalConnectFailure, temporalConnectionOptions } from './connection-options';

export type TemporalConfig = Config['temporal'];

export interface TemporalClient {
  client: Client;
  connection: Connection;
}

/**
 * A client on the configured namespace, for the ingress, the ops CLI and the worker's activities.
 * `lazy` connects at the first call instead of now, so the process comes up while Temporal is down.
 * A failed connect says which TEMPORAL_* variable to check.
 */
export async function connectClient(
  temporal: TemporalConfig,
  options: { lazy?: boolean; connectTimeout?: number; /** Tracing's (src/telemetry/temporal.ts), when on. */ interceptors?: WorkflowClientInterceptor[] } = {},
): Promise<TemporalClient> {
  const connectionOpts = temporalConnectionOptions(temporal, options.connectTimeout);
  const connection = options.lazy ? Connection.lazy(connectionOpts) : await Connection.connect(connectionOpts).catch(temporalConnectFailure(temporal));
  return { client: new Client({ connection, namespace: temporal.namespace, interceptors: { workflow: options.interceptors ?? [] } }), connection };
}
