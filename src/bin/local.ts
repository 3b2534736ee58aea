import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { LOCAL_SLACK_SIGNING_SECRET, startStack } from '../dev/stack';
import { startJobberSandbox } from '../sandbox/jobber';
import { startSlackStandIn } from '../sandbox/slack';
import { startWorkerProcess } from '../worker/start';
import { startIngress } from '../ingress/server';
import { onShutdown } from './shutdown';

const ROOT = path.resolve(__dirname, '../..');

/** Local secrets are made once and kept in .data/ (git-ignored), so stored tokens stay readable. */
function localSecrets(dir: string): { TOKEN_ENCRYPTION_KEY: string; SESSION_SECRET: string } {
  const file = path.join(dir, 'local-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const secrets = { TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'), SESSION_SECRET: randomBytes(32).toString('base64url') };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

/**
 * Everything on embedded defaults in one process: Temporal dev server with its Web UI, FerretDB,
 * the Jobber sandbox, the Slack stand-in, the ingress and the worker. Ctrl-C stops all of it.
 */
async function main() {
  const logger = createLogger({ name: 'local' });
  const dataDir = process.env.LOCAL_DATA_DIR || path.join(ROOT, '.data', 'local');
  mkdirSync(dataDir, { recursive: true });
  const port = Number(process.env.PORT || 3000);
  const say = (m: string) => logger.info(m);

  const stack = await startStack({
    dataDir,
    ui: true,
    temporalPort: Number(process.env.LOCAL_TEMPORAL_PORT || 7233),
    uiPort: Number(process.env.LOCAL_TEMPORAL_UI_PORT || 8233),
    mongoPort: Number(process.env.LOCAL_MONGO_PORT || 27018),
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    mongoUrl: process.env.MONGO_URL || undefined,
    log: say,
  });
  const stops: (() => Promise<void>)[] = [() => stack.stop()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => logger.error({ err }, 'stop failed'));
  };

  try {
    const slack = await startSlackStandIn({
      port: Number(process.env.SLACK_STANDIN_PORT || 4020),
      signingSecret: LOCAL_SLACK_SIGNING_SECRET,
      eventsUrl: `http://127.0.0.1:${port}/slack/events`,
    });
    // A business's own workspace, for "Add to Slack" on the Manage App page (npm run demo installs it).
    slack.standIn.addTeam({ id: 'T0DEMO', name: 'Demo Lawn Care Slack' });
    stops.push(() => slack.close());
    const jobber = await startJobberSandbox({
      port: Number(process.env.JOBBER_SANDBOX_PORT || 4010),
      webhookUrl: `http://127.0.0.1:${port}/webhooks/jobber`,
    });
    stops.push(() => jobber.close());

    const config = loadConfig({
      PUBLIC_URL: `http://localhost:${port}`,
      JOBBER_CLIENT_ID: jobber.sandbox.clientId,
      JOBBER_CLIENT_SECRET: jobber.sandbox.clientSecret,
      JOBBER_API_URL: jobber.url,
      SLACK_BOT_TOKEN: slack.standIn.botToken,
      SLACK_SIGNING_SECRET: LOCAL_SLACK_SIGNING_SECRET,
      SLACK_CLIENT_ID: slack.standIn.slackApp.clientId,
      SLACK_CLIENT_SECRET: slack.standIn.slackApp.clientSecret,
      SLACK_API_URL: slack.url,
      SLACK_ALERT_CHANNEL: 'C0LOCALALERTS',
      ...localSecrets(dataDir),
      ...process.env,
      PORT: String(port),
      TEMPORAL_ADDRESS: stack.temporalAddress,
      MONGO_URL: stack.mongoUrl,
    });

    const worker = await startWorkerProcess(config, logger, { metricsBindAddress: `127.0.0.1:${process.env.METRICS_PORT || 9464}` });
    // Runs until stop() (Ctrl-C, below), which waits for it to end.
    void worker.run();
    stops.push(() => worker.stop());

    // One MongoDB connection for the worker's activities and the ingress in this one process.
    const ingress = await startIngress(config, logger, { mongo: worker.mongo, models: worker.deps.models });
    stops.push(() => ingress.close());

    process.stdout.write(
      [
        '',
        'Jobber Sync is running locally:',
        `  Manage App page      http://localhost:${port}/manage   (Connect Jobber → the sandbox's consent page)`,
        `  Temporal Web UI      ${stack.temporalUiUrl ?? '(external Temporal: use its UI)'}`,
        `  Ingress health       http://localhost:${port}/healthz`,
        `  Jobber sandbox       ${jobber.url}  (admin API ${jobber.adminUrl}, see docs/SANDBOX.md)`,
        `  Slack stand-in       ${slack.url}  (posted messages: ${slack.adminUrl}/messages)`,
        `  Try it               npm run demo   (connects a sandbox account and sends webhooks)`,
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    onShutdown(logger, stopAll);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
