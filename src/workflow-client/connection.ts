import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { Config } from '../config';

export type TemporalConfig = Config['temporal'];

/** What every connection to Temporal is opened with: the clients' and the worker's native one. */
export function connectionOptions(temporal: TemporalConfig): Pick<ConnectionOptions, 'address'> {
  return { address: temporal.address };
}

export interface TemporalClient {
  client: Client;
  connection: Connection;
}

/**
 * A client on the configured namespace, for the ingress, the ops CLI and the worker's activities.
 * `lazy` connects at the first call instead of now, so the process comes up while Temporal is down.
 */
export async function connectClient(
  temporal: TemporalConfig,
  options: { lazy?: boolean; connectTimeout?: number } = {},
): Promise<TemporalClient> {
  const connectionOpts: ConnectionOptions = {
    ...connectionOptions(temporal),
    ...(options.connectTimeout !== undefined ? { connectTimeout: options.connectTimeout } : {}),
  };
  const connection = options.lazy ? Connection.lazy(connectionOpts) : await Connection.connect(connectionOpts);
  return { client: new Client({ connection, namespace: temporal.namespace }), connection };
}
