import type { Client } from '@temporalio/client';
import pino from 'pino';
import { createApp } from '../../src/ingress/app';
import { signJobberBody } from '../../src/ingress/jobber-webhook';
import { IngressMetrics } from '../../src/ingress/metrics';
import type { Logger } from '../../src/logger';

export const SECRET = 'sandbox-client-secret';

/** Captures log lines so tests can check what was (not) logged. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

export function testApp(client: Client, taskQueue: string, extra: Partial<Parameters<typeof createApp>[0]> = {}) {
  const { logger, lines } = memoryLogger();
  const metrics = new IngressMetrics();
  const app = createApp({ temporal: { client, taskQueue }, jobberClientSecret: SECRET, logger, metrics, ...extra });
  return { app, lines, metrics };
}

export function webhookBody(
  fields: { topic: string; accountId: string; itemId: string; occurredAt: string },
  spelling: 'occurredAt' | 'occuredAt' = 'occurredAt',
): string {
  const { occurredAt, ...rest } = fields;
  return JSON.stringify({ data: { webHookEvent: { ...rest, appId: 'app-1', [spelling]: occurredAt } } });
}

export const sign = (body: string, secret = SECRET): string => signJobberBody(body, secret);

/** The Manage App page's Disconnect button: reads the page's form token and posts it. */
export async function disconnectFromManagePage(ingressUrl: string, cookies: string): Promise<Response> {
  const page = await (await fetch(`${ingressUrl}/manage`, { headers: { cookie: cookies } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error(`no Disconnect form on the Manage App page:\n${page.slice(0, 500)}`);
  return fetch(`${ingressUrl}/disconnect`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf }).toString(),
  });
}
