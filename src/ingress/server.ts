import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type Router from '@koa/router';
import type mongoose from 'mongoose';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createApp } from './app';
import { IngressMetrics } from './metrics';

export interface RunningIngress {
  server: Server;
  client: Client;
  /** Stops accepting, lets in-flight requests finish, then closes the Temporal connection. */
  close(): Promise<void>;
}

/**
 * Listens on config.port. The Temporal connection is lazy: the ingress comes up even while
 * Temporal is down and answers webhooks 503 until it is back, so Jobber retries and nothing is lost.
 */
export async function startIngress(
  config: Config,
  logger: Logger,
  options: { mongo?: mongoose.Connection; routers?: (client: Client) => Router[] } = {},
): Promise<RunningIngress> {
  const connection = Connection.lazy({ address: config.temporal.address, connectTimeout: 2000 });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const metrics = new IngressMetrics({ processMetrics: true });
  const app = createApp({
    temporal: { client, taskQueue: config.temporal.taskQueue },
    jobberClientSecret: config.jobber.clientSecret,
    logger,
    metrics,
    routers: options.routers?.(client),
    readiness: {
      temporal: () =>
        connection.withDeadline(Date.now() + 1000, async () => {
          await connection.workflowService.getSystemInfo({});
        }),
      ...(options.mongo
        ? {
            mongodb: async () => {
              await options.mongo!.db!.admin().ping();
            },
          }
        : {}),
    },
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, () => resolve(s));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 5000;
  logger.info({ port: config.port }, 'ingress listening');
  return {
    server,
    client,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await connection.close();
    },
  };
}
