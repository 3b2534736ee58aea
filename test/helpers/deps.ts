import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../../activities';
import type { Models } from '../../src/db/models';
import { buildActivityDeps } from '../../src/worker/activity-deps';
import { DEFAULT_SLACK_APP } from '../../src/sandbox/slack';

export const TEST_KEY = Buffer.alloc(32, 1);
export const CLIENT_ID = 'sandbox-client-id';
export const CLIENT_SECRET = 'sandbox-client-secret';
export const BOT_TOKEN = 'xoxb-sandbox';
export const REDIRECT_URI = 'http://127.0.0.1:3999/auth/jobber/callback';

/** The activities' real dependencies, pointed at the Jobber sandbox and the Slack stand-in over HTTP. */
export function buildDeps(options: {
  models: Models;
  jobberUrl?: string;
  slackUrl?: string;
  temporal?: Client;
  alertChannel?: string;
  sleep?: (ms: number) => Promise<void>;
}): ActivityDeps {
  const config = {
    publicUrl: new URL(REDIRECT_URI).origin,
    jobber: { apiUrl: options.jobberUrl ?? 'http://127.0.0.1:9/api', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, graphqlVersion: '2025-04-16' },
    slack: {
      botToken: BOT_TOKEN,
      signingSecret: 'unused-by-activities',
      apiUrl: options.slackUrl ?? 'http://127.0.0.1:9/api/',
      alertChannel: options.alertChannel ?? 'C0ALERTS',
      // The stand-in's app, as the ingress has it: the installation workflow refreshes and uninstalls with it.
      app: { clientId: DEFAULT_SLACK_APP.clientId, clientSecret: DEFAULT_SLACK_APP.clientSecret },
    },
    tokenEncryptionKey: TEST_KEY,
    tokenEncryptionPreviousKeys: [],
  };
  // A request the sandbox holds fails its attempt after 2 s, not the product's 15: within a test's time.
  return buildActivityDeps(config, { models: options.models, temporal: options.temporal, jobber: { timeoutMs: 2000, sleep: options.sleep } });
}
