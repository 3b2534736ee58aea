/**
 * `npm run sandbox`: the Jobber sandbox and the Slack stand-in on fixed ports, for the local run
 * and for poking at by hand (docs/SANDBOX.md). Ctrl-C stops both.
 */
import { createLogger } from '../logger';
import { startJobberSandbox } from '../sandbox/jobber';
import { startSlackStandIn } from '../sandbox/slack';

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new Error(`${name} must be a port number (0-65535), got ${JSON.stringify(raw)}`);
  }
  return value;
}

const optional = (name: string): string | undefined => process.env[name] || undefined;

async function main(): Promise<void> {
  const logger = createLogger({ name: 'sandbox' });
  const host = optional('SANDBOX_HOST') ?? '127.0.0.1';
  const jobber = await startJobberSandbox({
    host,
    port: port('JOBBER_SANDBOX_PORT', 4010),
    // The same credentials as the service, so its OAuth and webhook checks pass unchanged.
    clientId: optional('JOBBER_CLIENT_ID'),
    clientSecret: optional('JOBBER_CLIENT_SECRET'),
    webhookUrl: optional('JOBBER_SANDBOX_WEBHOOK_URL'),
    logger: logger.child({ component: 'jobber-sandbox' }),
  });
  const slack = await startSlackStandIn({
    host,
    port: port('SLACK_STANDIN_PORT', 4020),
    botToken: optional('SLACK_BOT_TOKEN'),
    logger: logger.child({ component: 'slack-standin' }),
  });

  process.stdout.write(
    [
      `Jobber sandbox:   ${jobber.url}   (JOBBER_API_URL)`,
      `  GraphQL         ${jobber.url}/graphql`,
      `  OAuth authorize ${jobber.url}/oauth/authorize`,
      `  admin API       ${jobber.adminUrl}`,
      `  webhooks to     ${jobber.sandbox.webhooks.webhookUrl ?? '(none: set JOBBER_SANDBOX_WEBHOOK_URL or PUT /admin/webhooks/url)'}`,
      `Slack stand-in:   ${slack.url}   (SLACK_API_URL)`,
      `  admin API       ${slack.adminUrl}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping sandbox');
    await Promise.allSettled([jobber.close(), slack.close()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
