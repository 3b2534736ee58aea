import { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../../activities';
import { JobberOAuth } from '../../src/accounts/oauth';
import { TokenStore } from '../../src/accounts/token-store';
import { TokenCipher } from '../../src/crypto/tokens';
import type { Models } from '../../src/db/models';
import { CostPacer, JobberGraphQL } from '../../src/jobber/client';

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
  const jobberUrl = options.jobberUrl ?? 'http://127.0.0.1:9/api';
  return {
    models: options.models,
    tokens: new TokenStore(options.models, new TokenCipher(TEST_KEY)),
    jobber: new JobberGraphQL({ apiUrl: jobberUrl, version: '2025-04-16', pacer: new CostPacer(), timeoutMs: 2000, sleep: options.sleep }),
    oauth: new JobberOAuth({ apiUrl: jobberUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI }),
    slack: new WebClient(BOT_TOKEN, {
      slackApiUrl: options.slackUrl ?? 'http://127.0.0.1:9/api/',
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
    }),
    alertChannel: options.alertChannel ?? 'C0ALERTS',
    temporal: options.temporal,
  };
}
